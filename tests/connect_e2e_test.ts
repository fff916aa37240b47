/**
 * The seed's Connect example, end to end: the developer creates a link with the
 * SDK, the reference device (real headless Chromium) claims it, the test types
 * the sandbox's magic credentials and MFA code into the device's page as the
 * human would, the engine runs both operations after that one login, and a
 * webhook receiver on loopback verifies the signed event with `verifyWebhook`.
 */
import { fixedClock } from "../lib/services.ts";
import assert from "node:assert/strict";
import { type OperationType, Passage, verifyWebhook, type WebhookPayload } from "@passage/connect";
import type { Page } from "puppeteer-core";
import { startDevice } from "../device/mod.ts";
import { sweepSessions } from "../lib/sessions.ts";
import { startServer, type TestServer } from "./_harness.ts";
import { retryWith, Turns } from "./_human.ts";

/** A loopback webhook receiver that verifies every delivery it gets. */
function startReceiver(server: TestServer) {
  const payloads: WebhookPayload[] = [];
  const errors: unknown[] = [];
  let notify = () => {};
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    try {
      payloads.push(
        await verifyWebhook(req, {
          jwksUrl: `${server.url}/.well-known/jwks.json`,
        }),
      );
    } catch (err) {
      errors.push(err);
    }
    notify();
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${http.addr.port}/passage/webhook`,
    payloads,
    errors,
    /** The next verified payload for `linkId`. */
    async next(linkId: string): Promise<WebhookPayload> {
      for (;;) {
        const found = payloads.find((p) => p.linkId === linkId);
        if (found) return found;
        if (errors.length) throw errors[0];
        await new Promise<void>((resolve) => notify = resolve);
      }
    },
    close: () => http.shutdown(),
  };
}

/**
 * The developer's part (a link with a webhook to `receiver`) and the user's
 * (the device claims it); resolves once the human has control of the login.
 */
async function linkOnDevice(
  server: TestServer,
  receiver: { url: string },
  operations: Array<{ type: OperationType }> = [
    { type: "mobileBillingStatement:read" },
    { type: "paymentMethod:read" },
  ],
) {
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const link = await passage.links.create({
    provider: "tmobile",
    operations,
    webhookUrl: receiver.url,
  });
  const turns = new Turns();
  const device = await startDevice({
    server: server.url,
    claimCode: link.claimCode!,
    onStatus: turns.onStatus,
  });
  await turns.next(() => true, 0);
  return { passage, link, device, turns };
}

/** What the human does on the device: the login form, then (optionally) the MFA step. */
async function logInAsHuman(page: Page, username: string, password: string, mfa?: string) {
  await page.waitForSelector("#username");
  await page.type("#username", username);
  await page.type("#password", password);
  await page.click("#submit");
  if (mfa === undefined) return;
  await page.waitForSelector("#mfa-code");
  await page.type("#mfa-code", mfa);
  await page.click("#mfa-submit");
}

Deno.test("the seed's Connect example: one login on the device, two operations, a verified webhook with the sandbox's figures", async () => {
  const server = await startServer({ allowLoopbackWebhooks: true });
  const receiver = startReceiver(server);
  try {
    const { passage, link, device } = await linkOnDevice(server, receiver);
    await using _device = device;
    await logInAsHuman(device.page, "user_good", "pass_good", "1234");

    const payload = await receiver.next(link.id);
    assert.equal(payload.status, "complete", JSON.stringify(payload.error));
    assert.equal(payload.type, "link.completed");
    assert.equal(payload.provider, "tmobile");
    const billing = payload.results!["mobileBillingStatement:read"]!;
    assert.equal(billing.amountDue, "142.50");
    assert.equal(billing.periodStart, "2025-02-01");
    assert.equal(billing.periodEnd, "2025-02-28");
    assert.equal(billing.currency, "USD");
    const methods = (payload.results!["paymentMethod:read"] as {
      paymentMethods: Array<{ brand?: string; last4: string }>;
    }).paymentMethods;
    assert.ok(methods.some((m) => m.brand?.toLowerCase() === "visa" && m.last4 === "4242"));

    const done = await passage.links.get(link.id);
    assert.equal(done.status, "complete");
    assert.deepEqual(done.operations.map((o) => o.status), ["complete", "complete"]);
    assert.deepEqual(done.results, payload.results);
    assert.equal((await device.ended).reason, "completed");
  } finally {
    await server.close();
    await receiver.close();
  }
});

const FAILURES: Array<{
  name: string;
  code: string;
  human: (page: Page, turns: Turns) => Promise<void>;
  config?: Parameters<typeof startServer>[0];
}> = [
  {
    name: "a wrong password on each of the 3 attempts",
    code: "invalid_credentials",
    human: async (page, turns) => {
      await logInAsHuman(page, "user_good", "not_the_password");
      await turns.next(retryWith(2));
      await logInAsHuman(page, "user_good", "still_not_it");
      await turns.next(retryWith(1));
      await logInAsHuman(page, "user_good", "nor_this");
    },
  },
  {
    name: "a locked account",
    code: "account_locked",
    human: (page) => logInAsHuman(page, "user_locked", "pass_good"),
  },
  {
    name: "a site whose data changed shape",
    code: "site_changed",
    human: (page) => logInAsHuman(page, "user_changed", "pass_good", "1234"),
  },
  {
    name: "an MFA code never entered",
    code: "mfa_timeout",
    human: async (page) => {
      await logInAsHuman(page, "user_good", "pass_good");
      await page.waitForSelector("#mfa-code");
    },
    config: { loginTimeoutMs: 3_000 },
  },
  {
    name: "a user who never logs in",
    code: "user_abandoned",
    human: async () => {},
    config: { loginTimeoutMs: 1_500 },
  },
];

for (const failure of FAILURES) {
  Deno.test(`${failure.name} fails the link with ${failure.code} and a failed webhook`, async () => {
    const server = await startServer({ allowLoopbackWebhooks: true, ...failure.config });
    const receiver = startReceiver(server);
    try {
      const { passage, link, device, turns } = await linkOnDevice(server, receiver);
      await using _device = device;
      await failure.human(device.page, turns);
      const payload = await receiver.next(link.id);
      assert.equal(payload.status, "failed");
      assert.equal(payload.type, "link.failed");
      assert.equal(payload.error?.code, failure.code, payload.error?.message);
      assert.equal(payload.results, undefined, "a failed link delivers no results");
      const stored = await passage.links.get(link.id);
      assert.equal(stored.status, "failed");
      assert.equal(stored.error?.code, failure.code);
      assert.equal(stored.results, null);
    } finally {
      await server.close();
      await receiver.close();
    }
  });
}

Deno.test("a device that goes away mid-login fails the link with device_lost", async () => {
  const server = await startServer({ allowLoopbackWebhooks: true });
  const receiver = startReceiver(server);
  try {
    const { link, device } = await linkOnDevice(server, receiver, [{ type: "paymentMethod:read" }]);
    await device.close();
    // The device stays away past the grace period: the sweep ends the session.
    const later = Date.now() + (server.config.deviceGraceSeconds + 1) * 1000;
    let ended = 0;
    while (ended === 0) {
      ended = await sweepSessions({ ...server.services, clock: fixedClock(later) });
    }
    const payload = await receiver.next(link.id);
    assert.equal(payload.error?.code, "device_lost");
  } finally {
    await server.close();
    await receiver.close();
  }
});
