// deno-lint-ignore-file no-explicit-any
/// <reference lib="dom" />
/**
 * The claim page (`GET /c/{code}`), where the user starts: every state over a
 * real server, its live status, the phone apps' well-known files, the
 * extension page, and the page itself in one headless Chromium (screenshots
 * under `.data/screenshots/claim/`, axe-core, the extension hand-off).
 */
import assert from "node:assert/strict";
import axe from "axe-core";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { encode } from "uqr";
import { prepareResults, transitionLink } from "../lib/links.ts";
import { readNativeApps } from "../lib/native_apps.ts";
import { loadConfig } from "../lib/config.ts";
import {
  assertError,
  claim,
  createLinkViaApi,
  request,
  setLinkExpiry,
  startServer,
  type TestServer,
} from "./_harness.ts";

const TWO_OPS = {
  provider: "tmobile",
  operations: [{ type: "mobileBillingStatement:read" }, { type: "paymentMethod:read" }],
};
const UNKNOWN_CODE = "ZZZZZ-ZZZZ0";
const FINGERPRINT = Array.from(
  { length: 32 },
  (_, i) => (i * 7 % 256).toString(16).padStart(2, "0"),
)
  .join(":").toUpperCase();
const APPS_ENV = {
  PASSAGE_IOS_TEAM_ID: "A1B2C3D4E5",
  PASSAGE_IOS_BUNDLE_ID: "dev.passage.app",
  PASSAGE_IOS_APP_CLIP_BUNDLE_ID: "dev.passage.app.Clip",
  PASSAGE_IOS_APP_ID: "1234567890",
  PASSAGE_ANDROID_PACKAGE: "dev.passage.app",
  PASSAGE_ANDROID_SHA256_FINGERPRINTS: FINGERPRINT.toLowerCase(),
};

// ------------------------------------------------------------ helpers

/** Moves a claimed link on as the engine would, with `patch` (operations, error). */
async function advance(
  server: TestServer,
  linkId: string,
  to: "running" | "complete" | "failed",
  patch: Record<string, unknown> = {},
): Promise<void> {
  if (to === "running") {
    await transitionLink(server.services, linkId, "running", { patch });
    return;
  }
  await transitionLink(server.services, linkId, "running");
  await transitionLink(server.services, linkId, to, {
    patch: { completedAt: new Date().toISOString(), ...patch },
  });
}

/** A link in `state`, created through the API (and moved on directly in KV where only the engine could). */
async function linkIn(server: TestServer, state: string, body: unknown = TWO_OPS): Promise<any> {
  const link = await createLinkViaApi(server, body);
  if (state === "pending") return link;
  if (state === "expired") {
    await setLinkExpiry(server.kv, link.id);
    return link;
  }
  if (state === "cancelled") {
    assert.equal((await server.api(`/v1/links/${link.id}/cancel`, { method: "POST" })).status, 200);
    return link;
  }
  assert.equal((await claim(server, link.claimCode)).status, 200);
  if (state === "running") {
    await advance(server, link.id, "running", {
      operations: [
        { type: "mobileBillingStatement:read", status: "complete" },
        { type: "paymentMethod:read", status: "running" },
      ],
    });
  } else if (state === "complete") {
    const keep = await prepareResults(server.services, link.id, {
      "mobileBillingStatement:read": { amountDue: "142.50", currency: "USD" },
    }, 60_000);
    await transitionLink(server.services, link.id, "running");
    await transitionLink(server.services, link.id, "complete", {
      patch: {
        completedAt: new Date().toISOString(),
        operations: [
          { type: "mobileBillingStatement:read", status: "complete" },
          { type: "paymentMethod:read", status: "complete" },
        ],
      },
      extra: keep,
    });
  } else if (state === "failed") {
    await advance(server, link.id, "failed", {
      error: { code: "invalid_credentials", message: "The site said the password is wrong" },
      operations: [
        { type: "mobileBillingStatement:read", status: "failed" },
        { type: "paymentMethod:read", status: "skipped" },
      ],
    });
  }
  return link;
}

/** A Sessions API session in `state`. */
async function sessionIn(
  server: TestServer,
  state: "pending" | "active" | "ended",
  body: Record<string, unknown> = {},
): Promise<any> {
  const res = await server.api("/v1/sessions", { method: "POST", json: body });
  assert.equal(res.status, 201, res.text);
  if (state !== "pending") assert.equal((await claim(server, res.body.claimCode)).status, 200);
  if (state === "ended") {
    const end = await server.api(`/v1/sessions/${res.body.id}/end`, { method: "POST" });
    assert.equal(end.status, 200, end.text);
  }
  return res.body;
}

