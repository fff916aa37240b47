import assert from "node:assert/strict";
import {
  assertError,
  claim,
  CLAIM_CODE_PATTERN,
  createLinkViaApi,
  LINK_BODY,
  request,
  setLinkExpiry,
  startServer,
  storedLink,
} from "./_harness.ts";

const HOUR_MS = 60 * 60 * 1000;

// ---------------------------------------------------------------- POST /v1/links

Deno.test("POST /v1/links creates a pending link with a claim code and app clip URL", async () => {
  await using server = await startServer();
  const before = Date.now();
  const res = await server.api("/v1/links", {
    method: "POST",
    json: {
      provider: "tmobile",
      operations: [{ type: "mobileBillingStatement:read" }, { type: "paymentMethod:read" }],
      webhookUrl: "https://example.test/hooks/passage",
      metadata: { userId: "u_42" },
    },
  });
  const after = Date.now();
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(res.headers.get("idempotent-replayed"), null);
  const link = res.body;
  assert.match(link.id, /^link_[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(link.object, "link");
  assert.equal(link.status, "pending");
  assert.equal(link.provider, "tmobile");
  assert.deepEqual(link.operations, [
    { type: "mobileBillingStatement:read", status: "pending" },
    { type: "paymentMethod:read", status: "pending" },
  ]);
  assert.equal(link.error, null);
  assert.equal(link.results, null);
  assert.equal(link.completedAt, null);
  assert.equal(link.webhookUrl, "https://example.test/hooks/passage");
  assert.deepEqual(link.metadata, { userId: "u_42" });
  assert.match(link.claimCode, CLAIM_CODE_PATTERN);
  assert.equal(link.appClipUrl, `${server.url}/c/${link.claimCode}`);
  assert.ok(link.appClipUrl.startsWith(server.config.publicUrl + "/c/"));
  assert.equal(link.livemode, false);
  assert.equal(link.claimedAt, null);
  const created = Date.parse(link.createdAt);
  assert.ok(created >= before - 1 && created <= after + 1, `createdAt ${link.createdAt}`);
  assert.equal(link.updatedAt, link.createdAt);
  assert.equal(Date.parse(link.expiresAt) - created, 4 * HOUR_MS);
  for (
    const field of [
      "appClipUrl",
      "claimCode",
      "claimedAt",
      "createdAt",
      "expiresAt",
      "id",
      "livemode",
      "metadata",
      "object",
      "operations",
      "provider",
      "status",
      "updatedAt",
      "webhookUrl",
    ]
  ) assert.ok(field in link, `link has no ${field}`);
  // Nothing internal leaks: the owner and the stored (undashed) code stay inside.
  assert.equal("ownerKeyId" in link, false);
  assert.ok(!res.text.includes(link.claimCode.replace("-", "")), "normalized code leaked");
});

Deno.test("POST /v1/links defaults webhookUrl to null and metadata to {}", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  assert.equal(link.webhookUrl, null);
  assert.deepEqual(link.metadata, {});
});

Deno.test("POST /v1/links honours expiresIn", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server, { ...LINK_BODY, expiresIn: 600 });
  assert.equal(Date.parse(link.expiresAt) - Date.parse(link.createdAt), 600_000);
});

Deno.test("POST /v1/links gives each link its own id and claim code", async () => {
  await using server = await startServer();
  const a = await createLinkViaApi(server);
  const b = await createLinkViaApi(server);
  assert.notEqual(a.id, b.id);
  assert.notEqual(a.claimCode, b.claimCode);
});

Deno.test("POST /v1/links rejects an unknown provider", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links", {
    method: "POST",
    json: { ...LINK_BODY, provider: "nosuchtelco" },
  });
  assertError(res, 400, "unsupported_provider", "provider");
  assert.match(res.body.error.message, /nosuchtelco/);
});

Deno.test("POST /v1/links rejects an operation the provider does not support", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links", {
    method: "POST",
    json: { provider: "tmobile", operations: [{ type: "utilityBillingStatement:read" }] },
  });
  assertError(res, 400, "unsupported_operation", "operations.0.type");
  assert.match(res.body.error.message, /utilityBillingStatement:read/);
});

