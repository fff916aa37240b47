// deno-lint-ignore-file no-explicit-any
/**
 * Signed webhooks end to end: a link finished as the engine finishes it (final
 * state and event in one commit), delivered from the KV outbox to real HTTP
 * receivers on loopback, verified with the SDK's `verifyWebhook`. Retries are
 * driven by calling the sweep with a `now` in the future, never by waiting.
 */
import { fixedClock, systemClock } from "../lib/services.ts";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createLocalJWKSet, jwtVerify } from "jose";
import { verifyWebhook } from "@passage/connect";
import { createApiKey } from "../lib/api_keys.ts";
import { linkKey, webhookEventKey, webhookOutboxKey, webhookOutboxPrefix } from "../lib/kv_keys.ts";
import type { LinkRecord } from "../lib/links.ts";
import { classifyIp } from "../lib/webhook_address.ts";
import {
  deliverDueWebhooks,
  MAX_ATTEMPTS_KEPT,
  MAX_RETRY_DELAY_MS,
  RETRY_DELAYS_MS,
  RETRY_JITTER,
  RETRY_WINDOW_MS,
} from "../lib/webhook_delivery.ts";
import {
  currentServerWebhookKey,
  currentWebhookKey,
  rotateWebhookKey,
} from "../lib/webhook_keys.ts";
import {
  addWebhookEvent,
  listAttempts,
  MAX_WEBHOOK_BODY_BYTES,
  type WebhookEventRecord,
} from "../lib/webhooks.ts";
import {
  assertError,
  createLinkViaApi,
  LINK_BODY,
  request,
  startServer,
  type TestServer,
} from "./_harness.ts";
import {
  closedPort,
  COMPLETE,
  finishLink,
  jwtParts,
  type Received,
  startReceiver,
  storedEvent,
  text,
  waitForEvent,
} from "./_webhooks.ts";

const SECOND = 1000;
const HOUR = 60 * 60 * SECOND;

const keyUrl = (server: TestServer) => `${server.url}/webhook_verification_key/get`;

/** A server whose deliveries only the test drives (no queue wake-ups), allowed to reach loopback. */
function sweepOnlyServer(overrides: Parameters<typeof startServer>[0] = {}) {
  return startServer({ allowLoopbackWebhooks: true, useQueues: false, ...overrides });
}

async function webhooksOf(server: TestServer, linkId: string) {
  const res = await server.api(`/v1/links/${linkId}/webhooks`);
  assert.equal(res.status, 200, res.text);
  return res.body;
}

/** Verifies a request as received, at the time it was signed (for simulated clocks). */
function verifyReceived(server: TestServer, r: Received, at?: number) {
  const req = new Request("http://receiver.test/", {
    method: "POST",
    headers: r.headers,
    body: r.body,
  });
  return verifyWebhook(req, {
    publicKeyUrl: keyUrl(server),
    now: at === undefined ? undefined : () => at,
  });
}

async function outboxSize(kv: Deno.Kv): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: webhookOutboxPrefix() })) n++;
  return n;
}

function assertJittered(actualMs: number, baseMs: number, what: string) {
  assert.ok(
    actualMs >= baseMs * (1 - RETRY_JITTER) - 1 && actualMs <= baseMs * (1 + RETRY_JITTER) + 1,
    `${what}: waited ${actualMs} ms, expected ${baseMs} ms ±20 %`,
  );
}

// ---------------------------------------------------------------- delivery

