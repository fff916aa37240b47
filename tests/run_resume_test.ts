// deno-lint-ignore-file no-explicit-any
/**
 * A run that resumes: real server processes on one KV file behind one front
 * (as instances behind a load balancer, one public URL), the reference device
 * on a real headless Chromium and the test as the human logging in. The
 * process holding a link's run is SIGKILLed between two operations (the
 * fixture provider `acme-held` makes it wait there); another process takes
 * the link over, and:
 * - while the device's browser is still logged in, the run goes on from the
 *   operation that was not done, with no second login and one webhook;
 * - once the browser has lost its session, the user is asked to log in again
 *   and the link still completes.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { HTTPRequest } from "puppeteer-core";
import type { Browser as Chromium } from "puppeteer-core";
import { launchChromium, startDevice } from "../device/mod.ts";
import { linkKey, linkResultsKey } from "../lib/kv_keys.ts";
import { loadJson } from "../lib/kv_blobs.ts";
import { transitionLink } from "../lib/lifecycle.ts";
import { prepareResults } from "../lib/links.ts";
import { retryLockedCommits } from "../lib/kv_retry.ts";
import type { LinkRecord, StoredResults } from "../lib/links.ts";
import { claim, createLinkViaApi, request, startServer } from "./_harness.ts";
import { firstTurn, submitCode, submitPassword, Turns } from "./_human.ts";
import { startFront } from "./_proxy.ts";
import { tempKvFile } from "./_relay_helpers.ts";
import { createKeyWithCli, type ServerProcess, startProcess } from "./_server_process.ts";
import { startReceiver } from "./_webhooks.ts";

const PROVIDERS_DIR = fileURLToPath(new URL("./fixtures/resume_providers", import.meta.url));
const OPERATIONS = [{ type: "paymentMethod:read" }, { type: "accountOwnership:verify" }];
/** The operation the first process waits in, so it dies between the two. */
const HELD = "accountOwnership:verify";

const count = (events: any[], type: string) => events.filter((e) => e.type === type).length;

/**
 * A link of `acme-held` logged in on a device and killed mid-operations: runs
 * `afterKill` once its run's process is gone and another one is up.
 */
