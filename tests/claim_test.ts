import assert from "node:assert/strict";
import { fixedClock } from "../lib/services.ts";
import { sha256Hex } from "../lib/ids.ts";
import { deviceTokenKey, linksByExpiryPrefix } from "../lib/kv_keys.ts";
import { expireDueLinks } from "../lib/links.ts";
import { authenticateDevice, type DeviceTokenRecord } from "../lib/claims.ts";
import {
  assertError,
  claim,
  createLinkViaApi,
  LINK_BODY,
  request,
  setLinkExpiry,
  startServer,
  storedLink,
} from "./_harness.ts";

const HOUR_MS = 60 * 60 * 1000;
/** Well-formed codes that no link has (every test has its own empty KV). */
const UNKNOWN_CODES = ["ZZZZZ-ZZZZ0", "ZZZZZ-ZZZZ1", "ZZZZZ-ZZZZ2", "ZZZZZ-ZZZZ3"];

// ---------------------------------------------------------------- POST /v1/device/claim

Deno.test("POST /v1/device/claim exchanges a code for a device token and claims the link", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server, {
    provider: "tmobile",
    operations: [{ type: "mobileBillingStatement:read" }, { type: "paymentMethod:read" }],
  });
  const before = Date.now();
  const res = await claim(server, link.claimCode);
  assert.equal(res.status, 200, res.text);
  assert.match(res.body.deviceToken, /^dt_[0-9a-f]{64}$/);
  const tokenTtl = Date.parse(res.body.expiresAt) - before;
  assert.ok(tokenTtl > HOUR_MS - 5000 && tokenTtl <= HOUR_MS + 5000, `token ttl ${tokenTtl}`);
  assert.deepEqual(res.body.link, {
    id: link.id,
    provider: "tmobile",
    providerName: "T-Mobile",
    operations: [{ type: "mobileBillingStatement:read" }, { type: "paymentMethod:read" }],
  });

  const got = await server.api(`/v1/links/${link.id}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.status, "claimed");
  assert.equal(got.body.claimCode, null);
  assert.equal(got.body.appClipUrl, null);
  assert.ok(got.body.claimedAt, "claimedAt is set");
  assert.ok(Date.parse(got.body.claimedAt) >= Date.parse(link.createdAt));
  assert.equal(got.body.updatedAt, got.body.claimedAt);
  assert.equal(got.body.expiresAt, link.expiresAt);
});

Deno.test("POST /v1/device/claim needs no API key and ignores a bad one", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  const res = await server.api("/v1/device/claim", {
    method: "POST",
    json: { claimCode: link.claimCode },
    apiKey: "not-a-key",
  });
  assert.equal(res.status, 200, res.text);
});

Deno.test("POST /v1/device/claim accepts the code typed lower-case without the dash", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  const typed = link.claimCode.replace("-", "").toLowerCase();
  assert.match(typed, /^[0-9a-z]{10}$/);
  const res = await claim(server, typed);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.link.id, link.id);
});

Deno.test("POST /v1/device/claim accepts spaces and O/I/L typed for 0/1", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  const typed = ` ${link.claimCode.slice(0, 5)} ${link.claimCode.slice(6)} `
    .replaceAll("0", "o").replaceAll("1", "l");
  const res = await claim(server, typed);
  assert.equal(res.status, 200, `${typed}: ${res.text}`);
  assert.equal(res.body.link.id, link.id);
});

Deno.test("a second claim of the same code answers 409 claim_code_used", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  const first = await claim(server, link.claimCode);
  assert.equal(first.status, 200);
  const second = await claim(server, link.claimCode);
  assertError(second, 409, "claim_code_used", "claimCode");
  assert.equal(second.body.error.type, "conflict_error");
});

Deno.test("of 25 concurrent claims of one code exactly one wins; the rest get 409 claim_code_used", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  const results = await Promise.all(
    Array.from({ length: 25 }, () => claim(server, link.claimCode)),
  );
  const winners = results.filter((r) => r.status === 200);
  assert.equal(winners.length, 1, results.map((r) => r.status).join(","));
  for (const r of results) {
    if (r.status !== 200) assertError(r, 409, "claim_code_used", "claimCode");
  }
  // Exactly one device token was issued, and it is the winner's.
  const tokens = await Array.fromAsync(server.kv.list({ prefix: ["device_tokens"] }));
  assert.equal(tokens.length, 1);
  assert.deepEqual(tokens[0].key, deviceTokenKey(await sha256Hex(winners[0].body.deviceToken)));
  assert.equal((await storedLink(server.kv, link.id))?.status, "claimed");
});

Deno.test("an unknown claim code answers 404 claim_code_not_found", async () => {
  await using server = await startServer();
  await createLinkViaApi(server);
  const res = await claim(server, UNKNOWN_CODES[0]);
  assertError(res, 404, "claim_code_not_found", "claimCode");
});

Deno.test("a claim code that cannot be one answers 404 claim_code_not_found", async () => {
  await using server = await startServer();
  for (const code of ["hello", "UUUUU-UUUUU", "ABCDE-FGHJK-M"]) {
    const res = await claim(server, code);
    assertError(res, 404, "claim_code_not_found", "claimCode");
  }
});

Deno.test("POST /v1/device/claim validates its body", async () => {
  await using server = await startServer();
  assertError(
    await server.api("/v1/device/claim", { method: "POST", json: {}, apiKey: null }),
    400,
    "invalid_request",
    "claimCode",
  );
  assertError(
    await server.api("/v1/device/claim", { method: "POST", json: { claimCode: 7 }, apiKey: null }),
    400,
    "invalid_request",
    "claimCode",
  );
  assertError(
    await server.api("/v1/device/claim", {
      method: "POST",
      json: { claimCode: "ABCDE-12345", extra: true },
      apiKey: null,
    }),
    400,
    "invalid_request",
    "extra",
  );
});

Deno.test("an expired claim code answers 410 claim_code_expired and the link shows expired", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  await setLinkExpiry(server.kv, link.id);
  const res = await claim(server, link.claimCode);
  assertError(res, 410, "claim_code_expired", "claimCode");
  const got = await server.api(`/v1/links/${link.id}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.status, "expired");
  assert.equal(got.body.claimCode, null);
  assert.equal(got.body.appClipUrl, null);
  // Still expired (not "not found", not "used") on a later try.
  assertError(await claim(server, link.claimCode), 410, "claim_code_expired", "claimCode");
});