Deno.test("a finished link's event reaches its receiver signed, and verifyWebhook on the received request returns the payload", async () => {
  await using server = await startServer({ allowLoopbackWebhooks: true });
  await using receiver = startReceiver({ verify: { publicKeyUrl: keyUrl(server) } });
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });

  const eventId = await finishLink(server, link.id, COMPLETE);
  assert.match(eventId ?? "", /^evt_[0-9A-HJKMNP-TV-Z]{26}$/);

  // The queue wake-up delivers it: nothing here calls the deliverer.
  const [got] = await receiver.waitFor(1);
  assert.equal(got.verifyError, undefined, String(got.verifyError));
  assert.deepEqual(got.payload, {
    id: eventId,
    type: "link.completed",
    linkId: link.id,
    status: "complete",
    provider: "tmobile",
    livemode: false,
    device: null,
    results: COMPLETE.results,
    createdAt: got.payload!.createdAt,
  });
  assert.deepEqual(Object.keys(JSON.parse(text(got))), [
    "id",
    "type",
    "linkId",
    "status",
    "provider",
    "livemode",
    "device",
    "results",
    "createdAt",
  ]);
  assert.equal(got.headers.get("webhook-id"), eventId);
  assert.equal(got.headers.get("content-type"), "application/json");
  assert.equal(got.headers.get("user-agent"), "Passage-Webhooks/1");
  const { header, claims } = jwtParts(got);
  const key = await currentWebhookKey(server.kv, server.accountId);
  assert.deepEqual(header, { alg: "ES256", kid: key.kid, typ: "JWT" });
  assert.deepEqual(Object.keys(claims).toSorted(), [
    "aud",
    "iat",
    "livemode",
    "request_body_sha256",
  ]);
  assert.equal(claims.aud, server.accountId, "aud names the owner: the account that owns the link");
  assert.equal(claims.livemode, false);
  assert.ok(Math.abs((claims.iat as number) - Date.now() / 1000) < 5);

  // A second, independent implementation (jose) accepts it against the account's JWKS too.
  const jwks = await request(`${server.url}/v1/accounts/${server.accountId}/jwks.json`);
  const verified = await jwtVerify(
    got.headers.get("passage-verification")!,
    createLocalJWKSet(jwks.body),
    { algorithms: ["ES256"], typ: "JWT" },
  );
  assert.equal(verified.protectedHeader.kid, key.kid);

  const event = await waitForEvent(server.kv, eventId!, (e) => e.status !== "pending");
  assert.equal(event.status, "delivered");
  const listed = await webhooksOf(server, link.id);
  assert.equal(listed.object, "list");
  assert.equal(listed.data.length, 1);
  const [view] = listed.data;
  assert.equal(view.id, eventId);
  assert.equal(view.type, "link.completed");
  assert.equal(view.status, "delivered");
  assert.equal(view.nextAttemptAt, null);
  assert.equal(view.attempts.length, 1);
  const [attempt] = view.attempts;
  assert.equal(attempt.number, 1);
  assert.equal(attempt.statusCode, 200);
  assert.equal(attempt.error, null);
  assert.equal(attempt.trigger, "automatic");
  assert.equal(typeof attempt.durationMs, "number");
  assert.ok(!Number.isNaN(Date.parse(attempt.at)));
  assert.equal(await outboxSize(server.kv), 0);
});

Deno.test("a failed link's event carries the error, and a link without webhookUrl gets no event", async () => {
  await using server = await sweepOnlyServer();
  await using receiver = startReceiver();
  const failing = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  const silent = await createLinkViaApi(server);
  const error = { code: "invalid_credentials", message: "The password was not accepted" };

  const eventId = await finishLink(server, failing.id, { status: "failed", error });
  assert.equal(await finishLink(server, silent.id, COMPLETE), null);
  assert.deepEqual(
    await deliverDueWebhooks({ kv: server.kv, config: server.config, clock: systemClock }),
    {
      attempted: 1,
      delivered: 1,
    },
  );

  const [got] = receiver.requests;
  const payload = await verifyReceived(server, got);
  assert.equal(payload.id, eventId);
  assert.equal(payload.type, "link.failed");
  assert.equal(payload.status, "failed");
  assert.deepEqual(payload.error, error);
  assert.equal("results" in payload, false);
  assert.deepEqual((await webhooksOf(server, silent.id)).data, []);
});

Deno.test("large results are stored in chunks and sent byte for byte; over the limit addWebhookEvent throws before writing", async () => {
  await using server = await sweepOnlyServer();
  await using receiver = startReceiver();
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  // ~150 KB of results: three KV values' worth.
  const results = {
    blob: { notes: Array.from({ length: 1500 }, (_, i) => `${i}:${"x".repeat(90)}`) },
  };
  const eventId = await finishLink(server, link.id, { status: "complete", results });
  const event = await storedEvent(server.kv, eventId!);
  assert.ok(event.bodyChunks >= 3, `${event.bodyChunks} chunks`);
  await deliverDueWebhooks({ kv: server.kv, config: server.config, clock: systemClock });
  const [got] = receiver.requests;
  assert.equal(got.body.byteLength, event.bodyBytes);
  assert.deepEqual(JSON.parse(text(got)).results, results);

  const other = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  const entry = await server.kv.get<LinkRecord>(linkKey(other.id));
  const op = server.kv.atomic();
  const huge = { blob: "y".repeat(MAX_WEBHOOK_BODY_BYTES) };
  assert.throws(
    () => addWebhookEvent(server.services, op, entry.value!, { status: "complete", results: huge }),
    RangeError,
  );
  assert.deepEqual((await webhooksOf(server, other.id)).data, []);
});

