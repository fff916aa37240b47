/**
 * The browser-extension device, loaded unpacked into Debian's Chromium
 * (headless): the claim page hands it the code, it opens the session in a
 * tab the user sees and runs the same device core as the reference device,
 * over `chrome.debugger`. The test plays the user in that tab.
 *
 * One Chromium for the file: an unpacked extension is loaded at launch, built
 * for the server whose claim pages it answers, so the two tests are steps
 * sharing one server and one Chromium.
 */
/// <reference lib="dom" />
import assert from "node:assert/strict";
import { Passage } from "@passage/connect";
import type { Frame, Page } from "puppeteer-core";
import { launchWithExtension, nextTab, openClaimPage, postContinue } from "../extension/launch.ts";
import { startServer, type TestServer } from "./_harness.ts";
import { startReceiver } from "./_webhooks.ts";
import { ACCOUNT, startTestSite, TEST_PASSWORD, TEST_USER } from "./fixtures/test_site.ts";

const SHOTS = ".data/screenshots/extension";

/** The Passage bar's frame in `tab`, once it shows `origin` as the page's. */
async function barShowing(tab: Page, origin: string, text?: RegExp): Promise<Frame> {
  for (;;) {
    const frame = tab.frames().find((f) => /^chrome-extension:\/\/[^/]+\/bar\.html/.test(f.url()));
    if (frame) {
      const shown = await frame.waitForFunction(
        (origin, text) =>
          document.getElementById("origin")?.textContent === origin &&
          (text === null || new RegExp(text).test(document.body.innerText)),
        { timeout: 10_000, polling: "mutation" },
        origin,
        text?.source ?? null,
      ).then(() => true, () => false);
      if (shown) return frame;
    }
    await new Promise<void>((resolve) => tab.once("frameattached", () => resolve()));
  }
}

/** Runs `test` with a server and the shared Chromium, printing the extension's log on failure. */
function withLogs(chrome: { logs: string[] }, test: () => Promise<void>): () => Promise<void> {
  return async () => {
    const from = chrome.logs.length;
    try {
      await test();
    } catch (error) {
      console.error(chrome.logs.slice(from).join("\n"));
      throw error;
    }
  };
}

// One server and one Chromium for the file: the extension is built for the
// server's origin (its content script's match) before Chromium loads it.
let server: TestServer;
let site: Awaited<ReturnType<typeof startTestSite>>;
let chrome: Awaited<ReturnType<typeof launchWithExtension>>;

Deno.test({
  name: "the browser extension, as the user's device",
  async fn(t) {
    site = await startTestSite();
    server = await startServer({ allowLoopbackWebhooks: true });
    try {
      chrome = await launchWithExtension([server.url], [site.url]);
      try {
        await t.step(
          "the extension runs a Sessions API session in the user's own browser, with the device's rules",
          withLogs(chrome, sessionsApiSession),
        );
        await t.step(
          "a Connect link from the real claim page: Continue in this browser, one login, a signed webhook",
          withLogs(chrome, connectLink),
        );
      } finally {
        await chrome.close();
      }
    } finally {
      await server.close();
      await site.close();
    }
  },
});

async function sessionsApiSession(): Promise<void> {
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const session = await passage.sessions.create({ allowedOrigins: [site.url] });
  const tab = await postContinue(chrome.browser, session.appClipUrl!, session.claimCode!);
  const browser = await session.connect();
  try {
    await browser.navigate({ url: `${site.url}/login` });
    const yielded = browser.yieldToUser({
      status: { subheading: "Log in to continue..." },
      conditions: [{ type: "networkRequest", urlContains: "api/account", captureBody: true }],
      timeout: 60_000,
    });
    const human = (async () => {
      await tab.waitForSelector("#username");
      await tab.type("#username", TEST_USER);
      await tab.type("#password", TEST_PASSWORD);
      await tab.click("#submit");
    })();
    const [result] = await Promise.all([yielded, human]);
    assert.deepEqual(JSON.parse(result.networkCapture!.responseBody!), ACCOUNT);
    await browser.navigate({ url: `${site.url}/settings` });
    const html = await browser.innerHTML({ selector: ".account-details" });
    assert.match(html, new RegExp(ACCOUNT.email));
    // the same rules as the reference device: a copy, a sandbox, the secret set
    assert.equal(await browser.evaluate({ expression: "document.cookie" }), "");
    await assert.rejects(
      browser.evaluate({ expression: "fetch('https://example.com/')" }),
      /evaluation_failed/,
    );
    await assert.rejects(browser.navigate({ url: "https://example.com/" }), /refused/);
    const everything = JSON.stringify([
      result,
      html,
      await browser.evaluate({ expression: "document.documentElement.outerHTML" }),
    ]);
    assert.ok(!everything.includes(TEST_PASSWORD), "the password came back");
    await barShowing(tab, site.url);
    await Deno.mkdir(SHOTS, { recursive: true });
    await tab.screenshot({ path: `${SHOTS}/session-tab.png` });
  } finally {
    await browser.close();
    await passage.sessions.end(session.id).catch(() => {});
    await tab.close().catch(() => {});
  }
}