Deno.test("POST /v1/links names the position of the unsupported operation", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links", {
    method: "POST",
    json: {
      provider: "tmobile",
      operations: [{ type: "paymentMethod:read" }, { type: "orderHistory:read" }],
    },
  });
  assertError(res, 400, "unsupported_operation", "operations.1.type");
  assert.match(res.body.error.message, /orderHistory:read/);
});

const INVALID_BODIES: Array<[string, unknown, string]> = [
  ["missing operations", { provider: "tmobile" }, "operations"],
  ["empty operations", { provider: "tmobile", operations: [] }, "operations"],
  ["missing provider", { operations: LINK_BODY.operations }, "provider"],
  [
    "an unknown operation type",
    { provider: "tmobile", operations: [{ type: "x:read" }] },
    "operations.0.type",
  ],
  ["a non-http webhookUrl", { ...LINK_BODY, webhookUrl: "ftp://x" }, "webhookUrl"],
  [
    "a webhookUrl with credentials",
    { ...LINK_BODY, webhookUrl: "https://u:p@example.test/" },
    "webhookUrl",
  ],
  ["an unknown extra field", { ...LINK_BODY, colour: "blue" }, "colour"],
  [
    "duplicated operation types",
    {
      provider: "tmobile",
      operations: [{ type: "paymentMethod:read" }, { type: "paymentMethod:read" }],
    },
    "operations",
  ],
  [
    "metadata with too many keys",
    {
      ...LINK_BODY,
      metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"])),
    },
    "metadata",
  ],
  ["a non-string metadata value", { ...LINK_BODY, metadata: { n: 1 } }, "metadata.n"],
  ["expiresIn below 60", { ...LINK_BODY, expiresIn: 59 }, "expiresIn"],
  ["expiresIn above a week", { ...LINK_BODY, expiresIn: 604801 }, "expiresIn"],
  ["a fractional expiresIn", { ...LINK_BODY, expiresIn: 90.5 }, "expiresIn"],
];

for (const [what, body, param] of INVALID_BODIES) {
  Deno.test(`POST /v1/links rejects ${what} with 400 invalid_request naming "${param}"`, async () => {
    await using server = await startServer();
    const res = await server.api("/v1/links", { method: "POST", json: body });
    assertError(res, 400, "invalid_request", param);
    assert.equal(res.body.error.type, "invalid_request_error");
    // Nothing was created.
    const list = await server.api("/v1/links");
    assert.deepEqual(list.body.data, []);
  });
}

Deno.test("POST /v1/links accepts metadata with exactly 50 keys", async () => {
  await using server = await startServer();
  const metadata = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, "v"]));
  const link = await createLinkViaApi(server, { ...LINK_BODY, metadata });
  assert.deepEqual(link.metadata, metadata);
});

Deno.test("POST /v1/links rejects malformed JSON with 400 invalid_json", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"provider": "tmobile",',
  });
  assertError(res, 400, "invalid_json");
});

Deno.test("POST /v1/links rejects an empty body with 400 invalid_json", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "",
  });
  assertError(res, 400, "invalid_json");
});

Deno.test("POST /v1/links rejects a JSON body that is not an object with 400 invalid_request", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links", { method: "POST", json: [LINK_BODY] });
  assertError(res, 400, "invalid_request");
});

Deno.test("POST /v1/links rejects a body over 64 KiB with 413 payload_too_large", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links", {
    method: "POST",
    json: { ...LINK_BODY, metadata: { big: "x".repeat(65 * 1024) } },
  });
  assertError(res, 413, "payload_too_large");
});

Deno.test("POST /v1/links rejects a streamed body over 64 KiB with no Content-Length", async () => {
  await using server = await startServer();
  const chunk = new TextEncoder().encode(" ".repeat(16 * 1024));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 6) controller.enqueue(chunk);
      else controller.close();
    },
  });
  const res = await server.api("/v1/links", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: stream,
  });
  assertError(res, 413, "payload_too_large");
});

Deno.test("POST /v1/links rejects Content-Type text/plain with 415", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links", {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: JSON.stringify(LINK_BODY),
  });
  assertError(res, 415, "unsupported_media_type");
});

Deno.test("POST /v1/links accepts application/json with a charset", async () => {
  await using server = await startServer();
  await createLinkViaApi(server, LINK_BODY, {
    headers: { "content-type": "application/json; charset=utf-8" },
  });
});

