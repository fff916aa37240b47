// deno-lint-ignore-file no-explicit-any
/// <reference lib="dom" />
/**
 * Console admin work in one headless Chromium, signed in through a real
 * OpenID provider on loopback: an admin uploads a logo and the claim page
 * shows it; bad uploads are refused with a clear page and change nothing; an
 * admin invites a member by email, who signs in to an account of their own,
 * sees the invitation and accepts it, then gets 403 on rotating signing keys; the admin's rotation makes new webhooks
 * carry the new kid while an old one still verifies during the overlap; a
 * member of two accounts switches between them and each sees only its own
 * objects; the new forms refuse a post without the CSRF token. Pages are
 * screenshot at 1280×800 and 390×844 under `.data/screenshots/console-admin/`
 * and checked with axe-core.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "puppeteer-core";
import { launchChromium } from "../device/mod.ts";
import { verifyWebhook } from "@passage/connect";
import { addMember, createAccount, getAccount, roleOf } from "../lib/accounts.ts";
import { createApiKey } from "../lib/api_keys.ts";
import { currentWebhookKey } from "../lib/webhook_keys.ts";
import { capture, VIEWPORTS } from "./_pages.ts";
import { createLinkViaApi, LINK_BODY, type TestServer } from "./_harness.ts";
import { CookieJar, signInWithOidc, startServerWithIdp } from "./_oidc.ts";
import { COMPLETE, finishLink, jwtParts, type Received, startReceiver } from "./_webhooks.ts";

const SCREENSHOTS = new URL("../.data/screenshots/console-admin/", import.meta.url).pathname;

/** Signs `email` in through the IdP's own pages in `page`. */
async function signIn(page: Page, server: TestServer, email: string): Promise<void> {
  await page.goto(server.url + "/console/sign-in");
  await Promise.all([page.waitForNavigation(), page.click("a.button")]);
  await page.waitForSelector("input[name=login]");
  await page.type("input[name=login]", email);
  await page.type("input[name=password]", "anything");
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  if (page.url().includes("/interaction/")) {
    await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  }
  assert.equal(new URL(page.url()).pathname, "/console", page.url());
}

/** Submits the form around `selector` and waits for the page it leads to; returns its status. */
async function submit(page: Page, selector: string): Promise<number> {
  const [res] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return res!.status();
}

/** A 256-pixel logo drawn in Chromium, as a PNG (or JPEG). */
async function drawLogo(
  browser: Browser,
  type: "image/png" | "image/jpeg",
): Promise<Uint8Array<ArrayBuffer>> {
  const context = await browser.createBrowserContext();
  try {
    const page = await context.newPage();
    const data = await page.evaluate((type) => {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 256;
      const ctx = canvas.getContext("2d")!;
      ctx.fillStyle = "#0f7b5f";
      ctx.beginPath();
      ctx.roundRect(0, 0, 256, 256, 56);
      ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.font = "bold 120px sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText("AB", 128, 136);
      return canvas.toDataURL(type).split(",")[1];
    }, type);
    return Uint8Array.from(atob(data), (ch) => ch.charCodeAt(0));
  } finally {
    await context.close();
  }
}

/** The CSRF token on the page now (every console page has the sign-out form). */
function csrfOf(page: Page): Promise<string> {
  return page.$eval("input[name=_csrf]", (el) => (el as HTMLInputElement).value);
}

/** The received webhook as a `Request`, for `verifyWebhook`. */
function asRequest(r: Received, url: string): Request {
  return new Request(url, { method: "POST", headers: r.headers, body: r.body });
}