Deno.test("GET /v1/links shows a link whose time has passed as expired", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  await setLinkExpiry(server.kv, link.id);
  const list = await server.api("/v1/links");
  assert.equal(list.body.data[0].id, link.id);
  assert.equal(list.body.data[0].status, "expired");
  assert.equal((await storedLink(server.kv, link.id))?.status, "expired");
});

Deno.test("failed claim attempts are limited per client: the next one gets 429 with Retry-After", async () => {
  await using server = await startServer({ claimAttemptsPerWindow: 3 });
  const link = await createLinkViaApi(server);
  for (const code of UNKNOWN_CODES.slice(0, 3)) {
    assertError(await claim(server, code), 404, "claim_code_not_found");
  }
  const limited = await claim(server, link.claimCode);
  assertError(limited, 429, "too_many_attempts");
  assert.equal(limited.body.error.type, "rate_limit_error");
  const retryAfter = limited.headers.get("retry-after");
  assert.match(retryAfter ?? "", /^\d+$/);
  assert.ok(
    Number(retryAfter) >= 1 && Number(retryAfter) <= server.config.claimAttemptWindowSeconds,
    `Retry-After ${retryAfter}`,
  );
  // The valid code was not consumed by the refused attempt.
  assert.equal((await storedLink(server.kv, link.id))?.status, "pending");
});

Deno.test("successful and already-used claims do not count against the attempt limit", async () => {
  await using server = await startServer({ claimAttemptsPerWindow: 1 });
  const a = await createLinkViaApi(server);
  const b = await createLinkViaApi(server);
  assert.equal((await claim(server, a.claimCode)).status, 200);
  assertError(await claim(server, a.claimCode), 409, "claim_code_used");
  assertError(await claim(server, a.claimCode), 409, "claim_code_used");
  assert.equal((await claim(server, b.claimCode)).status, 200);
  assertError(await claim(server, UNKNOWN_CODES[0]), 404, "claim_code_not_found");
  assertError(await claim(server, UNKNOWN_CODES[1]), 429, "too_many_attempts");
});

// ---------------------------------------------------------------- expireDueLinks