Deno.test("an unknown route answers 404 JSON not_found", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/nothing-here");
  assertError(res, 404, "not_found");
  assert.match(res.body.error.message, /\/v1\/nothing-here/);
  const unauthenticated = await request(`${server.url}/nope`, { method: "DELETE" });
  assertError(unauthenticated, 404, "not_found");
});

Deno.test("GET /healthz answers ok", async () => {
  await using server = await startServer();
  const res = await request(`${server.url}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { ok: true });
});

// ---------------------------------------------------------------- GET /v1/links/:id

Deno.test("GET /v1/links/:id returns the link as it was created", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server, { ...LINK_BODY, metadata: { a: "b" } });
  const res = await server.api(`/v1/links/${link.id}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, link);
});

Deno.test("GET /v1/links/:id answers 404 link_not_found for an unknown id", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links/link_01JAAAAAAAAAAAAAAAAAAAAAAA");
  assertError(res, 404, "link_not_found", "id");
});

// ---------------------------------------------------------------- GET /v1/links

Deno.test("GET /v1/links lists links newest first", async () => {
  await using server = await startServer();
  const empty = await server.api("/v1/links");
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.body, { object: "list", data: [], hasMore: false, nextCursor: null });

  const created = [];
  for (let i = 0; i < 3; i++) created.push(await createLinkViaApi(server));
  const res = await server.api("/v1/links");
  assert.equal(res.status, 200);
  assert.equal(res.body.object, "list");
  assert.equal(res.body.hasMore, false);
  assert.equal(res.body.nextCursor, null);
  assert.deepEqual(res.body.data, created.toReversed());
});

Deno.test("GET /v1/links honours limit and reports hasMore", async () => {
  await using server = await startServer();
  const created = [];
  for (let i = 0; i < 4; i++) created.push(await createLinkViaApi(server));
  const ids = created.map((l) => l.id).toReversed();

  const two = await server.api("/v1/links?limit=2");
  assert.equal(two.status, 200);
  assert.deepEqual(two.body.data.map((l: { id: string }) => l.id), ids.slice(0, 2));
  assert.equal(two.body.hasMore, true);
  assert.equal(typeof two.body.nextCursor, "string");

  const four = await server.api("/v1/links?limit=4");
  assert.deepEqual(four.body.data.map((l: { id: string }) => l.id), ids);
  assert.equal(four.body.hasMore, false);
  assert.equal(four.body.nextCursor, null);
});

Deno.test("GET /v1/links pagination through nextCursor visits every link exactly once", async () => {
  await using server = await startServer();
  const created: string[] = [];
  for (let i = 0; i < 7; i++) created.push((await createLinkViaApi(server)).id);

  const seen: string[] = [];
  const pages: Array<{ size: number; hasMore: boolean }> = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: "3" });
    if (cursor) query.set("cursor", cursor);
    const res = await server.api(`/v1/links?${query}`);
    assert.equal(res.status, 200, res.text);
    seen.push(...res.body.data.map((l: { id: string }) => l.id));
    pages.push({ size: res.body.data.length, hasMore: res.body.hasMore });
    assert.equal(res.body.nextCursor === null, !res.body.hasMore);
    cursor = res.body.nextCursor;
    assert.ok(pages.length <= 10, "pagination does not end");
  } while (cursor);

  assert.deepEqual(seen, created.toReversed());
  assert.deepEqual(pages, [
    { size: 3, hasMore: true },
    { size: 3, hasMore: true },
    { size: 1, hasMore: false },
  ]);
});

Deno.test("GET /v1/links ends pagination cleanly when the last page is full", async () => {
  await using server = await startServer();
  const created: string[] = [];
  for (let i = 0; i < 4; i++) created.push((await createLinkViaApi(server)).id);
  const first = await server.api("/v1/links?limit=2");
  assert.equal(first.body.hasMore, true);
  const second = await server.api(
    `/v1/links?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`,
  );
  assert.equal(second.status, 200);
  assert.deepEqual(
    [...first.body.data, ...second.body.data].map((l: { id: string }) => l.id),
    created.toReversed(),
  );
  assert.equal(second.body.hasMore, false);
  assert.equal(second.body.nextCursor, null);
});