function pageUrl(server: TestServer, code: string): string {
  return `${server.url}/c/${code}`;
}

/** The module matrix an uqr SVG draws (`M{x},{y}h…` squares of 10 units, `border` modules). */
function svgModules(svg: string, border: number): boolean[][] {
  const view = svg.match(/viewBox="0 0 (\d+) (\d+)"/);
  assert.ok(view, "the SVG has a viewBox");
  const size = Number(view[1]) / 10 - 2 * border;
  const grid = Array.from({ length: size }, () => Array<boolean>(size).fill(false));
  for (const [, x, y] of svg.matchAll(/M(\d+),(\d+)h10v10h-10z/g)) {
    grid[Number(y) / 10 - border][Number(x) / 10 - border] = true;
  }
  return grid;
}

/** Whether the 7×7 finder pattern (ring, gap, 3×3 core) sits at `row`, `col`. */
function hasFinder(grid: boolean[][], row: number, col: number): boolean {
  for (let r = 0; r < 7; r++) {
    for (let c = 0; c < 7; c++) {
      const ring = r === 0 || r === 6 || c === 0 || c === 6;
      const core = r >= 2 && r <= 4 && c >= 2 && c <= 4;
      if (grid[row + r][col + c] !== (ring || core)) return false;
    }
  }
  return true;
}

// ------------------------------------------------------------ appName

Deno.test("POST /v1/links and /v1/sessions store appName, return it and the page says who asks", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server, { ...TWO_OPS, appName: "Acme Budget" });
  assert.equal(link.appName, "Acme Budget");
  assert.equal((await server.api(`/v1/links/${link.id}`)).body.appName, "Acme Budget");
  const page = await request(link.appClipUrl);
  assert.match(page.text, /<h1>Acme Budget wants to connect your T-Mobile account<\/h1>/);
  assert.match(page.text, /What Acme Budget will read from T-Mobile/);

  const session = await sessionIn(server, "pending", { appName: "Acme <Budget> & Co" });
  assert.equal(session.appName, "Acme <Budget> & Co");
  assert.equal((await server.api(`/v1/sessions/${session.id}`)).body.appName, "Acme <Budget> & Co");
  const sessionPage = await request(session.appClipUrl);
  assert.ok(
    sessionPage.text.includes("Acme &lt;Budget&gt; &amp; Co wants to open a browser session"),
  );
  assert.ok(!sessionPage.text.includes("<Budget>"), "the name is escaped");

  const plain = await createLinkViaApi(server);
  assert.equal(plain.appName, null, "no appName given: null");
});

Deno.test("appName must be 1 to 80 printable characters: 400 invalid_request otherwise", async () => {
  await using server = await startServer();
  for (const appName of ["", " ", "x".repeat(81), "Acme\nBank", "Acme\u202eknaB", 42]) {
    const link = await server.api("/v1/links", { method: "POST", json: { ...TWO_OPS, appName } });
    assertError(link, 400, "invalid_request", "appName");
    const session = await server.api("/v1/sessions", { method: "POST", json: { appName } });
    assertError(session, 400, "invalid_request", "appName");
  }
  assert.equal(
    (await createLinkViaApi(server, { ...TWO_OPS, appName: "x".repeat(80) })).appName.length,
    80,
  );
});

Deno.test("without appName the page names PASSAGE_APP_NAME, and without that says 'An app'", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  let page = await request(link.appClipUrl);
  assert.match(page.text, /<h1>An app wants to connect your T-Mobile account<\/h1>/);
  assert.match(page.text, /The app never sees them/);
  await using named = await startServer({
    appName: loadConfig({ PASSAGE_APP_NAME: "  Acme  " }).appName,
  });
  page = await request((await createLinkViaApi(named)).appClipUrl);
  assert.match(page.text, /<h1>Acme wants to connect your T-Mobile account<\/h1>/);
  assert.throws(() => loadConfig({ PASSAGE_APP_NAME: "x".repeat(81) }), /PASSAGE_APP_NAME/);
});

// ------------------------------------------------------------ states and statuses

