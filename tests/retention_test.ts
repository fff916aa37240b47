/**
 * Retention: what Passage keeps about a finished link, and for how long.
 * Time passing is simulated by sweeping with a `now` in the future or by
 * rewriting a stored expiry; nothing waits.
 */
import { fixedClock } from "../lib/services.ts";
import assert from "node:assert/strict";
import { prepareResults, transitionLink } from "../lib/links.ts";
import { addWebhookEvent, purgeExpiredWebhookEvents } from "../lib/webhooks.ts";
import { linkResultsKey } from "../lib/kv_keys.ts";
import { createLinkViaApi, startServer, type TestServer } from "./_harness.ts";

const RESULTS = { "paymentMethod:read": { paymentMethods: [] } };

/** Finishes a link as the engine does, through the lifecycle's door: results and webhook event in its commit. */
async function finish(server: TestServer, linkId: string, webhook: boolean) {
  const keep = await prepareResults(server.services, linkId, RESULTS, 60_000);
  await transitionLink(server.services, linkId, "claimed");
  await transitionLink(server.services, linkId, "running");
  let eventId: string | null = null;
  await transitionLink(server.services, linkId, "complete", {
    patch: { webhookUrl: webhook ? "https://receiver.test/hook" : null },
    extra: (op, next) => {
      keep(op);
      eventId = addWebhookEvent(server.services, op, next, {
        status: "complete",
        results: RESULTS,
      });
    },
  });
  return eventId;
}

Deno.test("a finished link's results are served until their retention ends, then no more", async () => {
  await using server = await startServer({ useQueues: false });
  const link = await createLinkViaApi(server);
  await finish(server, link.id, false);
  assert.deepEqual((await server.api(`/v1/links/${link.id}`)).body.results, RESULTS);

  const stored = await server.kv.get<{ expiresAt: string }>(linkResultsKey(link.id));
  await server.kv.set(stored.key, {
    ...stored.value!,
    expiresAt: new Date(Date.now() - 1).toISOString(),
  });
  const later = await server.api(`/v1/links/${link.id}`);
  assert.equal(later.body.status, "complete");
  assert.equal(later.body.results, null, "results past their retention are not served");
});

Deno.test("webhook events past the retention period are purged once they are no longer retried", async () => {
  await using server = await startServer({ useQueues: false });
  const done = await createLinkViaApi(server);
  const retrying = await createLinkViaApi(server);
  const doneEvent = (await finish(server, done.id, true))!;
  const retryingEvent = (await finish(server, retrying.id, true))!;
  const { webhookEventKey } = await import("../lib/kv_keys.ts");
  const record = await server.kv.get<{ status: string }>(webhookEventKey(doneEvent));
  await server.kv.set(record.key, { ...record.value!, status: "delivered" });

  const day = 24 * 60 * 60 * 1000;
  assert.equal(server.config.resultRetentionSeconds * 1000, 7 * day);
  assert.equal(await purgeExpiredWebhookEvents(server.services), 0, "nothing is old yet");
  const later = { ...server.services, clock: fixedClock(Date.now() + 8 * day) };
  assert.equal(await purgeExpiredWebhookEvents(later), 1);
  assert.equal((await server.kv.get(webhookEventKey(doneEvent))).value, null);
  assert.ok((await server.kv.get(webhookEventKey(retryingEvent))).value, "a pending event stays");
  let text = "";
  for await (const { value } of server.kv.list({ prefix: [] })) {
    text += value instanceof Uint8Array ? new TextDecoder().decode(value) : JSON.stringify(value);
  }
  assert.ok(!text.includes(doneEvent), "nothing of the purged event is left");
});