async function connectLink(): Promise<void> {
  await using receiver = startReceiver({
    verify: { publicKeyUrl: `${server.url}/webhook_verification_key/get` },
  });
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const link = await passage.links.create({
    provider: "tmobile",
    operations: [{ type: "mobileBillingStatement:read" }, { type: "paymentMethod:read" }],
    webhookUrl: receiver.url,
  });
  const claimPage = await openClaimPage(chrome.browser, link.appClipUrl!);
  let tab: Page | null = null;
  try {
    // the claim page offers the extension once it has announced itself
    const button = await claimPage.waitForSelector("#continue-here", {
      visible: true,
      timeout: 10_000,
    });
    const opened = nextTab(chrome.browser);
    await button!.click();
    tab = await opened;
    // a tab in the background: no animation frames, so watch for changes instead
    await claimPage.waitForFunction(
      () => document.getElementById("continue-status")?.textContent === "Continue in the new tab.",
      { timeout: 10_000, polling: "mutation" },
    );

    // the user, in the tab the extension opened: the sandbox T-Mobile's login, then MFA
    await tab.waitForSelector("#username", { timeout: 30_000 });
    const sandbox = new URL(tab.url()).origin;
    assert.equal(sandbox, server.url, "the test link's sandbox lives on the server");
    await barShowing(tab, sandbox, /Your turn/);
    await Deno.mkdir(SHOTS, { recursive: true });
    await tab.screenshot({ path: `${SHOTS}/connect-login.png` });
    await tab.type("#username", "user_good");
    await tab.type("#password", "pass_good");
    await tab.click("#submit");
    await tab.waitForSelector("#mfa-code");
    await tab.type("#mfa-code", "1234");
    await tab.click("#mfa-submit");

    const [received] = await receiver.waitFor(1, 60_000);
    assert.equal(received.verifyError, undefined, String(received.verifyError));
    const payload = received.payload!;
    assert.equal(payload.linkId, link.id);
    assert.equal(payload.status, "complete", JSON.stringify(payload.error));
    assert.equal(payload.type, "link.completed");
    // the device declared itself; nothing attests it
    assert.deepEqual(
      { kind: payload.device?.kind, attestation: payload.device?.attestation },
      { kind: "extension", attestation: "none" },
    );
    const billing = payload.results!["mobileBillingStatement:read"]!;
    assert.equal(billing.amountDue, "142.50");
    assert.equal(billing.currency, "USD");
    const methods = (payload.results!["paymentMethod:read"] as {
      paymentMethods: Array<{ brand?: string; last4: string }>;
    }).paymentMethods;
    assert.ok(methods.some((m) => m.brand?.toLowerCase() === "visa" && m.last4 === "4242"));
    assert.ok(!JSON.stringify(payload).includes("pass_good"), "the password came back");

    const done = await passage.links.get(link.id);
    assert.equal(done.status, "complete");
    // the bar says the session is over, and the tab stays the user's
    await barShowing(tab, new URL(tab.url()).origin, /session is over|session ended/);
    await tab.screenshot({ path: `${SHOTS}/connect-finished.png` });
  } finally {
    await tab?.close().catch(() => {});
    await claimPage.close().catch(() => {});
  }
}
