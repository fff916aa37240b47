/// <reference lib="dom" />
/**
 * The developer console in one headless Chromium: sign in through a real
 * OpenID provider on loopback, create a key, create a link with it over the
 * API, open its claim page and run it on the reference device while the live
 * inspector shows the session (a screenshot and telemetry arrive), see the
 * webhook delivery, redeliver it, revoke the key. Then another account's link,
 * session and key answer 404. Every page is screenshot at 1280×800 and 390×844
 * under `.data/screenshots/console/` and checked with axe-core.
 */
import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import { launchChromium, startDevice } from "../device/mod.ts";
import { capture, VIEWPORTS } from "./_pages.ts";
import { Turns } from "./_human.ts";
import { signInWithOidc, startServerWithIdp } from "./_oidc.ts";
import { startReceiver } from "./_webhooks.ts";

const SCREENSHOTS = new URL("../.data/screenshots/console/", import.meta.url).pathname;

async function logInAsHuman(page: Page) {
  await page.waitForSelector("#username");
  await page.type("#username", "user_good");
  await page.type("#password", "pass_good");
  await page.click("#submit");
  await page.waitForSelector("#mfa-code");
  await page.type("#mfa-code", "1234");
  await page.click("#mfa-submit");
}

Deno.test("the console end to end: sign in, a key, a link run live in the inspector, its webhook redelivered, the key revoked", async () => {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  await using server = await startServerWithIdp({ allowLoopbackWebhooks: true });
  await using receiver = startReceiver();
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

    // -- the front door and the reference
    await page.goto(server.url + "/");
    problems.push(...await capture(page, SCREENSHOTS, "home"));
    await page.goto(server.url + "/docs");
    await page.waitForSelector("[role=search], .api-content, h1", { timeout: 30_000 });
    await page.waitForFunction(() => document.body.innerText.includes("Create a link"), {
      timeout: 30_000,
    });
    await page.screenshot({ path: `${SCREENSHOTS}docs-1280.png` });
    await page.setViewport(VIEWPORTS[1]);
    await page.screenshot({ path: `${SCREENSHOTS}docs-390.png` });
    await page.setViewport(VIEWPORTS[0]);

    // -- sign in through the IdP's own pages
    await page.goto(server.url + "/console");
    assert.equal(new URL(page.url()).pathname, "/console/sign-in");
    problems.push(...await capture(page, SCREENSHOTS, "sign-in"));
    await Promise.all([page.waitForNavigation(), page.click("a.button")]);
    await page.waitForSelector("input[name=login]");
    await page.type("input[name=login]", "grace@example.com");
    await page.type("input[name=password]", "anything");
    await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    if (page.url().includes("/interaction/")) {
      await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    }
    assert.equal(new URL(page.url()).pathname, "/console", page.url());
    assert.match(await page.content(), /grace@example\.com/);
    const cookies = await browser.cookies();
    const session = cookies.find((c) => c.name === "__Host-passage_console");
    assert.ok(session, "the session cookie");
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Lax");
    assert.equal(session.path, "/");
    problems.push(...await capture(page, SCREENSHOTS, "overview-empty"));

    // -- a key, its secret shown once
    await page.goto(server.url + "/console/keys");
    await page.type("#key-name", "backend");
    await Promise.all([
      page.waitForNavigation(),
      page.click("form[action='/console/keys'] button"),
    ]);
    const secret = await page.$eval("#new-secret", (el) => el.textContent!.trim());
    assert.match(secret, /^sk_test_/);
    problems.push(...await capture(page, SCREENSHOTS, "keys-created"));
    await page.goto(server.url + "/console/keys");
    assert.ok(!(await page.content()).includes(secret), "the secret is shown once");

    // -- a link made with it over the API
    const created = await server.api("/v1/links", {
      method: "POST",
      apiKey: secret,
      json: {
        provider: "tmobile",
        operations: [{ type: "mobileBillingStatement:read" }],
        webhookUrl: receiver.url,
      },
    });
    assert.equal(created.status, 201, created.text);
    const link = created.body;
    await page.goto(link.appClipUrl);
    await page.screenshot({ path: `${SCREENSHOTS}claim-page-1280.png` });

    // -- the inspector, open before the device starts
    await page.goto(`${server.url}/console/sessions/${link.sessionId}`);
    await page.waitForFunction(() => document.getElementById("live")?.textContent === "Live");
    const turns = new Turns();
    await using device = await startDevice({
      server: server.url,
      claimCode: link.claimCode,
      onStatus: turns.onStatus,
    });
    await turns.next(() => true, 0);
    await page.waitForFunction(
      () => !(document.getElementById("shot") as HTMLImageElement).hidden,
      { timeout: 30_000 },
    );
    await page.waitForFunction(
      () =>
        document.querySelectorAll("#nav li").length > 0 &&
        Number(document.getElementById("count")!.textContent) > 1,
      { timeout: 30_000 },
    );
    assert.match(
      await page.$eval("#control", (el) => el.textContent!),
      /user has control/,
      "the inspector says who has control",
    );
    problems.push(...await capture(page, SCREENSHOTS, "inspector-live"));
    await logInAsHuman(device.page);
    await receiver.waitFor(1, 60_000);
    await device.ended;
    await page.waitForFunction(
      () => /ended/.test(document.getElementById("status")!.textContent!),
      { timeout: 30_000 },
    );

    // -- the delivery, redelivered
    await page.goto(`${server.url}/console/links/${link.id}`);
    assert.equal(await page.$$eval("tr.attempt", (rows) => rows.length), 1);
    assert.match(await page.content(), /link\.completed/);
    await Promise.all([page.waitForNavigation(), page.click("form[action$='/redeliver'] button")]);
    await receiver.waitFor(2);
    assert.match(await page.content(), /Redelivered: the receiver answered 200/);
    assert.equal(await page.$$eval("tr.attempt", (rows) => rows.length), 2);
    problems.push(...await capture(page, SCREENSHOTS, "link"));

    // -- the other pages, with data
    for (
      const [name, path] of [
        ["overview", "/console"],
        ["links", "/console/links"],
        ["links-filtered", "/console/links?status=complete&provider=tmobile"],
        ["sessions", "/console/sessions"],
        ["webhooks", "/console/webhooks"],
        ["account", "/console/account"],
        ["not-found", "/console/links/link_01NOPE0000000000000000000"],
      ]
    ) {
      await page.goto(server.url + path);
      problems.push(...await capture(page, SCREENSHOTS, name));
    }
    await page.goto(`${server.url}/console/sessions/${link.sessionId}`);
    await page.waitForFunction(() => /Ended/.test(document.getElementById("live")!.textContent!));
    assert.ok(
      !(await page.$eval("#shot", (el) => (el as HTMLImageElement).hidden)),
      "an ended session still shows its retained screenshot",
    );
    problems.push(...await capture(page, SCREENSHOTS, "inspector-ended"));

    // -- a test webhook from the console
    await page.goto(server.url + "/console/webhooks");
    await page.type("#wh-url", receiver.url);
    await Promise.all([
      page.waitForNavigation(),
      page.click("form[action='/console/webhooks/test'] button"),
    ]);
    await receiver.waitFor(3);
    assert.match(await page.content(), /Test webhook sent: 200/);

    // -- another account sees none of it
    const other = await signInWithOidc(server, "mallory@example.com");
    const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(other.html)![1];
    for (const path of [`/console/links/${link.id}`, `/console/sessions/${link.sessionId}`]) {
      const res = await other.jar.fetch(server.url + path);
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
    const keyId = /\/console\/keys\/(key_[0-9A-Z]+)\/revoke/.exec(
      await (await page.goto(server.url + "/console/keys"))!.text(),
    )![1];
    const stolen = await other.jar.fetch(`${server.url}/console/keys/${keyId}/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url },
      body: new URLSearchParams({ _csrf: csrf }),
    });
    assert.equal(stolen.status, 404);
    await stolen.body?.cancel();
    assert.equal((await server.api("/v1/links", { apiKey: secret })).status, 200);

    // -- revoke the key
    await page.goto(server.url + "/console/keys");
    await Promise.all([
      page.waitForNavigation(),
      page.click(`form[action='/console/keys/${keyId}/revoke'] button`),
    ]);
    assert.match(await page.content(), /Revoked/);
    problems.push(...await capture(page, SCREENSHOTS, "keys-revoked"));
    assert.equal((await server.api("/v1/links", { apiKey: secret })).status, 401);

    // Our pages only (not the IdP's); the deliberate 404 page; Redoc's attribution logo, which
    // it loads from its CDN and the /docs CSP refuses, as it should.
    const ours = pageErrors.filter((e) =>
      e.startsWith(server.url) && !e.includes("link_01NOPE") && !e.includes("cdn.redoc.ly")
    );
    assert.deepEqual(ours, [], ours.join("\n"));
    assert.deepEqual(problems, [], problems.join("\n"));
  } finally {
    await browser.close();
  }
});