Deno.test("a delivery survives a receiver that is down, then too slow, then failing, and arrives once it recovers with the same id", async () => {
  await using server = await sweepOnlyServer({ webhookTimeoutMs: 500 });
  const deps = { kv: server.kv, config: server.config, clock: systemClock };
  const port = closedPort();
  const link = await createLinkViaApi(server, {
    ...LINK_BODY,
    webhookUrl: `http://127.0.0.1:${port}/hooks/passage`,
  });
  const t0 = new Date();
  const eventId = (await finishLink(server, link.id, COMPLETE, t0))!;

  // 1: nothing listens on the port.
  assert.deepEqual(await deliverDueWebhooks({ ...deps, clock: fixedClock(t0) }), {
    attempted: 1,
    delivered: 0,
  });
  let view = (await webhooksOf(server, link.id)).data[0];
  assert.equal(view.status, "pending");
  assert.deepEqual(
    { statusCode: view.attempts[0].statusCode, error: view.attempts[0].error },
    { statusCode: null, error: "connection_error" },
  );
  let next = Date.parse(view.nextAttemptAt);
  assertJittered(next - t0.getTime(), RETRY_DELAYS_MS[0], "after the first failure");
  // Not due a millisecond early.
  assert.deepEqual(await deliverDueWebhooks({ ...deps, clock: fixedClock(next - 1) }), {
    attempted: 0,
    delivered: 0,
  });

  // 2: the receiver is back but never answers in time; 3: it answers 500; 4: 200.
  await using receiver = startReceiver({ port, replies: ["hang", 500] });
  const sentAt: number[] = [];
  for (const expected of ["timeout", "http_error", null]) {
    sentAt.push(next);
    const res = await deliverDueWebhooks({ ...deps, clock: fixedClock(next) });
    assert.deepEqual(res, { attempted: 1, delivered: expected === null ? 1 : 0 });
    view = (await webhooksOf(server, link.id)).data[0];
    assert.equal(view.attempts.at(-1).error, expected);
    if (expected !== null) {
      const gap = Date.parse(view.nextAttemptAt) - next;
      assertJittered(
        gap,
        RETRY_DELAYS_MS[view.attempts.length - 1],
        `after attempt ${view.attempts.length}`,
      );
      next = Date.parse(view.nextAttemptAt);
    }
  }

  assert.equal(view.id, eventId);
  assert.equal(view.status, "delivered");
  assert.equal(view.nextAttemptAt, null);
  assert.deepEqual(view.attempts.map((a: any) => [a.number, a.statusCode, a.error]), [
    [1, null, "connection_error"],
    [2, null, "timeout"],
    [3, 500, "http_error"],
    [4, 200, null],
  ]);
  assert.ok(view.attempts[1].durationMs >= 400, `timeout after ${view.attempts[1].durationMs} ms`);

  // Every request the receiver saw is the same event, byte for byte, freshly signed.
  assert.equal(receiver.requests.length, 3);
  const bodies = new Set(receiver.requests.map(text));
  assert.equal(bodies.size, 1);
  for (const [i, got] of receiver.requests.entries()) {
    assert.equal(got.headers.get("webhook-id"), eventId);
    assert.equal(jwtParts(got).claims.iat, Math.floor(sentAt[i] / 1000));
    const payload = await verifyReceived(server, got, sentAt[i]);
    assert.equal(payload.id, eventId);
  }

  // Nothing left to send, however late the next sweep runs.
  assert.equal(await outboxSize(server.kv), 0);
  assert.deepEqual(
    await deliverDueWebhooks({ ...deps, clock: fixedClock(t0.getTime() + 200 * HOUR) }),
    { attempted: 0, delivered: 0 },
  );
  assert.equal(receiver.requests.length, 3);
});

Deno.test("a receiver that keeps failing is retried on the jittered schedule for at least 72 hours, then the event fails", async () => {
  await using server = await sweepOnlyServer();
  await using receiver = startReceiver({ replies: Array(40).fill(503) });
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  const t0 = new Date();
  const eventId = (await finishLink(server, link.id, COMPLETE, t0))!;

  let now = t0.getTime();
  for (let i = 0; i < 30; i++) {
    await deliverDueWebhooks({ kv: server.kv, config: server.config, clock: fixedClock(now) });
    const event = await storedEvent(server.kv, eventId);
    if (event.nextAttemptAt === null) break;
    now = event.nextAttemptAt;
  }
  const view = (await webhooksOf(server, link.id)).data[0];
  assert.equal(view.status, "failed");
  assert.equal(view.nextAttemptAt, null);
  const times = view.attempts.map((a: any) => Date.parse(a.at));
  const last = times.at(-1)!;
  assert.ok(
    last - t0.getTime() >= RETRY_WINDOW_MS,
    `gave up after ${(last - t0.getTime()) / HOUR} h`,
  );
  assert.ok(last - t0.getTime() < RETRY_WINDOW_MS + MAX_RETRY_DELAY_MS * 1.2 + 1);
  assert.equal(times[0], t0.getTime(), "the first attempt is immediate");
  for (let i = 1; i < times.length; i++) {
    const base = RETRY_DELAYS_MS[Math.min(i, RETRY_DELAYS_MS.length) - 1];
    assertJittered(times[i] - times[i - 1], base, `gap before attempt ${i + 1}`);
  }
  assert.ok(times.length >= 10 && times.length <= 14, `${times.length} attempts`);
  assert.equal(receiver.requests.length, times.length);
  assert.equal(new Set(receiver.requests.map((r) => r.headers.get("webhook-id"))).size, 1);
  assert.equal(await outboxSize(server.kv), 0);
});