async function killedMidOperations(
  chromium: Chromium,
  beforeKill: (device: { page: import("puppeteer-core").Page }) => Promise<void>,
  afterKill: (ctx: {
    api: (path: string) => Promise<any>;
    linkId: string;
    killedAt: number;
    turns: Turns;
    page: import("puppeteer-core").Page;
    logins: () => number;
    webhook: () => Promise<any>;
  }) => Promise<void>,
): Promise<void> {
  await using kvFile = await tempKvFile("passage_run_resume_");
  const apiKey = await createKeyWithCli(kvFile.path);
  await using front = startFront();
  await using receiver = startReceiver({
    verify: { publicKeyUrl: `${front.url}/webhook_verification_key/get` },
  });
  const env = {
    PASSAGE_PUBLIC_URL: front.url,
    PASSAGE_PROVIDERS_DIR: PROVIDERS_DIR,
    PASSAGE_WEBHOOK_ALLOW_LOOPBACK: "1",
  };
  const processes: ServerProcess[] = [];
  const start = async (extra: Record<string, string> = {}) => {
    const p = await startProcess(kvFile.path, { ...env, ...extra });
    processes.push(p);
    front.add(Number(new URL(p.url).port));
    return p;
  };
  try {
    // Only A at first: the run is A's, and A waits in the second operation.
    const a = await start({ PASSAGE_FIXTURE_HOLD_OPERATION: HELD });
    const api = (path: string) => request(`${front.url}${path}`, { apiKey });
    const created = await request(`${front.url}/v1/links`, {
      method: "POST",
      apiKey,
      json: { provider: "acme-held", operations: OPERATIONS, webhookUrl: receiver.url },
    });
    assert.equal(created.status, 201, created.text);
    const linkId: string = created.body.id;
    const turns = new Turns();
    await using device = await startDevice({
      server: front.url,
      claimCode: created.body.claimCode,
      browser: chromium,
      onStatus: turns.onStatus,
    });
    // The human's logins, as the sandbox site receives them.
    let logins = 0;
    device.page.on("request", (req: HTTPRequest) => {
      if (req.method() === "POST" && new URL(req.url()).pathname.endsWith("/login")) logins++;
    });
    await turns.next(firstTurn, 0);
    await submitPassword(device.page, "user_good", "pass_good");
    await submitCode(device.page, "1234");

    // Wait until A is in the second operation: the first is done, and its result is kept.
    for (;;) {
      const link = await api(`/v1/links/${linkId}`);
      assert.equal(link.body.status, "running", link.text);
      assert.equal(link.body.results, null, "results kept so far are never served");
      if (link.body.operations[1].status === "running") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    {
      const kv = retryLockedCommits(await Deno.openKv(kvFile.path));
      try {
        const record = (await kv.get<LinkRecord>(linkKey(linkId))).value!;
        assert.ok(record.loginAt, "the login is recorded as it succeeds");
        const stored = (await kv.get<StoredResults>(linkResultsKey(linkId))).value!;
        const partial = await loadJson(kv, stored.results) as Record<string, unknown>;
        assert.deepEqual(Object.keys(partial), ["paymentMethod:read"]);
      } finally {
        kv.close();
      }
    }
    await beforeKill(device);
    await start(); // B, which does not wait
    a.kill("SIGKILL");
    await a.status;
    const killedAt = Date.now();
    const webhook = async () => {
      const [delivery] = await receiver.waitFor(1, 60_000);
      if (delivery.verifyError) throw delivery.verifyError;
      return delivery.payload!;
    };
    await afterKill({
      api,
      linkId,
      killedAt,
      turns,
      page: device.page,
      logins: () => logins,
      webhook,
    });
    // Exactly one webhook: one event for the link, delivered once.
    const hooks = await api(`/v1/links/${linkId}/webhooks`);
    assert.equal(hooks.status, 200, hooks.text);
    assert.equal(hooks.body.data.length, 1, hooks.text);
    assert.equal(receiver.requests.length, 1);
  } catch (err) {
    const outputs = processes.map((p, i) => `--- process ${i}\n${p.output()}`).join("\n");
    throw new Error(`${(err as Error).stack}\n${outputs}`);
  } finally {
    for (const p of processes) await p[Symbol.asyncDispose]();
  }
}

Deno.test("a link whose run's process is SIGKILLed mid-operations resumes elsewhere", async (t) => {
  const chromium = await launchChromium();
  try {
    await t.step(
      "with the browser still logged in: no second login, every result, one webhook",
      () =>
        killedMidOperations(
          chromium,
          async () => {},
          async ({ api, linkId, killedAt, logins, webhook }) => {
            const payload = await webhook();
            assert.equal(payload.status, "complete", JSON.stringify(payload.error));
            assert.deepEqual(Object.keys(payload.results ?? {}).sort(), [
              "accountOwnership:verify",
              "paymentMethod:read",
            ]);
            const link = (await api(`/v1/links/${linkId}`)).body;
            assert.equal(link.status, "complete");
            assert.deepEqual(link.operations.map((op: any) => op.status), ["complete", "complete"]);
            assert.equal(link.results["paymentMethod:read"].paymentMethods.length, 1);
            assert.equal(link.results["accountOwnership:verify"].verified, true);
            // The human logged in once; the first operation ran once.
            assert.equal(logins(), 1);
            assert.equal(count(link.events, "login_started"), 1);
            assert.equal(count(link.events, "login_succeeded"), 1);
            const started = link.events.filter((e: any) => e.type === "operation_started");
            assert.deepEqual(started.map((e: any) => e.operation), [
              "paymentMethod:read",
              "accountOwnership:verify",
              "accountOwnership:verify",
            ]);
            // Taken over within 10 s of the kill (a 6 s lease and the 2 s check).
            const resumed = link.events.find((e: any) => e.type === "run_resumed");
            assert.ok(resumed, JSON.stringify(link.events));
            const tookMs = Date.parse(resumed.at) - killedAt;
            assert.ok(tookMs < 10_000, `taken over ${tookMs} ms after the kill`);
            console.log(`taken over ${tookMs} ms after the kill`);
          },
        ),
    );

    await t.step(
      "with the browser's session gone: the user is asked to log in again and the link completes",
      () =>
        killedMidOperations(
          chromium,
          async ({ page }) => {
            // The site's session ends while the run waits (its cookie is gone).
            await page.deleteCookie(...await page.cookies());
          },
          async ({ api, linkId, turns, page, logins, webhook }) => {
            await turns.next(firstTurn);
            await submitPassword(page, "user_good", "pass_good");
            await submitCode(page, "1234");
            const payload = await webhook();
            assert.equal(payload.status, "complete", JSON.stringify(payload.error));
            const link = (await api(`/v1/links/${linkId}`)).body;
            assert.deepEqual(Object.keys(link.results).sort(), [
              "accountOwnership:verify",
              "paymentMethod:read",
            ]);
            assert.equal(logins(), 2);
            assert.equal(count(link.events, "login_started"), 2);
            assert.equal(count(link.events, "run_resumed"), 0);
            // A new login may be another account: every operation runs again after it.
            assert.equal(count(link.events, "operation_started"), 4);
          },
        ),
    );
  } finally {
    await chromium.close();
  }
});

Deno.test("results a run kept go when its link fails, and stay when it completes", async () => {
  await using server = await startServer();
  const { kv } = server;
  const keepAndEnd = async (to: "failed" | "complete") => {
    const link = await createLinkViaApi(server);
    assert.equal((await claim(server, link.claimCode)).status, 200);
    await transitionLink(server.services, link.id, "running", { from: ["claimed"] });
    const keep = await prepareResults(
      server.services,
      link.id,
      { "paymentMethod:read": {} },
      60_000,
    );
    const op = kv.atomic();
    keep(op);
    assert.ok((await op.commit()).ok);
    await transitionLink(server.services, link.id, to, { from: ["running"] });
    return (await kv.get(linkResultsKey(link.id))).value;
  };
  assert.equal(await keepAndEnd("failed"), null);
  assert.notEqual(await keepAndEnd("complete"), null);
});