Deno.test("every state of a link and a session has its own page and HTTP status", async () => {
  await using server = await startServer({ appName: "Acme" });
  const expected: Array<[string, Promise<any>, number, RegExp]> = [
    ["pending", linkIn(server, "pending"), 200, /Acme wants to connect your T-Mobile account/],
    ["claimed", linkIn(server, "claimed"), 200, /already been opened on a device/],
    ["running", linkIn(server, "running"), 200, /in use on a device right now/],
    ["complete", linkIn(server, "complete"), 410, /<h1>All done<\/h1>/],
    ["failed", linkIn(server, "failed"), 410, /T-Mobile did not accept the username or password/],
    ["expired", linkIn(server, "expired"), 410, /<h1>This link has expired<\/h1>/],
    ["cancelled", linkIn(server, "cancelled"), 410, /<h1>This link was cancelled<\/h1>/],
    ["session pending", sessionIn(server, "pending"), 200, /wants to open a browser session/],
    ["session active", sessionIn(server, "active"), 200, /<h1>A browser session is open<\/h1>/],
    ["session ended", sessionIn(server, "ended"), 410, /<h1>This session has ended<\/h1>/],
  ];
  const titles = new Set<string>();
  for (const [name, made, status, words] of expected) {
    const { claimCode } = await made;
    const res = await request(pageUrl(server, claimCode));
    assert.equal(res.status, status, `${name}: ${res.status}`);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/, name);
    assert.match(res.text, words, name);
    assert.match(res.text, /<html lang="en">/, name);
    assert.match(res.text, /<header>[\s\S]*<main id="main">[\s\S]*<\/main><footer>/, name);
    const title = res.text.match(/<title>([^<]*)<\/title>/)![1];
    titles.add(title);
    // the code is offered only while it can still be claimed
    assert.equal(res.text.includes('class="code"'), name.includes("pending"), name);
  }
  assert.equal(titles.size, expected.length, `each state has its own title: ${[...titles]}`);
  const missing = await request(pageUrl(server, UNKNOWN_CODE));
  assert.equal(missing.status, 404);
  assert.match(missing.text, /<h1>Link not found<\/h1>/);
  const garbage = await request(`${server.url}/c/${"%3Cscript%3E".repeat(20)}`);
  assert.equal(garbage.status, 404);
  assert.doesNotMatch(garbage.text, /<script>/);
});

Deno.test("a failed link says why in words, for every error code", async () => {
  await using server = await startServer({ appName: "Acme" });
  const reasons: Record<string, RegExp> = {
    invalid_credentials: /did not accept the username or password/,
    mfa_timeout: /verification code step was not finished in time/,
    account_locked: /says your account is locked/,
    site_changed: /website has changed/,
    user_abandoned: /login to T-Mobile was not finished in time/,
    device_lost: /went offline before it finished/,
    device_never_connected: /No device connected/,
    operation_failed: /answered with an error/,
    provider_unavailable: /cannot read from T-Mobile right now/,
    something_new: /Something went wrong while connecting to T-Mobile/,
  };
  for (const [code, words] of Object.entries(reasons)) {
    const link = await createLinkViaApi(server);
    assert.equal((await claim(server, link.claimCode)).status, 200);
    await advance(server, link.id, "failed", { error: { code, message: "internal words" } });
    const res = await request(pageUrl(server, link.claimCode));
    assert.equal(res.status, 410, code);
    assert.match(res.text, words, code);
    assert.match(res.text, /No data from your account was sent to Acme/, code);
    assert.ok(!res.text.includes("internal words"), `${code}: the page words it itself`);
    const status = await request(`${pageUrl(server, link.claimCode)}/status`);
    assert.match(status.body.message, words, code);
  }
});

