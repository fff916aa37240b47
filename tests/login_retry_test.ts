/**
 * A device that forgives: a wrong password or verification code hands the
 * login back to the user (a fresh page, a status saying how many attempts are
 * left) until the provider's `loginAttempts` are used up; a locked account
 * still fails at once. Real server, real reference device on one headless
 * Chromium, the test typing into the device's page as the human, and a real
 * webhook receiver verifying every delivery.
 */
import assert from "node:assert/strict";
import { type OperationType, Passage, type WebhookPayload } from "@passage/connect";
import type { ClientEvent } from "@passage/connect/schemas";
import type { Browser as Chromium } from "puppeteer-core";
import { getAutomation, getProvider } from "../automations/registry.ts";
import { AutomationError } from "../automations/types.ts";
import { launchChromium, startDevice } from "../device/mod.ts";
import { startServer, type TestServer } from "./_harness.ts";
import { firstTurn, retryWith, submitCode, submitPassword, Turns } from "./_human.ts";
import { type Receiver, startReceiver } from "./_webhooks.ts";

/** The verified outcome webhook (`link.completed` / `link.failed`) of `linkId`. */
async function outcomeOf(receiver: Receiver, linkId: string): Promise<WebhookPayload> {
  for (let n = 1;; n++) {
    const requests = await receiver.waitFor(n, 60_000);
    const bad = requests.find((r) => r.verifyError);
    if (bad) throw bad.verifyError;
    const found = requests.map((r) => r.payload!).find((p) =>
      p.linkId === linkId && p.type !== "link.event"
    );
    if (found) return found;
  }
}

/** A link of `provider` on a device in `chromium`, with the human's turns recorded. */
async function linkOnDevice(
  chromium: Chromium,
  server: TestServer,
  receiver: Receiver,
  provider = "tmobile",
  operations?: Array<{ type: OperationType }>,
) {
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const link = await passage.links.create({
    provider,
    operations: operations ?? [{ type: getProvider(provider)!.operations[0] }],
    webhookUrl: receiver.url,
  });
  const turns = new Turns();
  const device = await startDevice({
    server: server.url,
    claimCode: link.claimCode!,
    browser: chromium,
    onStatus: turns.onStatus,
  });
  await turns.next(firstTurn, 0);
  return { passage, link, device, turns };
}

const failedAttempts = (events: ClientEvent[]) =>
  events.filter((e) => e.type === "login_failed_attempt");