for (const limit of ["0", "101", "abc", "-1", "2.5", ""]) {
  Deno.test(`GET /v1/links rejects limit=${JSON.stringify(limit)} with 400 naming "limit"`, async () => {
    await using server = await startServer();
    const res = await server.api(`/v1/links?limit=${limit}`);
    assertError(res, 400, "invalid_request", "limit");
  });
}

Deno.test("GET /v1/links accepts limit=1 and limit=100", async () => {
  await using server = await startServer();
  await createLinkViaApi(server);
  for (const limit of ["1", "100"]) {
    const res = await server.api(`/v1/links?limit=${limit}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.data.length, 1);
  }
});

Deno.test("GET /v1/links rejects an unknown query parameter", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links?status=pending");
  assertError(res, 400, "invalid_request", "status");
});

Deno.test("GET /v1/links rejects a garbage cursor with 400 invalid_cursor", async () => {
  await using server = await startServer();
  await createLinkViaApi(server);
  for (const cursor of ["garbage", "!!!!", btoa("link_short")]) {
    const res = await server.api(`/v1/links?cursor=${encodeURIComponent(cursor)}`);
    assertError(res, 400, "invalid_cursor", "cursor");
  }
});

// ---------------------------------------------------------------- POST /v1/links/:id/cancel

Deno.test("POST /v1/links/:id/cancel cancels a pending link and clears its claim code", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  const res = await server.api(`/v1/links/${link.id}/cancel`, { method: "POST" });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.id, link.id);
  assert.equal(res.body.status, "cancelled");
  assert.equal(res.body.claimCode, null);
  assert.equal(res.body.appClipUrl, null);
  assert.ok(Date.parse(res.body.updatedAt) >= Date.parse(link.updatedAt));

  const got = await server.api(`/v1/links/${link.id}`);
  assert.deepEqual(got.body, res.body);
});

Deno.test("POST /v1/links/:id/cancel on a cancelled link answers 200 and stays cancelled", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  const first = await server.api(`/v1/links/${link.id}/cancel`, { method: "POST" });
  assert.equal(first.status, 200);
  const again = await server.api(`/v1/links/${link.id}/cancel`, { method: "POST" });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.body, first.body);
});

Deno.test("POST /v1/links/:id/cancel on an expired link answers 409 invalid_status_transition", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  await setLinkExpiry(server.kv, link.id);
  const res = await server.api(`/v1/links/${link.id}/cancel`, { method: "POST" });
  assertError(res, 409, "invalid_status_transition");
  const got = await server.api(`/v1/links/${link.id}`);
  assert.equal(got.body.status, "expired");
});

Deno.test("POST /v1/links/:id/cancel answers 404 link_not_found for an unknown id", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links/link_01JAAAAAAAAAAAAAAAAAAAAAAA/cancel", {
    method: "POST",
  });
  assertError(res, 404, "link_not_found", "id");
});

Deno.test("a cancelled link's claim code answers 409 claim_code_used on claim", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  const cancelled = await server.api(`/v1/links/${link.id}/cancel`, { method: "POST" });
  assert.equal(cancelled.status, 200);
  const res = await claim(server, link.claimCode);
  assertError(res, 409, "claim_code_used", "claimCode");
  assert.equal((await storedLink(server.kv, link.id))?.status, "cancelled");
});

Deno.test("POST /v1/links/:id/cancel cancels a claimed link", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  assert.equal((await claim(server, link.claimCode)).status, 200);
  const res = await server.api(`/v1/links/${link.id}/cancel`, { method: "POST" });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.status, "cancelled");
  assert.notEqual(res.body.claimedAt, null);
});

Deno.test("GET /v1/links returns a full default page of 20 (more than one KV getMany holds)", async () => {
  await using server = await startServer();
  for (let i = 0; i < 25; i++) await createLinkViaApi(server);
  const first = await server.api("/v1/links");
  assert.equal(first.status, 200, first.text);
  assert.equal(first.body.data.length, 20);
  assert.equal(first.body.hasMore, true);
  const rest = await server.api(`/v1/links?limit=100&cursor=${first.body.nextCursor}`);
  assert.equal(rest.body.data.length, 5);
  const sessions = await server.api("/v1/sessions?limit=100");
  assert.equal(sessions.status, 200, sessions.text);
  // Each link runs on a session, listed with its linkId.
  assert.equal(sessions.body.data.length, 25);
});
