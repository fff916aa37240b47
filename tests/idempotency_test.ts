/**
 * `Idempotency-Key` on every POST that creates or acts (`idempotent: true` in
 * `lib/http.ts`): the first success is replayed to a repeat of the same
 * request, another request with the key is a 422, concurrent repeats wait for
 * the first answer, and bad input does not use up a key.
 */
import assert from "node:assert/strict";
import { createApiKey } from "../lib/api_keys.ts";
import {
  type ApiResult,
  assertError,
  createLinkViaApi,
  LINK_BODY,
  startServer,
  type TestServer,
} from "./_harness.ts";
import { COMPLETE, finishLink, startReceiver, waitForEvent } from "./_webhooks.ts";

function createWithKey(
  server: TestServer,
  key: string,
  body: unknown = LINK_BODY,
  apiKey?: string,
) {
  return server.api("/v1/links", {
    method: "POST",
    json: body,
    headers: { "idempotency-key": key },
    apiKey,
  });
}

Deno.test("a repeated Idempotency-Key with the same body replays the first link", async () => {
  await using server = await startServer();
  const first = await createWithKey(server, "order-1");
  assert.equal(first.status, 201, first.text);
  assert.equal(first.headers.get("idempotent-replayed"), null);

  const replay = await createWithKey(server, "order-1");
  assert.equal(replay.status, 201, replay.text);
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.equal(replay.body.id, first.body.id);
  assert.equal(replay.body.claimCode, first.body.claimCode);
  assert.deepEqual(replay.body, first.body);

  const list = await server.api("/v1/links");
  assert.deepEqual(list.body.data.map((l: { id: string }) => l.id), [first.body.id]);
});

Deno.test("an Idempotency-Key replay ignores the order of the body's fields", async () => {
  await using server = await startServer();
  const first = await createWithKey(server, "k", {
    provider: "tmobile",
    operations: [{ type: "paymentMethod:read" }],
    metadata: { a: "1", b: "2" },
  });
  assert.equal(first.status, 201);
  const replay = await createWithKey(server, "k", {
    metadata: { b: "2", a: "1" },
    operations: [{ type: "paymentMethod:read" }],
    provider: "tmobile",
  });
  assert.equal(replay.status, 201);
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.equal(replay.body.id, first.body.id);
});

Deno.test("a reused Idempotency-Key with a different body answers 422 idempotency_key_reused", async () => {
  await using server = await startServer();
  const first = await createWithKey(server, "order-2");
  assert.equal(first.status, 201);
  const other = await createWithKey(server, "order-2", {
    ...LINK_BODY,
    metadata: { changed: "yes" },
  });
  assertError(other, 422, "idempotency_key_reused");
  assert.equal(other.body.error.type, "idempotency_error");
  assert.match(other.body.error.message, /order-2/);
  const list = await server.api("/v1/links");
  assert.equal(list.body.data.length, 1);
});

Deno.test("different Idempotency-Keys create different links", async () => {
  await using server = await startServer();
  const a = await createWithKey(server, "a");
  const b = await createWithKey(server, "b");
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  assert.notEqual(a.body.id, b.body.id);
  assert.equal(b.headers.get("idempotent-replayed"), null);
});

Deno.test("10 concurrent requests with one Idempotency-Key create exactly one link", async () => {
  await using server = await startServer();
  const results = await Promise.all(
    Array.from({ length: 10 }, () => createWithKey(server, "burst")),
  );
  for (const r of results) assert.equal(r.status, 201, r.text);
  const ids = new Set(results.map((r) => r.body.id));
  assert.equal(ids.size, 1, [...ids].join(","));
  const codes = new Set(results.map((r) => r.body.claimCode));
  assert.equal(codes.size, 1);
  assert.equal(results.filter((r) => r.headers.get("idempotent-replayed") === null).length, 1);

  const list = await server.api("/v1/links");
  assert.deepEqual(list.body.data.map((l: { id: string }) => l.id), [...ids]);
  const stored = await Array.fromAsync(server.kv.list({ prefix: ["links"] }));
  assert.equal(stored.length, 1);
});

Deno.test("the same Idempotency-Key under two API keys creates two links", async () => {
  await using server = await startServer();
  const other = await createApiKey(server.kv, { name: "other" });
  const a = await createWithKey(server, "shared");
  const b = await createWithKey(server, "shared", LINK_BODY, other.secret);
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  assert.equal(b.headers.get("idempotent-replayed"), null);
  assert.notEqual(a.body.id, b.body.id);
  assert.notEqual(a.body.claimCode, b.body.claimCode);
  const listA = await server.api("/v1/links");
  const listB = await server.api("/v1/links", { apiKey: other.secret });
  assert.deepEqual(listA.body.data.map((l: { id: string }) => l.id), [a.body.id]);
  assert.deepEqual(listB.body.data.map((l: { id: string }) => l.id), [b.body.id]);
});

Deno.test("an Idempotency-Key over 255 characters is rejected naming the header", async () => {
  await using server = await startServer();
  const res = await createWithKey(server, "k".repeat(256));
  assertError(res, 400, "invalid_request", "Idempotency-Key");
  const ok = await createWithKey(server, "k".repeat(255));
  assert.equal(ok.status, 201, ok.text);
});

Deno.test("a request rejected for its body does not use up its Idempotency-Key", async () => {
  await using server = await startServer();
  const bad = await createWithKey(server, "retry-me", { ...LINK_BODY, provider: "nosuchtelco" });
  assertError(bad, 400, "unsupported_provider", "provider");
  const good = await createWithKey(server, "retry-me");
  assert.equal(good.status, 201, good.text);
  assert.equal(good.headers.get("idempotent-replayed"), null);
});