Deno.test("410 Gone disables the event and a 3xx is a failure whose redirect is not followed", async () => {
  await using server = await sweepOnlyServer();
  const deps = { kv: server.kv, config: server.config, clock: systemClock };
  await using target = startReceiver();
  await using gone = startReceiver({ replies: [410] });
  await using redirecting = startReceiver({
    replies: [{ status: 302, headers: { location: target.url } }],
  });
  const goneLink = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: gone.url });
  const movedLink = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: redirecting.url });
  const t0 = new Date();
  await finishLink(server, goneLink.id, COMPLETE, t0);
  await finishLink(server, movedLink.id, COMPLETE, t0);
  assert.deepEqual(await deliverDueWebhooks({ ...deps, clock: fixedClock(t0) }), {
    attempted: 2,
    delivered: 0,
  });

  const disabled = (await webhooksOf(server, goneLink.id)).data[0];
  assert.equal(disabled.status, "disabled");
  assert.equal(disabled.nextAttemptAt, null);
  assert.deepEqual(
    [disabled.attempts[0].statusCode, disabled.attempts[0].error],
    [410, "gone"],
  );
  const moved = (await webhooksOf(server, movedLink.id)).data[0];
  assert.equal(moved.status, "pending");
  assert.deepEqual([moved.attempts[0].statusCode, moved.attempts[0].error], [302, "redirect"]);
  assert.equal(target.requests.length, 0, "the redirect was followed");

  // Days later the disabled event is still not retried.
  await deliverDueWebhooks({ ...deps, clock: fixedClock(t0.getTime() + 100 * HOUR) });
  assert.equal(gone.requests.length, 1);
  assert.equal((await webhooksOf(server, goneLink.id)).data[0].attempts.length, 1);
});

Deno.test("429 with Retry-After (seconds or an HTTP date) sets the next attempt, bounded by the longest retry delay", async () => {
  await using server = await sweepOnlyServer();
  const deps = { kv: server.kv, config: server.config, clock: systemClock };
  const t0 = new Date(Math.floor(Date.now() / 1000) * 1000);
  const date = new Date(t0.getTime() + 120 * SECOND + 3 * HOUR);
  await using receiver = startReceiver({
    replies: [
      { status: 429, headers: { "retry-after": "120" } },
      { status: 429, headers: { "retry-after": date.toUTCString() } },
      { status: 429, headers: { "retry-after": "9999999" } },
    ],
  });
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  await finishLink(server, link.id, COMPLETE, t0);

  await deliverDueWebhooks({ ...deps, clock: fixedClock(t0) });
  let view = (await webhooksOf(server, link.id)).data[0];
  assert.deepEqual([view.attempts[0].statusCode, view.attempts[0].error], [429, "rate_limited"]);
  assert.equal(Date.parse(view.nextAttemptAt), t0.getTime() + 120 * SECOND);

  await deliverDueWebhooks({ ...deps, clock: fixedClock(view.nextAttemptAt) });
  view = (await webhooksOf(server, link.id)).data[0];
  assert.equal(Date.parse(view.nextAttemptAt), date.getTime());

  const third = Date.parse(view.nextAttemptAt);
  await deliverDueWebhooks({ ...deps, clock: fixedClock(third) });
  view = (await webhooksOf(server, link.id)).data[0];
  assert.equal(Date.parse(view.nextAttemptAt), third + MAX_RETRY_DELAY_MS);

  await deliverDueWebhooks({ ...deps, clock: fixedClock(view.nextAttemptAt) });
  view = (await webhooksOf(server, link.id)).data[0];
  assert.equal(view.status, "delivered");
  assert.equal(receiver.requests.length, 4);
});

Deno.test("Retry-After 0 or a past date on a 429 or 503 never brings the next attempt before the schedule's next step", async () => {
  await using server = await sweepOnlyServer();
  const deps = { kv: server.kv, config: server.config, clock: systemClock };
  const t0 = new Date(Math.floor(Date.now() / 1000) * 1000);
  await using receiver = startReceiver({
    replies: [
      { status: 429, headers: { "retry-after": "0" } },
      { status: 503, headers: { "retry-after": new Date(t0.getTime() - HOUR).toUTCString() } },
    ],
  });
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  await finishLink(server, link.id, COMPLETE, t0);

  const within = (at: number, from: number, step: number) =>
    at - from >= step * (1 - RETRY_JITTER) && at - from <= step * (1 + RETRY_JITTER);
  await deliverDueWebhooks({ ...deps, clock: fixedClock(t0) });
  let view = (await webhooksOf(server, link.id)).data[0];
  assert.equal(view.attempts[0].statusCode, 429);
  let next = Date.parse(view.nextAttemptAt);
  assert.ok(within(next, t0.getTime(), RETRY_DELAYS_MS[0]), `next attempt at +${next - +t0} ms`);

  await deliverDueWebhooks({ ...deps, clock: fixedClock(next) });
  view = (await webhooksOf(server, link.id)).data[0];
  assert.equal(view.attempts[1].statusCode, 503);
  const second = next;
  next = Date.parse(view.nextAttemptAt);
  assert.ok(within(next, second, RETRY_DELAYS_MS[1]), `next attempt at +${next - second} ms`);
  assert.equal(receiver.requests.length, 2);
});

