import assert from "node:assert/strict";
import { createApiKey } from "../lib/api_keys.ts";
import { assertError, LINK_BODY, startServer, type TestServer } from "./_harness.ts";

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