/** Sends `path` twice with one key; asserts the second is the first answer, replayed. */
async function assertReplayed(
  server: TestServer,
  path: string,
  json?: unknown,
): Promise<{ first: ApiResult; replay: ApiResult }> {
  const send = () =>
    server.api(path, { method: "POST", json, headers: { "idempotency-key": `k-${path}` } });
  const first = await send();
  assert.ok(first.status >= 200 && first.status < 300, `${path}: ${first.status} ${first.text}`);
  assert.equal(first.headers.get("idempotent-replayed"), null, path);
  const replay = await send();
  assert.equal(replay.status, first.status, `${path}: ${replay.text}`);
  assert.equal(replay.headers.get("idempotent-replayed"), "true", path);
  assert.deepEqual(replay.body, first.body, path);
  assert.match(replay.headers.get("content-type") ?? "", /^application\/json/);
  return { first, replay };
}

Deno.test("every POST that creates or acts replays its first answer to a repeated Idempotency-Key", async () => {
  await using server = await startServer();
  const sessions = await assertReplayed(server, "/v1/sessions", {});
  const listed = await server.api("/v1/sessions");
  assert.deepEqual(listed.body.data.map((s: { id: string }) => s.id), [sessions.first.body.id]);

  await assertReplayed(server, `/v1/sessions/${sessions.first.body.id}/end`);
  const link = await createLinkViaApi(server);
  await assertReplayed(server, `/v1/links/${link.id}/cancel`);

  // A blocked address: the event's delivery fails at once, and redelivery is allowed.
  const hooked = await createLinkViaApi(server, {
    ...LINK_BODY,
    webhookUrl: "https://127.0.0.1:9/hook",
  });
  const eventId = (await finishLink(server, hooked.id, COMPLETE))!;
  await waitForEvent(server.kv, eventId, (e) => e.attempts >= 1 && e.lease === null);
  const redelivered = await assertReplayed(server, `/v1/links/${hooked.id}/webhooks/redeliver`);
  assert.equal(redelivered.first.body.eventId, eventId);
  const webhooks = await server.api(`/v1/links/${hooked.id}/webhooks`);
  assert.equal(webhooks.body.data[0].attempts.length, 2, "one manual attempt, not two");
});

Deno.test("a repeated POST /v1/webhooks/test sends once, also while the first is still waiting for its receiver", async () => {
  await using server = await startServer({ allowLoopbackWebhooks: true });
  await using receiver = startReceiver({ replies: ["hang"] });
  const send = () =>
    server.api("/v1/webhooks/test", {
      method: "POST",
      json: { url: receiver.url },
      headers: { "idempotency-key": "test-once" },
    });
  const first = send();
  await receiver.waitFor(1); // the first request is running, holding the key
  const second = send();
  receiver.release();
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.status, 200, a.text);
  assert.equal(b.status, 200, b.text);
  assert.equal(a.headers.get("idempotent-replayed"), null);
  assert.equal(b.headers.get("idempotent-replayed"), "true");
  assert.equal(b.body.eventId, a.body.eventId);
  assert.equal(receiver.requests.length, 1);
});

Deno.test("an Idempotency-Key is kept per operation and path: another route or another link is its own request", async () => {
  await using server = await startServer();
  const [a, b] = [await createLinkViaApi(server), await createLinkViaApi(server)];
  const cancel = (id: string) =>
    server.api(`/v1/links/${id}/cancel`, {
      method: "POST",
      headers: { "idempotency-key": "same" },
    });
  assert.equal((await cancel(a.id)).status, 200);
  // The same key on another link's cancel is another request: refused, and b stays pending.
  assertError(await cancel(b.id), 422, "idempotency_key_reused");
  assert.equal((await server.api(`/v1/links/${b.id}`)).body.status, "pending");
  // The same key on another operation is unrelated.
  const session = await server.api("/v1/sessions", {
    method: "POST",
    json: {},
    headers: { "idempotency-key": "same" },
  });
  assert.equal(session.status, 201, session.text);
  assert.equal(session.headers.get("idempotent-replayed"), null);
});

Deno.test("two API keys of one account and mode share Idempotency-Keys; the other mode does not", async () => {
  await using server = await startServer();
  const sibling = await createApiKey(server.kv, {
    name: "sibling",
    mode: "test",
    accountId: server.accountId,
  });
  const live = await createApiKey(server.kv, {
    name: "live",
    mode: "live",
    accountId: server.accountId,
  });
  const first = await createWithKey(server, "shared-in-account");
  const again = await createWithKey(server, "shared-in-account", LINK_BODY, sibling.secret);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(again.body.id, first.body.id);
  const other = await createWithKey(server, "shared-in-account", LINK_BODY, live.secret);
  assert.equal(other.status, 201, other.text);
  assert.equal(other.headers.get("idempotent-replayed"), null);
  assert.notEqual(other.body.id, first.body.id);
});

Deno.test("an error answer is not kept: the same key runs again once the request can succeed", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server, {
    ...LINK_BODY,
    webhookUrl: "https://127.0.0.1:9/hook",
  });
  const redeliver = () =>
    server.api(`/v1/links/${link.id}/webhooks/redeliver`, {
      method: "POST",
      headers: { "idempotency-key": "redeliver-1" },
    });
  assertError(await redeliver(), 409, "no_webhook_event");
  const eventId = (await finishLink(server, link.id, COMPLETE))!;
  await waitForEvent(server.kv, eventId, (e) => e.attempts >= 1 && e.lease === null);
  const again = await redeliver();
  assert.equal(again.status, 200, again.text);
  assert.equal(again.headers.get("idempotent-replayed"), null);
  assert.equal(again.body.eventId, eventId);
});