Deno.test("an event keeps at most MAX_ATTEMPTS_KEPT attempts, the newest", async () => {
  await using server = await sweepOnlyServer();
  await using receiver = startReceiver({ replies: Array(MAX_ATTEMPTS_KEPT + 3).fill(500) });
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  await finishLink(server, link.id, COMPLETE, new Date());
  for (let i = 0; i < MAX_ATTEMPTS_KEPT + 3; i++) {
    const res = await server.api(`/v1/links/${link.id}/webhooks/redeliver`, { method: "POST" });
    assert.equal(res.status, 200, res.text);
  }
  const attempts = (await webhooksOf(server, link.id)).data[0].attempts;
  assert.equal(attempts.length, MAX_ATTEMPTS_KEPT);
  assert.deepEqual(
    attempts.map((a: { number: number }) => a.number),
    Array.from({ length: MAX_ATTEMPTS_KEPT }, (_, i) => i + 4),
  );
});

Deno.test("blocked addresses are refused without a request, and loopback only passes when explicitly allowed", async () => {
  await using server = await startServer({ useQueues: false });
  assert.equal(server.config.allowLoopbackWebhooks, false);
  await using receiver = startReceiver();
  const urls = [
    "http://10.0.0.1/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://192.168.1.20:8080/",
    "http://100.64.0.1/",
    "http://[::ffff:127.0.0.1]:1/",
    `http://127.0.0.1:${receiver.port}/hooks`,
    `http://localhost:${receiver.port}/hooks`,
  ];
  const links: Array<{ id: string }> = [];
  for (const webhookUrl of urls) {
    const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl });
    await finishLink(server, link.id, COMPLETE);
    links.push(link);
  }
  const started = performance.now();
  assert.deepEqual(
    await deliverDueWebhooks({ kv: server.kv, config: server.config, clock: systemClock }),
    {
      attempted: urls.length,
      delivered: 0,
    },
  );
  assert.ok(performance.now() - started < 5000, "a refused address must not wait on a connection");
  for (const [i, link] of links.entries()) {
    const view = (await webhooksOf(server, link.id)).data[0];
    assert.equal(view.status, "failed", urls[i]);
    assert.equal(view.nextAttemptAt, null, `${urls[i]} is retried`);
    assert.deepEqual([view.attempts[0].statusCode, view.attempts[0].error], [
      null,
      "blocked_address",
    ], urls[i]);
  }
  assert.equal(receiver.requests.length, 0);

  // PASSAGE_WEBHOOK_ALLOW_LOOPBACK=1 lets loopback through, and nothing else.
  await using loopback = await startServer({ useQueues: false, allowLoopbackWebhooks: true });
  for (
    const [i, expected] of [[0, "blocked_address"], [1, "blocked_address"], [6, null]] as const
  ) {
    const link = await createLinkViaApi(loopback, { ...LINK_BODY, webhookUrl: urls[i] });
    await finishLink(loopback, link.id, COMPLETE);
    const res = await loopback.api(`/v1/links/${link.id}/webhooks/redeliver`, { method: "POST" });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.error, expected, urls[i]);
  }
  assert.equal(receiver.requests.length, 1);
});