Deno.test("expireDueLinks marks due pending links expired and leaves the others alone", async () => {
  await using server = await startServer();
  const due = await createLinkViaApi(server);
  const dueToo = await createLinkViaApi(server);
  const fresh = await createLinkViaApi(server);
  const claimed = await createLinkViaApi(server);
  const cancelled = await createLinkViaApi(server);
  assert.equal((await claim(server, claimed.claimCode)).status, 200);
  assert.equal(
    (await server.api(`/v1/links/${cancelled.id}/cancel`, { method: "POST" })).status,
    200,
  );
  const past = new Date(Date.now() - 1000);
  for (const link of [due, dueToo]) {
    await setLinkExpiry(server.kv, link.id, past, { moveIndex: true });
  }
  // A claimed link whose original expiry has passed stays claimed.
  await setLinkExpiry(server.kv, claimed.id, past);

  assert.equal(await expireDueLinks(server.services), 2);
  assert.equal((await storedLink(server.kv, due.id))?.status, "expired");
  assert.equal((await storedLink(server.kv, dueToo.id))?.status, "expired");
  assert.equal((await storedLink(server.kv, fresh.id))?.status, "pending");
  assert.equal((await storedLink(server.kv, claimed.id))?.status, "claimed");
  assert.equal((await storedLink(server.kv, cancelled.id))?.status, "cancelled");

  // The expiry index now holds only the pending link, and a second sweep does nothing.
  const index = await Array.fromAsync(server.kv.list<string>({ prefix: linksByExpiryPrefix() }));
  assert.deepEqual(index.map((e) => e.value), [fresh.id]);
  assert.equal(await expireDueLinks(server.services), 0);
  assertError(await claim(server, due.claimCode), 410, "claim_code_expired");
  assert.equal((await claim(server, fresh.claimCode)).status, 200);
});

Deno.test("expireDueLinks() expires the links due at the time its clock says", async () => {
  await using server = await startServer();
  const short = await createLinkViaApi(server, { ...LINK_BODY, expiresIn: 60 });
  const long = await createLinkViaApi(server, { ...LINK_BODY, expiresIn: 3600 });
  const count = await expireDueLinks({
    ...server.services,
    clock: fixedClock(Date.now() + 120_000),
  });
  assert.equal((await storedLink(server.kv, long.id))?.status, "pending");
  assert.equal(
    (await storedLink(server.kv, short.id))?.status,
    "expired",
    `expireDueLinks returned ${count} but did not expire the link due at that time`,
  );
  assert.equal(count, 1);
});

// ---------------------------------------------------------------- authenticateDevice

Deno.test("authenticateDevice accepts the issued token and rejects a wrong or expired one", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  const res = await claim(server, link.claimCode);
  assert.equal(res.status, 200);
  const token: string = res.body.deviceToken;

  const record = await authenticateDevice(server.services, token);
  assert.ok(record, "the issued token was refused");
  assert.equal(record.id, link.sessionId);
  assert.equal(record.linkId, link.id);
  assert.equal(record.status, "active");

  const wrong = token.slice(0, -1) + (token.endsWith("0") ? "1" : "0");
  for (const bad of [wrong, "", "dt_123", token.toUpperCase()]) {
    assert.equal(
      await authenticateDevice(server.services, bad),
      null,
      `token ${JSON.stringify(bad)} was accepted`,
    );
  }

  const key = deviceTokenKey(await sha256Hex(token));
  const stored = await server.kv.get<DeviceTokenRecord>(key);
  assert.ok(stored.value);
  await server.kv.set(key, {
    ...stored.value,
    expiresAt: new Date(Date.now() - 1000).toISOString(),
  });
  assert.equal(
    await authenticateDevice(server.services, token),
    null,
    "an expired token was accepted",
  );
});

// ---------------------------------------------------------------- GET /c/:code (claim page)

Deno.test("GET appClipUrl shows an HTML page naming the provider and the operations in words", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server, {
    provider: "tmobile",
    operations: [{ type: "mobileBillingStatement:read" }, { type: "paymentMethod:read" }],
  });
  const res = await fetch(link.appClipUrl);
  const html = await res.text();
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.match(html, /<title>Connect your T-Mobile account · Passage<\/title>/);
  assert.match(html, /your latest phone bill/);
  assert.match(html, /the payment methods saved on your account/);
  assert.ok(html.includes(link.claimCode), "the page shows the claim code");
  assert.ok(!html.includes("mobileBillingStatement:read"), "operations are shown in words");
  // Nothing was claimed by looking.
  assert.equal((await storedLink(server.kv, link.id))?.status, "pending");
});

Deno.test("the claim page answers 404 HTML for an unknown code", async () => {
  await using server = await startServer();
  for (const code of [UNKNOWN_CODES[0], "not-a-code"]) {
    const res = await request(`${server.url}/c/${code}`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(res.text, /Link not found/);
  }
});

Deno.test("once the link has been claimed the claim page shows its live status, without the code", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  assert.equal((await claim(server, link.claimCode)).status, 200);
  const res = await request(link.appClipUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(res.text, /already been opened/);
  assert.match(res.text, /aria-live="polite"/);
  assert.doesNotMatch(
    res.text,
    /data-claim-code|class="code"/,
    "a claimed code is not offered again",
  );
  assert.doesNotMatch(res.text, /Continue in this browser/);
});

Deno.test("the claim page answers 410 for an expired link", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  await setLinkExpiry(server.kv, link.id);
  const res = await request(link.appClipUrl);
  assert.equal(res.status, 410);
  assert.match(res.text, /expired/);
});
