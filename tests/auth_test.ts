import assert from "node:assert/strict";
import { createApiKey, isWellFormedKey, revokeApiKey } from "../lib/api_keys.ts";
import { assertError, createLinkViaApi, LINK_BODY, startServer, storedLink } from "./_harness.ts";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `secret` with the character at `index` replaced by a different base62 character. */
function flipChar(secret: string, index: number): string {
  const ch = secret[index];
  const other = BASE62[(BASE62.indexOf(ch) + 1) % BASE62.length];
  return secret.slice(0, index) + other + secret.slice(index + 1);
}

Deno.test("a request without an Authorization header gets 401 missing_api_key", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links", { method: "POST", json: LINK_BODY, apiKey: null });
  assertError(res, 401, "missing_api_key");
  assert.equal(res.body.error.type, "authentication_error");
  const list = await server.api("/v1/links", { apiKey: null });
  assertError(list, 401, "missing_api_key");
});

Deno.test("a Basic Authorization header gets 401 invalid_api_key", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links", {
    apiKey: null,
    headers: { authorization: "Basic x" },
  });
  assertError(res, 401, "invalid_api_key");
});

Deno.test("a bearer that is not a Passage key gets 401 invalid_api_key", async () => {
  await using server = await startServer();
  for (const secret of ["nope", "sk_test_short", `sk_prod_${"a".repeat(38)}`]) {
    const res = await server.api("/v1/links", { apiKey: secret });
    assertError(res, 401, "invalid_api_key");
  }
});

Deno.test("a key with one character changed (bad checksum) gets 401 invalid_api_key", async () => {
  await using server = await startServer();
  assert.ok(isWellFormedKey(server.apiKey));
  // One change in the random part and one in the checksum itself.
  for (const index of ["sk_test_".length + 5, server.apiKey.length - 1]) {
    const typo = flipChar(server.apiKey, index);
    assert.notEqual(typo, server.apiKey);
    assert.equal(isWellFormedKey(typo), false);
    const res = await server.api("/v1/links", { apiKey: typo });
    assertError(res, 401, "invalid_api_key");
    assert.match(res.body.error.message, /malformed|checksum/i);
  }
});

Deno.test("a well-formed key that was never stored gets 401 invalid_api_key", async () => {
  await using server = await startServer();
  using elsewhere = await Deno.openKv(":memory:");
  const { secret } = await createApiKey(elsewhere, { name: "other server" });
  assert.ok(isWellFormedKey(secret));
  const res = await server.api("/v1/links", { apiKey: secret });
  assertError(res, 401, "invalid_api_key");
  assert.match(res.body.error.message, /not recognised/);
});

Deno.test("a revoked key gets 401 revoked_api_key", async () => {
  await using server = await startServer();
  const before = await server.api("/v1/links");
  assert.equal(before.status, 200);
  const revoked = await revokeApiKey(server.kv, server.keyId);
  assert.ok(revoked?.revokedAt);
  const res = await server.api("/v1/links", { method: "POST", json: LINK_BODY });
  assertError(res, 401, "revoked_api_key");
  assert.match(res.body.error.message, new RegExp(server.keyId));
});

Deno.test("revoking one key leaves other keys working", async () => {
  await using server = await startServer();
  const other = await createApiKey(server.kv, { name: "other" });
  await revokeApiKey(server.kv, server.keyId);
  const res = await server.api("/v1/links", { apiKey: other.secret });
  assert.equal(res.status, 200, res.text);
});

Deno.test("a live key creates livemode links", async () => {
  await using server = await startServer();
  const live = await createApiKey(server.kv, { name: "live", mode: "live" });
  assert.match(live.secret, /^sk_live_/);
  const link = await createLinkViaApi(server, LINK_BODY, { apiKey: live.secret });
  assert.equal(link.livemode, true);
});

Deno.test("key B cannot GET, list or cancel key A's link; it answers as a missing one", async () => {
  await using server = await startServer();
  const b = await createApiKey(server.kv, { name: "B" });
  const link = await createLinkViaApi(server);
  const storedBefore = await storedLink(server.kv, link.id);
  const missingId = "link_01JAAAAAAAAAAAAAAAAAAAAAAA";

  const getOther = await server.api(`/v1/links/${link.id}`, { apiKey: b.secret });
  const getMissing = await server.api(`/v1/links/${missingId}`, { apiKey: b.secret });
  assertError(getOther, 404, "link_not_found", "id");
  assertError(getMissing, 404, "link_not_found", "id");
  assert.deepEqual(
    withoutRequestId(getOther.body),
    withoutRequestId(JSON.parse(JSON.stringify(getMissing.body).replaceAll(missingId, link.id))),
  );

  const cancelOther = await server.api(`/v1/links/${link.id}/cancel`, {
    method: "POST",
    apiKey: b.secret,
  });
  const cancelMissing = await server.api(`/v1/links/${missingId}/cancel`, {
    method: "POST",
    apiKey: b.secret,
  });
  assertError(cancelOther, 404, "link_not_found", "id");
  assertError(cancelMissing, 404, "link_not_found", "id");
  assert.deepEqual(
    withoutRequestId(cancelOther.body),
    withoutRequestId(
      JSON.parse(JSON.stringify(cancelMissing.body).replaceAll(missingId, link.id)),
    ),
  );

  const listB = await server.api("/v1/links", { apiKey: b.secret });
  assert.equal(listB.status, 200);
  assert.deepEqual(listB.body, { object: "list", data: [], hasMore: false, nextCursor: null });

  // A's link is untouched, in the API and in storage.
  const getA = await server.api(`/v1/links/${link.id}`);
  assert.equal(getA.status, 200);
  assert.deepEqual(getA.body, link);
  assert.deepEqual(await storedLink(server.kv, link.id), storedBefore);
  const listA = await server.api("/v1/links");
  assert.deepEqual(listA.body.data, [link]);
});

Deno.test("key B's list does not leak key A's links through A's cursor", async () => {
  await using server = await startServer();
  const b = await createApiKey(server.kv, { name: "B" });
  for (let i = 0; i < 3; i++) await createLinkViaApi(server);
  const pageA = await server.api("/v1/links?limit=1");
  assert.equal(pageA.body.hasMore, true);
  const res = await server.api(
    `/v1/links?cursor=${encodeURIComponent(pageA.body.nextCursor)}`,
    { apiKey: b.secret },
  );
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.data, []);
});

/** An error body without its `request_id`, which differs on every answer. */
function withoutRequestId(body: { error: Record<string, unknown> }) {
  const { request_id: _, ...error } = body.error;
  return { error };
}