Deno.test("console admins: a logo on the claim page, refused uploads, roles and 403, key rotation with overlap, the account switcher", async () => {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  await using server = await startServerWithIdp({ allowLoopbackWebhooks: true });
  await using receiver = startReceiver();
  const files = await Deno.makeTempDir({ prefix: "passage-logos-" });
  // The test server's account has no member, as a migrated one: its first member is its admin.
  await addMember(server.kv, server.accountId, "ada@example.com");
  await addMember(server.kv, server.accountId, "ada@example.com"); // idempotent
  const browser = await launchChromium();
  const problems: string[] = [];
  const pageErrors: string[] = [];
  try {
    const page = await browser.newPage();
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(`${page.url()}: ${m.text()}`);
    });
    await page.setViewport(VIEWPORTS[0]);
    await signIn(page, server, "ada@example.com");
    assert.equal(await page.$eval("#role", (el) => el.textContent), "admin");

    // -- the app name, then a logo
    await page.goto(server.url + "/console/account");
    await page.$eval("#acct-app", (el) => (el as HTMLInputElement).value = "");
    await page.type("#acct-app", "Acme Budget");
    assert.equal(await submit(page, "form[action='/console/account'] button"), 200);
    const png = await drawLogo(browser, "image/png");
    await Deno.writeFile(`${files}/logo.png`, png);
    const input = await page.$("#acct-logo");
    await (input as any).uploadFile(`${files}/logo.png`);
    assert.equal(await submit(page, "form[action='/console/account/logo'] button"), 200);
    assert.match(await page.content(), /Logo saved/);
    const stored = (await getAccount(server.kv, server.accountId))!;
    assert.equal(stored.logo?.type, "image/png");
    assert.equal(stored.logo?.bytes, png.byteLength);
    assert.ok(
      await page.$eval(".logo-preview", (el) => (el as HTMLImageElement).naturalWidth === 256),
    );
    problems.push(...await capture(page, SCREENSHOTS, "account-admin"));

    // -- the claim page shows it, phone-first
    const link = await createLinkViaApi(server);
    await page.goto(`${server.url}/c/${link.claimCode}`);
    const logo = await page.$eval("img.app-logo", (el) => {
      const img = el as HTMLImageElement;
      return { alt: img.alt, loaded: img.complete && img.naturalWidth, src: img.src };
    });
    assert.equal(logo.alt, "Acme Budget");
    assert.equal(logo.loaded, 256, "loaded under the page's own CSP");
    assert.equal(new URL(logo.src).origin, server.url);
    problems.push(...await capture(page, SCREENSHOTS, "claim-with-logo"));

    // -- bad uploads: a clear page, nothing stored changes
    const bad: Array<[string, Uint8Array, RegExp, number]> = [
      [
        "evil.svg",
        new TextEncoder().encode(
          `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>`,
        ),
        /SVG logos are not accepted/,
        415,
      ],
      [
        "anim.gif",
        new TextEncoder().encode("GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
        /PNG, JPEG or WebP/,
        415,
      ],
      [
        "huge.png",
        (() => {
          const b = new Uint8Array(300 * 1024);
          b.set(png.subarray(0, 64));
          return b;
        })(),
        /largest accepted is 256 KB/,
        413,
      ],
    ];
    for (const [name, bytes, message, status] of bad) {
      await Deno.writeFile(`${files}/${name}`, bytes);
      await page.goto(server.url + "/console/account");
      await (await page.$("#acct-logo") as any).uploadFile(`${files}/${name}`);
      assert.equal(await submit(page, "form[action='/console/account/logo'] button"), status, name);
      const text = await page.$eval("main", (el) => el.textContent!);
      assert.match(text, message, name);
      assert.equal(
        await page.$eval("main a", (el) => (el as HTMLAnchorElement).pathname),
        "/console/account",
      );
      assert.deepEqual((await getAccount(server.kv, server.accountId))!.logo, stored.logo, name);
    }
    problems.push(...await capture(page, SCREENSHOTS, "logo-refused"));
    const logoRecords: unknown[] = [];
    for await (const e of server.kv.list({ prefix: ["account_logos"] })) logoRecords.push(e.key);
    assert.equal(logoRecords.length, 1, "only the good logo is stored");

    // -- an admin invites bob by email: an offer, which he sees when he signs in with it
    await page.goto(server.url + "/console/account");
    await page.type("#member-email", "Bob@Example.com");
    assert.equal(await submit(page, "form[action='/console/account/members'] button"), 200);
    assert.match(await page.$eval("[role=status]", (el) => el.textContent!), /Invitation sent/);
    assert.match(
      await page.$eval("table[aria-labelledby=invitations]", (el) => el.textContent!),
      /bob@example\.com/,
    );
    assert.equal(roleOf((await getAccount(server.kv, server.accountId))!, "bob@example.com"), null);
    problems.push(...await capture(page, SCREENSHOTS, "account-invited"));
    const bobContext = await browser.createBrowserContext();
    const bob = await bobContext.newPage();
    await bob.setViewport(VIEWPORTS[0]);
    await signIn(bob, server, "bob@example.com");
    // His first sign-in opens an account of his own; the invitation waits for his answer.
    assert.equal(await bob.$eval("#role", (el) => el.textContent), "admin");
    assert.match(await bob.$eval(".who", (el) => el.textContent!), /bob's account/);
    assert.equal(await bob.$("#account-switch"), null, "a member of one account: his own");
    assert.equal(await submit(bob, "a[href='/console/invitations']"), 200);
    const offer = await bob.$eval("main", (el) => el.textContent!);
    assert.match(offer, /ada@example\.com invites you to join as\s*member/);
    problems.push(...await capture(bob, SCREENSHOTS, "invitations"));
    assert.equal(await submit(bob, "form[action='/console/invitations/accept'] button"), 200);
    assert.equal(new URL(bob.url()).pathname, "/console");
    assert.equal(await bob.$eval("#role", (el) => el.textContent), "member");
    assert.equal(
      await bob.$eval("#account-switch", (el) => (el as HTMLSelectElement).value),
      server.accountId,
    );
    assert.equal(await bob.$("a[href='/console/invitations']"), null, "nothing left to answer");
    await bob.goto(server.url + "/console/webhooks");
    assert.equal(await bob.$("form[action='/console/webhooks/rotate']"), null);
    assert.match(await bob.content(), /Only an admin of this account can rotate/);
    // Posting the rotation anyway, with his own valid token: 403 and a clear page.
    const kidBefore = (await currentWebhookKey(server.kv, server.accountId)).kid;
    const bobCsrf = await csrfOf(bob);
    const [forbidden] = await Promise.all([
      bob.waitForNavigation(),
      bob.evaluate((token) => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = "/console/webhooks/rotate";
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = "_csrf";
        input.value = token;
        form.append(input);
        document.body.append(form);
        form.submit();
      }, bobCsrf),
    ]);
    assert.equal(forbidden!.status(), 403);
    const forbiddenText = await bob.$eval("main", (el) => el.textContent!);
    assert.match(forbiddenText, /Only an admin of .* can rotate webhook signing keys/);
    assert.match(forbiddenText, /ada@example\.com/);
    assert.match(forbiddenText, /admin_required/);
    problems.push(...await capture(bob, SCREENSHOTS, "rotate-forbidden"));
    assert.equal(
      (await currentWebhookKey(server.kv, server.accountId)).kid,
      kidBefore,
      "nothing rotated",
    );
    await bob.goto(server.url + "/console/account");
    assert.equal(await bob.$("#acct-logo"), null, "no logo form for a member");
    problems.push(...await capture(bob, SCREENSHOTS, "account-member"));
    await bobContext.close();

    // -- rotation: a webhook signed before it still verifies; new ones carry the new kid
    const before = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
    await finishLink(server, before.id, COMPLETE);
    const [old] = await receiver.waitFor(1);
    assert.equal(jwtParts(old).header.kid, kidBefore);
    await page.goto(server.url + "/console/webhooks");
    assert.equal(await submit(page, "form[action='/console/webhooks/rotate'] button"), 200);
    const kidAfter = (await currentWebhookKey(server.kv, server.accountId)).kid;
    assert.notEqual(kidAfter, kidBefore);
    assert.match(await page.content(), new RegExp(`signed with <code>${kidAfter}</code>`));
    problems.push(...await capture(page, SCREENSHOTS, "webhooks-rotated"));
    const after = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
    await finishLink(server, after.id, COMPLETE);
    const [, fresh] = await receiver.waitFor(2);
    assert.equal(jwtParts(fresh).header.kid, kidAfter);
    const verify = {
      publicKeyUrl: `${server.url}/webhook_verification_key/get`,
      audience: server.accountId,
    };
    assert.equal((await verifyWebhook(asRequest(old, receiver.url), verify)).linkId, before.id);
    assert.equal((await verifyWebhook(asRequest(fresh, receiver.url), verify)).linkId, after.id);
    const jwksUrl = `${server.url}/v1/accounts/${server.accountId}/jwks.json`;
    assert.match(await page.$eval("main", (el) => el.textContent!), new RegExp(jwksUrl));
    const jwks = await (await fetch(jwksUrl)).json();
    const kids = jwks.keys.map((k: { kid: string }) => k.kid);
    assert.deepEqual(kids, [kidBefore, kidAfter]);
    // The keys are the account's own (webhook_account_keys_test.ts: no other account's moves);
    // a cap on the keys in their overlap bounds what one account stores.
    for (let i = 0; i < 3; i++) {
      assert.equal(await submit(page, "form[action='/console/webhooks/rotate'] button"), 200);
    }
    assert.equal(await submit(page, "form[action='/console/webhooks/rotate'] button"), 429);
    assert.match(
      await page.$eval("main", (el) => el.textContent!),
      new RegExp(`5 signing keys of ${server.accountId} are still valid`),
    );

    // -- the account switcher: ada is also a member of Carol's shop
    const carol = await createAccount(server.kv, {
      name: "Carol's shop",
      members: ["carol@example.com"],
    });
    await addMember(server.kv, carol.id, "ada@example.com");
    const carolKey = await createApiKey(server.kv, {
      name: "carol",
      mode: "test",
      accountId: carol.id,
    });
    const carolLink = await createLinkViaApi(server, LINK_BODY, { apiKey: carolKey.secret });
    await page.goto(`${server.url}/console/links/${link.id}`);
    assert.match(await page.$eval("main", (el) => el.textContent!), new RegExp(link.id));
    await page.select("#account-switch", carol.id);
    assert.equal(await submit(page, "form[action='/console/switch'] button"), 200);
    assert.equal(new URL(page.url()).pathname, "/console");
    assert.equal(
      await page.$eval("#account-switch", (el) => (el as HTMLSelectElement).value),
      carol.id,
    );
    assert.equal(await page.$eval("#role", (el) => el.textContent), "member");
    problems.push(...await capture(page, SCREENSHOTS, "switched"));
    const theirs = await page.goto(`${server.url}/console/links/${carolLink.id}`);
    assert.equal(theirs!.status(), 200);
    const ours = await page.goto(`${server.url}/console/links/${link.id}`);
    assert.equal(ours!.status(), 404, "the other account's link is not found here");
    await page.goto(`${server.url}/console/links`);
    const listed = await page.$eval("main", (el) => el.textContent!);
    assert.match(listed, new RegExp(carolLink.id));
    assert.doesNotMatch(listed, new RegExp(link.id));
    // A member of Carol's shop cannot rotate keys either.
    await page.goto(server.url + "/console/webhooks");
    assert.equal(await page.$("form[action='/console/webhooks/rotate']"), null);
    // Switching to an account she is not in is refused like any other account's object.
    const stranger = await createAccount(server.kv, { name: "Stranger", members: ["x@y.example"] });
    const csrf = await csrfOf(page);
    const refused = await page.evaluate(
      async (token, id) => {
        const res = await fetch("/console/switch", {
          method: "POST",
          body: new URLSearchParams({ _csrf: token, accountId: id }),
        });
        return res.status;
      },
      csrf,
      stranger.id,
    );
    assert.equal(refused, 404);
    await page.select("#account-switch", server.accountId);
    await submit(page, "form[action='/console/switch'] button");
    assert.equal(await page.$eval("#role", (el) => el.textContent), "admin");

    // -- every new form refuses a post without its CSRF token, and changes nothing
    const jar = new CookieJar();
    const signed = await signInWithOidc(server, "ada@example.com", jar);
    assert.equal(signed.res.status, 200);
    const token = /name="_csrf" value="([0-9a-f]+)"/.exec(signed.html)![1];
    const kidNow = (await currentWebhookKey(server.kv, server.accountId)).kid;
    const accountNow = await getAccount(server.kv, server.accountId);
    const forms: Array<[string, Record<string, string>]> = [
      ["/console/account/logo/remove", {}],
      ["/console/account/members", { email: "mallory@example.com", role: "admin" }],
      ["/console/account/members/remove", { email: "bob@example.com" }],
      ["/console/account/invitations/withdraw", { email: "bob@example.com" }],
      ["/console/invitations/accept", { accountId: carol.id }],
      ["/console/invitations/decline", { accountId: carol.id }],
      ["/console/webhooks/rotate", {}],
      ["/console/switch", { accountId: carol.id }],
    ];
    for (const [path, fields] of forms) {
      const res = await jar.fetch(server.url + path, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url },
        body: new URLSearchParams(fields),
      });
      assert.equal(res.status, 403, path);
      assert.match(await res.text(), /invalid_csrf_token/, path);
    }
    const upload = new FormData();
    upload.set("logo", new File([png], "logo.png", { type: "image/png" }));
    const noToken = await jar.fetch(server.url + "/console/account/logo", {
      method: "POST",
      headers: { origin: server.url },
      body: upload,
    });
    assert.equal(noToken.status, 403);
    assert.match(await noToken.text(), /invalid_csrf_token/);
    upload.set("_csrf", token);
    const foreign = await jar.fetch(server.url + "/console/account/logo", {
      method: "POST",
      headers: { origin: "https://evil.example" },
      body: upload,
    });
    assert.equal(foreign.status, 403, "another site's form, even with the token");
    await foreign.body?.cancel();
    assert.equal((await currentWebhookKey(server.kv, server.accountId)).kid, kidNow);
    assert.deepEqual(await getAccount(server.kv, server.accountId), accountNow);
    assert.equal(roleOf(accountNow!, "mallory@example.com"), null);

    // The refused uploads, the 403 and the 404 answer as they should; anything else is a fault.
    const ourErrors = pageErrors.filter((e) =>
      e.startsWith(server.url) && !/responded with a status of 4(03|04|13|15|29)\b/.test(e)
    );
    assert.deepEqual(ourErrors, [], ourErrors.join("\n"));
    assert.deepEqual(problems, [], problems.join("\n"));
  } finally {
    await browser.close();
    await Deno.remove(files, { recursive: true }).catch(() => {});
  }
});