Deno.test("GET /c/{code}/status answers what the page shows, never results, and 404 for no code", async () => {
  await using server = await startServer();
  const link = await linkIn(server, "pending");
  let res = await request(`${link.appClipUrl}/status`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.deepEqual(res.body, {
    object: "claim_status",
    kind: "link",
    state: "pending",
    final: false,
    headline: "An app wants to connect your T-Mobile account",
    message: "Nothing happens until you continue on a device.",
    operations: [
      { label: "your latest phone bill", status: "pending" },
      {
        label: "the payment methods saved on your account (never full card numbers)",
        status: "pending",
      },
    ],
  });
  // the code in any spelling the claim accepts
  res = await request(`${server.url}/c/${link.claimCode.replace("-", "").toLowerCase()}/status`);
  assert.equal(res.body.state, "pending");

  assert.equal((await claim(server, link.claimCode)).status, 200);
  res = await request(`${link.appClipUrl}/status`);
  assert.equal(res.body.state, "claimed");
  assert.equal(res.body.final, false);

  const done = await linkIn(server, "complete");
  res = await request(`${done.appClipUrl}/status`);
  assert.equal(res.body.state, "complete");
  assert.equal(res.body.final, true);
  assert.deepEqual(res.body.operations.map((o: any) => o.status), ["complete", "complete"]);
  const page = await request(done.appClipUrl);
  assert.equal((await server.api(`/v1/links/${done.id}`)).body.results !== null, true);
  for (const text of [res.text, page.text]) {
    assert.ok(!text.includes("142.50"), "results never reach the page or its status");
    assert.ok(!text.includes(done.id) && !text.includes(done.sessionId), "nor ids");
  }

  assertError(await request(`${server.url}/c/${UNKNOWN_CODE}/status`), 404, "claim_code_not_found");
  assertError(await request(`${server.url}/c/not-a-code/status`), 404, "claim_code_not_found");
  assertError(
    await request(`${server.url}/c/${"x".repeat(500)}/status`),
    404,
    "claim_code_not_found",
  );
});

// ------------------------------------------------------------ headers

Deno.test("the claim page has a strict CSP with a fresh nonce per response, no referrer, no store, no framing", async () => {
  await using server = await startServer();
  const link = await linkIn(server, "pending");
  const nonces = new Set<string>();
  for (const url of [link.appClipUrl, link.appClipUrl, pageUrl(server, UNKNOWN_CODE)]) {
    const res = await request(url);
    const csp = res.headers.get("content-security-policy") ?? "";
    const nonce = csp.match(/script-src 'nonce-([A-Za-z0-9+/=]+)'/)?.[1];
    assert.ok(nonce, csp);
    nonces.add(nonce);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /base-uri 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(res.headers.get("referrer-policy"), "no-referrer");
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    // every inline script and style carries this response's nonce
    for (const [, attrs] of res.text.matchAll(/<(?:script|style)([^>]*)>/g)) {
      assert.ok(attrs.includes(`nonce="${nonce}"`), attrs);
    }
    assert.doesNotMatch(res.text, /\son[a-z]+=/i, "no inline handlers");
    assert.doesNotMatch(res.text, /\sstyle=/i, "no style attributes (the CSP would block them)");
  }
  assert.equal(nonces.size, 3, "a new nonce on every response");
  const ext = await request(`${server.url}/extension`);
  assert.equal(ext.headers.get("x-frame-options"), "DENY");
  assert.match(ext.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
});

// ------------------------------------------------------------ QR code

Deno.test("the pending page's QR code is an inline SVG that encodes exactly the claim URL", async () => {
  await using server = await startServer();
  for (const made of [await linkIn(server, "pending"), await sessionIn(server, "pending")]) {
    const res = await request(made.appClipUrl);
    const svg = res.text.match(/<svg[\s\S]*?<\/svg>/)?.[0];
    assert.ok(svg, "an inline <svg>");
    const squares = [...svg.matchAll(/M\d+,\d+h10v10h-10z/g)].length;
    assert.ok(squares > 200, `many dark modules: ${squares}`);
    const grid = svgModules(svg, 2);
    const n = grid.length;
    assert.ok(hasFinder(grid, 0, 0) && hasFinder(grid, 0, n - 7) && hasFinder(grid, n - 7, 0));
    assert.deepEqual(grid, encode(made.appClipUrl, { border: 0 }).data, "it encodes the claim URL");
    assert.notDeepEqual(grid, encode(`${server.url}/c/${UNKNOWN_CODE}`, { border: 0 }).data);
  }
  // only a code that can still be claimed gets one
  const claimed = await linkIn(server, "claimed");
  assert.doesNotMatch((await request(claimed.appClipUrl)).text, /<svg/);
});

// ------------------------------------------------------------ phones

Deno.test("GET /.well-known/apple-app-site-association answers the configured App Clip and app, else 404", async () => {
  await using server = await startServer();
  for (const path of ["/.well-known/apple-app-site-association", "/apple-app-site-association"]) {
    assertError(await request(server.url + path), 404, "ios_app_not_configured");
  }
  await using apps = await startServer({ nativeApps: readNativeApps(APPS_ENV) });
  const res = await request(`${apps.url}/.well-known/apple-app-site-association`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.deepEqual(res.body.appclips, { apps: ["A1B2C3D4E5.dev.passage.app.Clip"] });
  assert.equal(res.body.applinks.details.length, 1);
  const details = res.body.applinks.details[0];
  assert.deepEqual(details.appIDs, ["A1B2C3D4E5.dev.passage.app"]);
  assert.equal(details.components[0]["/"], "/c/*");
  assert.deepEqual(details.paths, ["/c/*"]);

  // an App Clip alone
  await using clipOnly = await startServer({
    nativeApps: readNativeApps({
      PASSAGE_IOS_TEAM_ID: "A1B2C3D4E5",
      PASSAGE_IOS_APP_CLIP_BUNDLE_ID: "dev.passage.app.Clip",
    }),
  });
  const clip = await request(`${clipOnly.url}/.well-known/apple-app-site-association`);
  assert.deepEqual(clip.body, {
    applinks: { details: [] },
    appclips: { apps: ["A1B2C3D4E5.dev.passage.app.Clip"] },
  });
});

Deno.test("GET /.well-known/assetlinks.json answers the configured Android app, else 404", async () => {
  await using server = await startServer();
  assertError(
    await request(`${server.url}/.well-known/assetlinks.json`),
    404,
    "android_app_not_configured",
  );
  await using apps = await startServer({ nativeApps: readNativeApps(APPS_ENV) });
  const res = await request(`${apps.url}/.well-known/assetlinks.json`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, [{
    relation: ["delegate_permission/common.handle_all_urls"],
    target: {
      namespace: "android_app",
      package_name: "dev.passage.app",
      sha256_cert_fingerprints: [FINGERPRINT],
    },
  }]);
});

Deno.test("phone apps are read from PASSAGE_IOS_* and PASSAGE_ANDROID_*; malformed values stop the server", () => {
  assert.deepEqual(readNativeApps({}), { ios: null, android: null });
  assert.deepEqual(loadConfig({}).nativeApps, { ios: null, android: null });
  const bad: Array<Record<string, string>> = [
    { PASSAGE_IOS_TEAM_ID: "short" },
    { PASSAGE_IOS_TEAM_ID: "A1B2C3D4E5", PASSAGE_IOS_BUNDLE_ID: "no dots" },
    { PASSAGE_IOS_BUNDLE_ID: "dev.passage.app" },
    { PASSAGE_IOS_APP_ID: "id123" },
    { PASSAGE_ANDROID_PACKAGE: "dev.passage.app" },
    { PASSAGE_ANDROID_SHA256_FINGERPRINTS: FINGERPRINT },
    { PASSAGE_ANDROID_PACKAGE: "dev.passage.app", PASSAGE_ANDROID_SHA256_FINGERPRINTS: "AB:CD" },
  ];
  for (const env of bad) assert.throws(() => loadConfig(env), /PASSAGE_/, JSON.stringify(env));
});

Deno.test("the page shows the App Clip banner when configured, and says plainly when no phone app is set up", async () => {
  await using server = await startServer();
  const link = await linkIn(server, "pending");
  let page = await request(link.appClipUrl);
  assert.doesNotMatch(page.text, /apple-itunes-app/);
  assert.match(page.text, /No phone app is set up for this server yet/);

  await using apps = await startServer({ nativeApps: readNativeApps(APPS_ENV) });
  const appLink = await linkIn(apps, "pending");
  page = await request(appLink.appClipUrl);
  const banner = page.text.match(/<meta name="apple-itunes-app" content="([^"]+)"/)?.[1];
  assert.equal(
    banner,
    `app-id=1234567890, app-clip-bundle-id=dev.passage.app.Clip, app-clip-display=card, app-argument=${appLink.appClipUrl}`,
  );
  assert.doesNotMatch(page.text, /No phone app is set up/);
  assert.match(page.text, /App Clip card/);
  // no banner once the code cannot be claimed
  assert.equal((await claim(apps, appLink.claimCode)).status, 200);
  assert.doesNotMatch((await request(appLink.appClipUrl)).text, /apple-itunes-app/);
});

// ------------------------------------------------------------ the extension page

Deno.test("/extension says the zip is not built until it is, then links it and serves it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using server = await startServer({ extensionZipPath: `${dir}/passage-extension.zip` });
    let page = await request(`${server.url}/extension`);
    assert.equal(page.status, 200);
    assert.match(page.text, /has not been built on this server yet/);
    assert.doesNotMatch(page.text, /href="\/extension\/passage-extension.zip"/);
    assertError(
      await request(`${server.url}/extension/passage-extension.zip`),
      404,
      "extension_not_built",
    );

    const zip = new Uint8Array([0x50, 0x4b, 0x05, 0x06, ...new Uint8Array(18)]);
    await Deno.writeFile(server.config.extensionZipPath, zip);
    page = await request(`${server.url}/extension`);
    assert.match(page.text, /href="\/extension\/passage-extension.zip"/);
    assert.match(page.text, /Load unpacked/);
    assert.doesNotMatch(page.text, /has not been built/);
    const res = await fetch(`${server.url}/extension/passage-extension.zip`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/zip");
    assert.match(res.headers.get("content-disposition") ?? "", /attachment/);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), zip);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ------------------------------------------------------------ in Chromium

const SCREENSHOTS = new URL("../.data/screenshots/claim/", import.meta.url).pathname;
const VIEWPORTS = [
  { name: "phone", width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 },
  {
    name: "desktop",
    width: 1280,
    height: 800,
    isMobile: false,
    hasTouch: false,
    deviceScaleFactor: 1,
  },
];

async function launch(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const profile = await Deno.makeTempDir({ prefix: "passage-claim-page-" });
  const browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--user-data-dir=${profile}`,
    ],
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** axe-core's serious and critical violations on the page (the CSP is bypassed to inject it). */
async function axeViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: axe.source });
  return await page.evaluate(async () => {
    const result = await (globalThis as any).axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v: any) => v.impact === "serious" || v.impact === "critical")
      .map((v: any) => `${v.id} (${v.impact}): ${v.help} ×${v.nodes.length}`);
  });
}

/** Layout facts worth asserting: horizontal overflow and the smallest visible text. */
function layoutFacts(page: Page): Promise<{ overflow: number; smallestFont: number }> {
  return page.evaluate(() => {
    const overflow = document.documentElement.scrollWidth - globalThis.innerWidth;
    let smallestFont = Infinity;
    for (const el of document.querySelectorAll("body *")) {
      const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent!.trim());
      const box = el.getBoundingClientRect();
      if (!text || box.width === 0 || box.height === 0) continue;
      smallestFont = Math.min(smallestFont, parseFloat(getComputedStyle(el).fontSize));
    }
    return { overflow, smallestFont };
  });
}

Deno.test("the claim page in Chromium: every state at phone and desktop size, accessible, and the extension hand-off", async (t) => {
  await using server = await startServer({ appName: "Acme Budget" });
  const { browser, close } = await launch();
  try {
    await Deno.mkdir(SCREENSHOTS, { recursive: true });

    await t.step(
      "every state renders without overflow or tiny text, and axe finds nothing serious",
      async () => {
        const states: Array<[string, () => Promise<any>]> = [
          ["link-pending", () => linkIn(server, "pending")],
          ["link-claimed", () => linkIn(server, "claimed")],
          ["link-running", () => linkIn(server, "running")],
          ["link-complete", () => linkIn(server, "complete")],
          ["link-failed", () => linkIn(server, "failed")],
          ["link-expired", () => linkIn(server, "expired")],
          ["link-cancelled", () => linkIn(server, "cancelled")],
          ["session-pending-any", () => sessionIn(server, "pending")],
          ["session-pending-origins", () =>
            sessionIn(server, "pending", {
              allowedOrigins: [
                "https://www.example.com",
                "https://login.example-identity-provider.com",
              ],
            })],
          ["session-active", () => sessionIn(server, "active")],
          ["session-ended", () => sessionIn(server, "ended")],
          ["not-found", () => Promise.resolve({ claimCode: UNKNOWN_CODE })],
        ];
        const report: string[] = [];
        for (const [name, make] of states) {
          const { claimCode } = await make();
          for (const viewport of VIEWPORTS) {
            const page = await browser.newPage();
            try {
              await page.setBypassCSP(true);
              await page.setViewport(viewport);
              const res = await page.goto(pageUrl(server, claimCode), { waitUntil: "load" });
              assert.ok(res, name);
              await page.screenshot({
                path: `${SCREENSHOTS}${name}-${viewport.width}x${viewport.height}.png`,
                fullPage: true,
              });
              const facts = await layoutFacts(page);
              const violations = await axeViolations(page);
              report.push(
                `${name} ${viewport.width}: overflow ${facts.overflow}px, smallest text ${facts.smallestFont}px, axe serious/critical ${violations.length}`,
              );
              assert.deepEqual(violations, [], `${name} at ${viewport.width}px`);
              assert.ok(
                facts.overflow <= 0,
                `${name} at ${viewport.width}px overflows by ${facts.overflow}px`,
              );
              assert.ok(
                facts.smallestFont >= 14,
                `${name} at ${viewport.width}px has ${facts.smallestFont}px text`,
              );
            } finally {
              await page.close();
            }
          }
        }
        console.log(report.join("\n"));
      },
    );

    await t.step(
      "the expiry reads in the reader's own time zone, and in UTC without JavaScript",
      async () => {
        const link = await linkIn(server, "pending");
        const page = await browser.newPage();
        try {
          await page.emulateTimezone("Asia/Tokyo");
          await page.goto(link.appClipUrl);
          const shown = await page.$eval("time", (el) => el.textContent!);
          assert.match(shown, /GMT\+9/, shown);
          const hour = Number(new Intl.DateTimeFormat("en-US", {
            hour: "numeric",
            hourCycle: "h23",
            timeZone: "Asia/Tokyo",
          }).format(new Date(link.expiresAt)));
          assert.ok(shown.includes(`${hour % 12 || 12}:`), `${shown} shows Tokyo's hour ${hour}`);

          await page.setJavaScriptEnabled(false);
          await page.setViewport(VIEWPORTS[0]);
          await page.goto(link.appClipUrl);
          const plain = await page.$eval("time", (el) => el.textContent!);
          assert.match(plain, / UTC$/, plain);
          assert.equal(
            await page.$eval("#ext-no", (el) => (el as HTMLElement).offsetHeight > 0),
            true,
          );
          assert.match(
            await page.$eval("h1", (el) => el.textContent!),
            /Acme Budget wants to connect/,
          );
          await page.screenshot({
            path: `${SCREENSHOTS}link-pending-nojs-390x844.png`,
            fullPage: true,
          });
        } finally {
          await page.close();
        }
      },
    );

    await t.step(
      "without the extension: no Continue button, a link to /extension and the QR code",
      async () => {
        const link = await linkIn(server, "pending");
        const page = await browser.newPage();
        try {
          await page.goto(link.appClipUrl);
          assert.equal(await page.$eval("#ext-yes", (el) => (el as HTMLElement).hidden), true);
          assert.equal(
            await page.$eval("#ext-no a", (el) => el.getAttribute("href")),
            "/extension",
          );
          assert.ok(await page.$eval(".qr svg", (el) => el.getBoundingClientRect().width >= 150));
          assert.equal(await page.$eval(".code", (el) => el.textContent), link.claimCode);
          await page.click("#ext-no a");
          assert.equal(new URL(page.url()).pathname, "/extension");
          assert.match(await page.$eval("h1", (el) => el.textContent!), /browser extension/);
          for (const viewport of VIEWPORTS) {
            await page.setViewport(viewport);
            await page.screenshot({
              path: `${SCREENSHOTS}extension-${viewport.width}x${viewport.height}.png`,
              fullPage: true,
            });
          }
        } finally {
          await page.close();
        }
      },
    );

    await t.step(
      "with the extension: Continue posts the code to this window and origin only, and shows its answers",
      async () => {
        const link = await linkIn(server, "pending");
        const page = await browser.newPage();
        try {
          // the extension's content script, as the contract describes it, plus a spy on postMessage
          await page.evaluateOnNewDocument(() => {
            const w = globalThis as any;
            w.__posted = [];
            const post = w.postMessage.bind(w);
            w.postMessage = (data: unknown, target: unknown) => {
              w.__posted.push({ data, target });
              return post(data, target);
            };
            // at document_start <html> may not exist yet under CDP: mark it as soon as it does
            const mark = () => {
              if (!document.documentElement) return false;
              document.documentElement.dataset.passageExtension = "0.1.0";
              return true;
            };
            if (!mark()) {
              const watch = new MutationObserver(() => mark() && watch.disconnect());
              watch.observe(document, { childList: true });
            }
            w.addEventListener("message", (event: MessageEvent) => {
              if (event.source !== w || event.data?.type !== "passage:continue") return;
              w.__received = { data: event.data, origin: event.origin };
              w.postMessage(
                w.__reply === "error"
                  ? { type: "passage:error", message: "The extension could not open a tab" }
                  : { type: "passage:continued" },
                location.origin,
              );
            });
          });
          await page.goto(link.appClipUrl);
          assert.equal(await page.$eval("#ext-yes", (el) => (el as HTMLElement).hidden), false);
          assert.equal(await page.$eval("#ext-no", (el) => (el as HTMLElement).hidden), true);
          const viewport = VIEWPORTS[1];
          await page.setViewport(viewport);
          await page.screenshot({
            path: `${SCREENSHOTS}link-pending-extension-1280x800.png`,
            fullPage: true,
          });

          // answers from anywhere else are ignored (dispatching is synchronous)
          const ignored = await page.evaluate(() => {
            dispatchEvent(
              new MessageEvent("message", {
                data: { type: "passage:continued" },
                origin: "https://evil.example",
                source: window,
              }),
            );
            dispatchEvent(
              new MessageEvent("message", {
                data: { type: "passage:continued" },
                origin: location.origin,
                source: null,
              }),
            );
            return document.getElementById("continue-status")!.textContent;
          });
          assert.equal(ignored, "");

          await page.evaluate(() => ((globalThis as any).__reply = "error"));
          await page.click("#continue-here");
          await page.waitForFunction(() =>
            document.getElementById("continue-status")!.textContent!.includes(
              "could not open a tab",
            )
          );
          assert.equal(
            await page.$eval("#continue-here", (el) => (el as HTMLButtonElement).disabled),
            false,
          );

          await page.evaluate(() => ((globalThis as any).__reply = "ok"));
          await page.click("#continue-here");
          await page.waitForFunction(() =>
            document.getElementById("continue-status")!.textContent === "Continue in the new tab."
          );
          const posted = await page.evaluate(() => (globalThis as any).__posted);
          const continues = posted.filter((p: any) => p.data?.type === "passage:continue");
          assert.equal(continues.length, 2);
          for (const p of continues) {
            assert.deepEqual(p.data, { type: "passage:continue", claimCode: link.claimCode });
            assert.equal(p.target, server.url, "to this origin only, never '*'");
          }
          const received = await page.evaluate(() => (globalThis as any).__received);
          assert.equal(received.origin, server.url);
          assert.equal(received.data.claimCode, link.claimCode);
        } finally {
          await page.close();
        }
      },
    );

    await t.step(
      "an extension that announces itself late (the event) still gets the button",
      async () => {
        const link = await linkIn(server, "pending");
        const page = await browser.newPage();
        try {
          await page.goto(link.appClipUrl);
          assert.equal(await page.$eval("#ext-yes", (el) => (el as HTMLElement).hidden), true);
          await page.evaluate(() => dispatchEvent(new CustomEvent("passage:extension")));
          assert.equal(await page.$eval("#ext-yes", (el) => (el as HTMLElement).hidden), false);
        } finally {
          await page.close();
        }
      },
    );

    await t.step(
      "under the real CSP the page's own script runs and an injected inline script does not",
      async () => {
        const link = await linkIn(server, "pending");
        const page = await browser.newPage();
        const violations: string[] = [];
        page.on(
          "console",
          (m) => m.text().includes("Content Security Policy") && violations.push(m.text()),
        );
        try {
          await page.emulateTimezone("Asia/Tokyo");
          await page.goto(link.appClipUrl);
          // the page's script upgraded the time, so the nonce let it run
          assert.match(await page.$eval("time", (el) => el.textContent!), /GMT\+9/);
          await page.addScriptTag({ content: "globalThis.__injected = true" }).catch(() => {});
          assert.equal(await page.evaluate(() => (globalThis as any).__injected ?? false), false);
          assert.ok(violations.length > 0, "Chromium reported the blocked script");
        } finally {
          await page.close();
        }
      },
    );

    await t.step(
      "the live status moves from pending to claimed when a device claims the code",
      async () => {
        const link = await linkIn(server, "pending");
        const page = await browser.newPage();
        try {
          await page.setViewport(VIEWPORTS[0]);
          await page.goto(link.appClipUrl);
          assert.equal(await page.$eval("#live", (el) => el.getAttribute("aria-live")), "polite");
          assert.equal(
            await page.$eval("#view", (el) => (el as HTMLElement).dataset.state),
            "pending",
          );
          const claimedAt = Date.now();
          assert.equal((await claim(server, link.claimCode)).status, 200);
          await page.waitForFunction(
            () => document.getElementById("live")!.textContent!.includes("already been opened"),
            { timeout: 10_000 },
          );
          const ms = Date.now() - claimedAt;
          console.log(`the page showed the claim ${ms} ms after it`);
          assert.ok(ms < 6000, `${ms} ms`);
          assert.equal(
            await page.$eval("#view", (el) => (el as HTMLElement).dataset.state),
            "claimed",
          );
          assert.match(
            await page.$eval("h1", (el) => el.textContent!),
            /Opened on a device/,
          );
          assert.equal(await page.$eval("#continue", (el) => (el as HTMLElement).hidden), true);
          assert.equal(
            await page.$$eval(
              "#progress .badge",
              (els) => els.map((el) => el.textContent).join(","),
            ),
            "Waiting,Waiting",
          );
          await page.screenshot({
            path: `${SCREENSHOTS}link-pending-then-claimed-390x844.png`,
            fullPage: true,
          });
        } finally {
          await page.close();
        }
      },
    );
  } finally {
    await close();
  }
});