Deno.test("login retries on the reference device", async (t) => {
  const chromium = await launchChromium();
  const server = await startServer({ allowLoopbackWebhooks: true });
  const receiver = startReceiver({
    verify: { publicKeyUrl: `${server.url}/webhook_verification_key/get` },
  });
  try {
    await t.step("a wrong password, then the right one: the link completes", async () => {
      const { passage, link, device, turns } = await linkOnDevice(chromium, server, receiver);
      await using _device = device;
      await submitPassword(device.page, "user_good", "not_the_password");
      await turns.next(retryWith(2));
      await submitPassword(device.page, "user_good", "pass_good");
      await submitCode(device.page, "1234");

      const payload = await outcomeOf(receiver, link.id);
      assert.equal(payload.status, "complete", JSON.stringify(payload.error));
      const retry = turns.seen.find(retryWith(2))!;
      assert.equal(retry.heading, "Log in to T-Mobile");
      assert.match(retry.subheading!, /did not accept that username or password/);
      const stored = await passage.links.get(link.id);
      assert.deepEqual(
        failedAttempts(stored.events).map(({ attempt, attemptsLeft, step }) => ({
          attempt,
          attemptsLeft,
          step,
        })),
        [{ attempt: 1, attemptsLeft: 2, step: "password" }],
      );
    });

    await t.step(
      "a wrong password every time fails with invalid_credentials after 3 attempts",
      async () => {
        const { passage, link, device, turns } = await linkOnDevice(chromium, server, receiver);
        await using _device = device;
        await submitPassword(device.page, "user_good", "wrong-1");
        await turns.next(retryWith(2));
        await submitPassword(device.page, "user_good", "wrong-2");
        await turns.next(retryWith(1));
        await submitPassword(device.page, "user_good", "wrong-3");

        const payload = await outcomeOf(receiver, link.id);
        assert.equal(payload.status, "failed");
        assert.equal(payload.error?.code, "invalid_credentials", payload.error?.message);
        const stored = await passage.links.get(link.id);
        assert.deepEqual(failedAttempts(stored.events).map((e) => e.attemptsLeft), [2, 1, 0]);
        assert.ok(!turns.seen.some(retryWith(0)), "no turn is offered once no attempt is left");
      },
    );

    await t.step("a wrong code, then the right one: the link completes", async () => {
      const { passage, link, device, turns } = await linkOnDevice(chromium, server, receiver);
      await using _device = device;
      await submitPassword(device.page, "user_good", "pass_good");
      await submitCode(device.page, "9999");
      await turns.next(retryWith(2));
      const retry = turns.seen.find(retryWith(2))!;
      assert.equal(retry.heading, "Enter your T-Mobile verification code");
      await submitCode(device.page, "1234");

      const payload = await outcomeOf(receiver, link.id);
      assert.equal(payload.status, "complete", JSON.stringify(payload.error));
      const stored = await passage.links.get(link.id);
      assert.deepEqual(failedAttempts(stored.events).map((e) => e.step), ["mfa"]);
    });

    await t.step(
      "a wrong code every time fails with invalid_mfa_code after 3 attempts",
      async () => {
        const { link, device, turns } = await linkOnDevice(chromium, server, receiver);
        await using _device = device;
        await submitPassword(device.page, "user_good", "pass_good");
        await submitCode(device.page, "0001");
        await turns.next(retryWith(2));
        await submitCode(device.page, "0002");
        await turns.next(retryWith(1));
        await submitCode(device.page, "0003");
        const payload = await outcomeOf(receiver, link.id);
        assert.equal(payload.error?.code, "invalid_mfa_code", payload.error?.message);
      },
    );

    await t.step("a wrong password and two wrong codes share the 3 attempts", async () => {
      const { link, device, turns } = await linkOnDevice(chromium, server, receiver);
      await using _device = device;
      await submitPassword(device.page, "user_good", "wrong");
      await turns.next(retryWith(2));
      await submitPassword(device.page, "user_good", "pass_good");
      await submitCode(device.page, "0001");
      await turns.next(retryWith(1));
      await submitCode(device.page, "0002");
      const payload = await outcomeOf(receiver, link.id);
      assert.equal(payload.error?.code, "invalid_mfa_code", payload.error?.message);
    });

    await t.step("a locked account still fails at once with account_locked", async () => {
      const { passage, link, device, turns } = await linkOnDevice(chromium, server, receiver);
      await using _device = device;
      await submitPassword(device.page, "user_locked", "pass_good");
      const payload = await outcomeOf(receiver, link.id);
      assert.equal(payload.error?.code, "account_locked");
      assert.deepEqual(failedAttempts((await passage.links.get(link.id)).events), []);
      assert.ok(!turns.seen.some((s) => (s.subheading ?? "").includes("Try again")));
    });

    for (const provider of ["verizon", "pge", "doordash", "geico"]) {
      await t.step(
        `${provider}: a wrong password, then the right one, completes the link`,
        async () => {
          const { link, device, turns } = await linkOnDevice(chromium, server, receiver, provider);
          await using _device = device;
          await submitPassword(device.page, "user_good", "nope");
          await turns.next(retryWith(2));
          assert.equal(
            turns.seen.find(retryWith(2))!.heading,
            `Log in to ${getAutomation(provider)!.displayName}`,
          );
          await submitPassword(device.page, "user_good", "pass_good");
          await submitCode(device.page, "1234");
          const payload = await outcomeOf(receiver, link.id);
          assert.equal(payload.status, "complete", JSON.stringify(payload.error));
        },
      );
    }

    await t.step(
      "the attempts come from the context: loginAttempts 1 fails at the first wrong password",
      async () => {
        // The Sessions API gives the automation a Browser on the device, as the engine does.
        const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
        const session = await passage.sessions.create();
        const browser = await session.connect();
        const turns = new Turns();
        const device = await startDevice({
          server: server.url,
          claimCode: session.claimCode!,
          browser: chromium,
          onStatus: turns.onStatus,
        });
        await using _device = device;
        try {
          const events: string[] = [];
          const login = getAutomation("tmobile")!.login({
            browser,
            baseUrl: `${server.url}/sandbox/tmobile`,
            loginTimeoutMs: 30_000,
            loginAttempts: 1,
            onEvent: (e) => void events.push(`${e.type}:${e.attemptsLeft ?? ""}`),
          });
          login.catch(() => {}); // asserted below
          await turns.next(firstTurn, 0);
          await submitPassword(device.page, "user_good", "wrong");
          await assert.rejects(login, (err) => {
            assert.ok(err instanceof AutomationError);
            assert.equal(err.code, "invalid_credentials");
            return true;
          });
          assert.deepEqual(events, ["login_started:", "login_failed_attempt:0"]);
        } finally {
          await browser.close();
        }
      },
    );
  } finally {
    await receiver.close();
    await server.close();
    await chromium.close();
  }
});