Deno.test("the address guard classifies loopback, private, link-local, CGNAT, metadata, multicast and public addresses", () => {
  const table: Array<[string, string]> = [
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["::1", "loopback"],
    ["[::1]", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.0.1", "private"],
    ["fc00::1", "private"],
    ["fd12:3456::1", "private"],
    ["169.254.1.1", "link_local"],
    ["fe80::1", "link_local"],
    ["169.254.169.254", "metadata"],
    ["fd00:ec2::254", "metadata"],
    ["100.64.0.1", "cgnat"],
    ["100.127.255.254", "cgnat"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["::", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["ff02::1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:127.0.0.1", "loopback"],
    ["64:ff9b::a9fe:a9fe", "metadata"],
    ["2002:0a00:0001::1", "private"],
    ["172.32.0.1", "public"],
    ["100.128.0.1", "public"],
    ["93.184.215.14", "public"],
    ["2606:4700::6810:84e5", "public"],
  ];
  for (const [ip, kind] of table) assert.equal(classifyIp(ip), kind, ip);
  assert.equal(classifyIp("example.com"), null);
  assert.equal(classifyIp("1:2:3"), null);
});

// ---------------------------------------------------------------- listing and redelivery

Deno.test("GET /v1/links/{id}/webhooks lists attempts and POST …/redeliver resends the same event with a fresh iat", async () => {
  await using server = await sweepOnlyServer();
  await using receiver = startReceiver();
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  // The event was created, and first delivered, ten minutes ago.
  const then = new Date(Math.floor((Date.now() - 10 * 60 * SECOND) / 1000) * 1000);
  const eventId = await finishLink(server, link.id, COMPLETE, then);
  await deliverDueWebhooks({ kv: server.kv, config: server.config, clock: fixedClock(then) });

  const res = await server.api(`/v1/links/${link.id}/webhooks/redeliver`, { method: "POST" });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.eventId, eventId);
  assert.equal(res.body.number, 2);
  assert.equal(res.body.statusCode, 200);
  assert.equal(res.body.error, null);
  assert.equal(res.body.trigger, "manual");

  const [first, second] = receiver.requests;
  assert.equal(second.headers.get("webhook-id"), eventId);
  assert.deepEqual(second.body, first.body);
  const iat1 = jwtParts(first).claims.iat as number;
  const iat2 = jwtParts(second).claims.iat as number;
  assert.equal(iat1, then.getTime() / 1000);
  assert.ok(iat2 > iat1 && Math.abs(iat2 - Date.now() / 1000) < 5, `iat ${iat1} then ${iat2}`);
  // The redelivery verifies now; the first signature is too old to.
  assert.equal((await verifyReceived(server, second)).id, eventId);
  await assert.rejects(verifyReceived(server, first), { code: "stale_signature" });

  const listed = await webhooksOf(server, link.id);
  assert.deepEqual(
    listed.data[0].attempts.map((a: any) => [a.number, a.statusCode, a.error, a.trigger]),
    [[1, 200, null, "automatic"], [2, 200, null, "manual"]],
  );
  assert.equal(listed.data[0].status, "delivered");
});

Deno.test("webhook routes need the owner's API key: another key's link is 404, and a link without an event is 409 on redeliver", async () => {
  await using server = await sweepOnlyServer();
  await using receiver = startReceiver();
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  const { secret: otherKey } = await createApiKey(server.kv, { name: "other" });

  const noEvent = await server.api(`/v1/links/${link.id}/webhooks/redeliver`, { method: "POST" });
  assertError(noEvent, 409, "no_webhook_event");
  assert.deepEqual(await webhooksOf(server, link.id), { object: "list", data: [] });

  await finishLink(server, link.id, COMPLETE);
  for (
    const res of [
      await server.api(`/v1/links/${link.id}/webhooks`, { apiKey: otherKey }),
      await server.api(`/v1/links/${link.id}/webhooks/redeliver`, {
        method: "POST",
        apiKey: otherKey,
      }),
      await server.api(`/v1/links/link_nope/webhooks`),
    ]
  ) assertError(res, 404, "link_not_found");
  assertError(
    await server.api(`/v1/links/${link.id}/webhooks`, { apiKey: null }),
    401,
    "missing_api_key",
  );
  assert.equal(receiver.requests.length, 0);
});

// ---------------------------------------------------------------- concurrency

Deno.test("deliverers racing for one due event, on two KV connections, send it exactly once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "passage_webhooks_test_" });
  try {
    const kvPath = `${dir}/passage.kv3`;
    await using server = await sweepOnlyServer({ kvPath });
    const other = await Deno.openKv(kvPath);
    try {
      // The receiver holds the first request until every loser has given up.
      await using receiver = startReceiver({ replies: ["hang"] });
      const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
      const now = new Date();
      await finishLink(server, link.id, COMPLETE, now);

      const deps = {
        config: { ...server.config, webhookTimeoutMs: 10_000 },
        clock: fixedClock(now),
      };
      let settled = 0;
      let allButOne!: () => void;
      const losersDone = new Promise<void>((resolve) => (allButOne = resolve));
      const racers = [server.kv, other, server.kv, other, server.kv, other].map((kv, _, all) =>
        deliverDueWebhooks({ ...deps, kv }).finally(() => {
          if (++settled === all.length - 1) allButOne();
        })
      );
      await receiver.waitFor(1);
      await losersDone;
      receiver.release(); // answers the held request (late, but 200)
      const results = await Promise.all(racers);
      assert.equal(results.reduce((n, r) => n + r.attempted, 0), 1);
      assert.equal(receiver.requests.length, 1);
      const view = (await webhooksOf(server, link.id)).data[0];
      assert.equal(view.attempts.length, 1);
      assert.equal(view.status, "delivered");
    } finally {
      other.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an event held by a deliverer that died is sent once its lease runs out, and a stale lease on a delivered event is cleared", async () => {
  await using server = await sweepOnlyServer();
  const deps = { kv: server.kv, config: server.config, clock: systemClock };
  await using receiver = startReceiver();
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  const t0 = new Date();
  const eventId = (await finishLink(server, link.id, COMPLETE, t0))!;

  /** Rewrites the stored event as a deliverer that leased it until `until` and died would leave it. */
  const die = async (until: number) => {
    const entry = await server.kv.get<WebhookEventRecord>(webhookEventKey(eventId));
    const event = entry.value!;
    const op = server.kv.atomic().check(entry)
      .set(entry.key, { ...event, lease: { token: "dead", until }, outboxAt: until })
      .set(webhookOutboxKey(until, eventId), eventId);
    if (event.outboxAt !== null) op.delete(webhookOutboxKey(event.outboxAt, eventId));
    assert.ok((await op.commit()).ok);
  };

  const until = t0.getTime() + 45 * SECOND;
  await die(until);
  // While the lease holds, nobody sends; once it has run out, the sweep does.
  assert.deepEqual(await deliverDueWebhooks({ ...deps, clock: fixedClock(until - 1) }), {
    attempted: 0,
    delivered: 0,
  });
  assert.deepEqual(await deliverDueWebhooks({ ...deps, clock: fixedClock(until) }), {
    attempted: 1,
    delivered: 1,
  });
  assert.equal(receiver.requests.length, 1);
  // The dead deliverer's send is in the log, outcome unknown, before the one that landed.
  assert.deepEqual(
    (await listAttempts(server.kv, eventId)).map((a) => [a.number, a.error, a.statusCode]),
    [[1, "unknown", null], [2, null, 200]],
  );

  // A manual redelivery that died after the event was delivered leaves an outbox entry behind.
  const later = until + HOUR;
  await die(later);
  assert.equal(await outboxSize(server.kv), 1);
  assert.deepEqual(await deliverDueWebhooks({ ...deps, clock: fixedClock(later) }), {
    attempted: 0,
    delivered: 0,
  });
  assert.equal(await outboxSize(server.kv), 0);
  const event = await storedEvent(server.kv, eventId);
  assert.equal(event.status, "delivered");
  assert.equal(event.lease, null);
  assert.equal(event.attempts, 3);
  assert.equal((await listAttempts(server.kv, eventId))[2].error, "unknown");
  assert.equal(receiver.requests.length, 1);
});

// ---------------------------------------------------------------- keys

Deno.test("GET and POST /webhook_verification_key/get serve the public key without an API key; an unknown kid is 404", async () => {
  await using server = await startServer();
  const key = await currentWebhookKey(server.kv, server.accountId);

  const byGet = await request(`${keyUrl(server)}?key_id=${encodeURIComponent(key.kid)}`);
  assert.equal(byGet.status, 200, byGet.text);
  const byPost = await request(keyUrl(server), { method: "POST", json: { key_id: key.kid } });
  assert.equal(byPost.status, 200, byPost.text);
  assert.deepEqual(byPost.body, byGet.body);
  const served = byGet.body.key;
  assert.deepEqual(Object.keys(served).toSorted(), [
    "alg",
    "created_at",
    "crv",
    "expired_at",
    "kid",
    "kty",
    "use",
    "x",
    "y",
  ]);
  assert.deepEqual(
    [served.alg, served.crv, served.kid, served.kty, served.use, served.expired_at],
    ["ES256", "P-256", key.kid, "EC", "sig", null],
  );
  assert.ok(Math.abs(served.created_at - Date.now() / 1000) < 60);
  assert.ok(!byGet.text.includes(`"d"`), "the private key leaked");

  assertError(await request(`${keyUrl(server)}?key_id=whk_nope`), 404, "webhook_key_not_found");
  assertError(
    await request(keyUrl(server), { method: "POST", json: { key_id: "whk_nope" } }),
    404,
    "webhook_key_not_found",
  );
  assertError(
    await request(keyUrl(server), { method: "POST", json: {} }),
    400,
    "invalid_request",
    "key_id",
  );
  assertError(await request(keyUrl(server)), 400, "invalid_request", "key_id");

  const doc = (await request(`${server.url}/openapi.json`)).body;
  assert.ok(doc.paths["/webhook_verification_key/get"].post);
  assert.ok(doc.paths["/webhook_verification_key/get"].get);
  assert.ok(doc.paths["/.well-known/jwks.json"].get);
  assert.deepEqual(doc.paths["/v1/links/{id}/webhooks"].get.security, [{ apiKey: [] }]);
  assert.deepEqual(doc.paths["/webhook_verification_key/get"].post.security, []);
});

Deno.test("after a rotation new events are signed with the new kid, and old-kid signatures still verify within the overlap", async () => {
  await using server = await sweepOnlyServer();
  await using receiver = startReceiver();
  const deps = { kv: server.kv, config: server.config, clock: systemClock };
  const link1 = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  await finishLink(server, link1.id, COMPLETE);
  await deliverDueWebhooks(deps);
  const oldKid = jwtParts(receiver.requests[0]).header.kid as string;

  const before = Math.floor(Date.now() / 1000);
  const { current, previous } = await rotateWebhookKey(server.kv, {
    accountId: server.accountId,
    overlapSeconds: server.config.webhookKeyOverlapSeconds,
  });
  assert.equal(previous?.kid, oldKid);
  assert.equal(server.config.webhookKeyOverlapSeconds, 24 * 60 * 60);

  const link2 = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  await finishLink(server, link2.id, COMPLETE);
  await deliverDueWebhooks(deps);
  assert.equal(jwtParts(receiver.requests[1]).header.kid, current.kid);
  assert.notEqual(current.kid, oldKid);

  // A receiver verifies both: the old signature with the old key, still served.
  assert.equal((await verifyReceived(server, receiver.requests[0])).linkId, link1.id);
  assert.equal((await verifyReceived(server, receiver.requests[1])).linkId, link2.id);
  const old = (await request(`${keyUrl(server)}?key_id=${oldKid}`)).body.key;
  assert.ok(
    old.expired_at >= before + 86400 && old.expired_at <= Math.ceil(Date.now() / 1000) + 86400,
    `expired_at ${old.expired_at}`,
  );
  const accountJwks = `${server.url}/v1/accounts/${server.accountId}/jwks.json`;
  const jwks = (await request(accountJwks)).body;
  assert.deepEqual(jwks.keys.map((k: any) => k.kid), [oldKid, current.kid]);

  // A key past its expired_at is no longer served.
  const third = await rotateWebhookKey(server.kv, {
    accountId: server.accountId,
    overlapSeconds: 0,
  });
  assertError(
    await request(`${keyUrl(server)}?key_id=${current.kid}`),
    404,
    "webhook_key_not_found",
  );
  const after = (await request(accountJwks)).body;
  assert.deepEqual(after.keys.map((k: any) => k.kid), [oldKid, third.current.kid]);
});

Deno.test("webhook-keys CLI: list shows the keys, rotate makes a new one current and the server signs with it", async () => {
  const root = fileURLToPath(new URL("../", import.meta.url));
  const dir = await Deno.makeTempDir({ prefix: "passage_webhook_keys_cli_" });
  const kvPath = `${dir}/passage.kv3`;
  const cli = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "lib/webhook_keys_cli.ts", ...args],
      cwd: root,
      env: { NO_COLOR: "1", PASSAGE_KV_PATH: kvPath },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  };
  try {
    const empty = await cli("list");
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /No webhook signing keys yet/);

    const first = await cli("rotate");
    assert.equal(first.code, 0, first.stderr);
    const firstKid = /New current key (whk_\w+)/.exec(first.stdout)?.[1];
    assert.ok(firstKid, first.stdout);
    const second = await cli("rotate", "--overlap", "3600");
    assert.equal(second.code, 0, second.stderr);
    const secondKid = /New current key (whk_\w+)/.exec(second.stdout)?.[1];
    assert.ok(secondKid && secondKid !== firstKid, second.stdout);
    assert.match(second.stdout, new RegExp(`Previous key ${firstKid} stays valid until \\d{4}-`));

    const listed = await cli("list");
    assert.match(listed.stdout, new RegExp(`${firstKid} .*valid until`));
    assert.match(listed.stdout, new RegExp(`${secondKid} .*current`));
    assert.equal((await cli("rotate", "--overlap", "soon")).code, 2);
    assert.equal((await cli("spin")).code, 2);

    // Without --account: the server-wide keys, which only pre-per-account accounts sign with.
    await using server = await startServer({ kvPath });
    assert.equal((await currentServerWebhookKey(server.kv)).kid, secondKid);
    const jwks = (await request(`${server.url}/.well-known/jwks.json`)).body;
    assert.deepEqual(jwks.keys.map((k: any) => k.kid), [firstKid, secondKid]);

    // With --account: that account's key, and no other's.
    const other = await createApiKey(server.kv, { name: "other", mode: "test" });
    const otherKid = (await currentWebhookKey(server.kv, other.key.accountId)).kid;
    const own = await cli("rotate", "--account", server.accountId, "--json");
    assert.equal(own.code, 0, own.stderr);
    const ownKid = JSON.parse(own.stdout).current.kid;
    assert.equal((await currentWebhookKey(server.kv, server.accountId)).kid, ownKid);
    assert.equal((await currentWebhookKey(server.kv, other.key.accountId)).kid, otherKid);
    const set = (await request(`${server.url}/v1/accounts/${server.accountId}/jwks.json`)).body;
    assert.deepEqual(set.keys.map((k: any) => k.kid), [ownKid]);
    const ownList = await cli("list", "--account", server.accountId);
    assert.match(ownList.stdout, new RegExp(`${ownKid} .*current`));
    assert.doesNotMatch(ownList.stdout, new RegExp(otherKid));
    const nobody = await cli("rotate", "--account", "acct_nobody");
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /No account with id "acct_nobody"/);
    assert.equal((await cli("list", "--account", "someone")).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
