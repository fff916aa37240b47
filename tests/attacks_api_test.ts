// deno-lint-ignore-file no-explicit-any
/**
 * Round-two attacks by a hostile developer on the API's newest surfaces, each
 * named for the property that now defends against it: `GET /v1/webhooks/listen`
 * (streams per key, the mode of old events), `POST /v1/webhooks/test` (a rate
 * limit), the SDK's retries (an idempotency layer on every POST that creates or
 * acts) and `Request-Id` (ours, never the client's). Each test's comment says
 * the attack, its impact and the design that closes it; docs/SECURITY.md is
 * the threat model they hold the product to.
 *
 * Everything is real: the server on a loopback port over real Deno KV, real
 * SSE streams, the SDK over real fetch with a lost answer played at its edge.
 */
import { openSse, type SseStream } from "./_sse.ts";
import { fixedClock } from "../lib/services.ts";
import assert from "node:assert/strict";
import { Passage } from "@passage/connect";
import { createApiKey } from "../lib/api_keys.ts";
import { newId } from "../lib/ids.ts";
import { webhookEventKey } from "../lib/kv_keys.ts";
import { takeRate } from "../lib/rate_limit.ts";
import { LEASE_MS, listenPollers, MAX_LISTEN_STREAMS_PER_KEY } from "../lib/webhook_listen.ts";
import type { WebhookEventRecord } from "../lib/webhooks.ts";
import { TEST_WEBHOOK_LIMIT } from "../lib/webhook_delivery.ts";
import { assertError, createLinkViaApi, LINK_BODY, startServer } from "./_harness.ts";
import { COMPLETE, finishLink, waitForEvent } from "./_webhooks.ts";

// ---------------------------------------------------------------------------
// Helpers

// ---------------------------------------------------------------------------
// 4. Listen streams: no bound per key.

/**
 * The attack: one test key opens listen streams and never reads them. Each
 * `GET /v1/webhooks/listen` runs its own loop of two KV range scans per poll
 * (`listenDeliveries`), and signs every delivery once per stream (an ES256
 * signature each): nothing is shared between streams of one account, unlike
 * the relay's sessions ("nothing per socket"), and nothing bounds how many a
 * key holds. A few thousand streams from one free test key cost the server
 * thousands of KV scans a second and a signature per stream per event. Fix:
 * one poller per account and mode per isolate, fanned out to its streams (the
 * `SessionWakeups` pattern), and a small cap of concurrent streams per key
 * (429 with `Retry-After`), since `deno task webhooks listen` needs one.
 */
Deno.test("one API key cannot hold 30 webhook listen streams at once: the sixth is a 429 with Retry-After", async () => {
  await using server = await startServer();
  const streams: SseStream[] = [];
  try {
    for (let i = 0; i < 30; i++) {
      const stream = await openSse(`${server.url}/v1/webhooks/listen`, {
        authorization: `Bearer ${server.apiKey}`,
      });
      streams.push(stream);
      if (stream.status !== 200) break;
      await stream.next((m) => m.event === "ready");
    }
    assert.deepEqual(
      streams.map((s) => s.status),
      [...Array(MAX_LISTEN_STREAMS_PER_KEY).fill(200), 429],
      `one key's listen streams were answered ${streams.map((s) => s.status)}`,
    );
    const retryAfter = Number(streams.at(-1)!.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= LEASE_MS / 1000, `Retry-After ${retryAfter}`);
    const refused = await server.api("/v1/webhooks/listen");
    assertError(refused, 429, "too_many_attempts");
    assert.match(refused.body.error.message, /already holds 5 webhook listen streams/);
    // One poller serves them all.
    assert.equal(listenPollers(server.kv), 1);
  } finally {
    for (const stream of streams) await stream[Symbol.asyncDispose]();
  }
});

/** Waits (on the condition, for something that must happen) until `check()` holds. */
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    assert.ok(Date.now() < deadline, `${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const listen = (url: string, apiKey: string, headers: Record<string, string> = {}) =>
  openSse(`${url}/v1/webhooks/listen`, { authorization: `Bearer ${apiKey}`, ...headers });

/**
 * The cap is counted in KV, not per instance: the attacker cannot spread the
 * streams over the instances of a deployment. A stream that ends frees its
 * slot at once (a lease in KV, deleted), so a CLI that reconnects gets in.
 */
Deno.test("the listen cap holds across instances sharing one KV, and a closed stream frees its slot at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "passage_listen_cap_" });
  try {
    await using a = await startServer({ kvPath: `${dir}/passage.kv3` });
    await using b = await startServer({ kvPath: `${dir}/passage.kv3` });
    const open: SseStream[] = [];
    try {
      for (const server of [a, a, a, b, b]) {
        const stream = await listen(server.url, a.apiKey);
        open.push(stream);
        assert.equal(stream.status, 200);
        await stream.next((m) => m.event === "ready");
      }
      for (const server of [a, b]) {
        await using refused = await listen(server.url, a.apiKey);
        assert.equal(refused.status, 429, `${server.url} let a sixth stream in`);
      }
      await open.shift()![Symbol.asyncDispose]();
      // The server learns the client went when the socket closes: retry until then.
      let again = await listen(b.url, a.apiKey);
      const deadline = Date.now() + 5_000;
      while (again.status === 429 && Date.now() < deadline) {
        await again[Symbol.asyncDispose]();
        await new Promise((resolve) => setTimeout(resolve, 50));
        again = await listen(b.url, a.apiKey);
      }
      open.push(again);
      assert.equal(again.status, 200, "the closed stream's slot stayed taken");
    } finally {
      for (const stream of open) await stream[Symbol.asyncDispose]();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The other half of the fix: what streams cost. Three streams of one account
 * and mode are one poller (two KV range scans a poll, whatever the number of
 * streams), and each delivery is signed once and handed to all three: they get
 * the very same `Passage-Verification` (an ES256 signature is randomized, so
 * three signings would give three). The poller ends with its last stream.
 */
Deno.test("listen streams of one account and mode share one poller that signs each delivery once", async () => {
  await using server = await startServer();
  const live = await createApiKey(server.kv, {
    name: "live",
    mode: "live",
    accountId: server.accountId,
  });
  const streams = [
    await listen(server.url, server.apiKey),
    await listen(server.url, server.apiKey),
    await listen(server.url, server.apiKey),
    await listen(server.url, live.secret),
  ];
  try {
    for (const stream of streams) await stream.next((m) => m.event === "ready");
    assert.equal(listenPollers(server.kv), 2, "one poller per account and mode");
    const sent = await server.api("/v1/webhooks/test", {
      method: "POST",
      json: { url: "http://127.0.0.1:9/hook" },
    });
    assert.equal(sent.status, 200, sent.text);
    const got = await Promise.all(
      streams.slice(0, 3).map((s) => s.next((m) => m.event === "delivery")),
    );
    const deliveries = got.map((m) => JSON.parse(m.data));
    assert.deepEqual(deliveries.map((d) => d.id), Array(3).fill(sent.body.eventId));
    const signatures = new Set(deliveries.map((d) => d.headers["passage-verification"]));
    assert.equal(signatures.size, 1, "each stream's delivery was signed on its own");
  } finally {
    for (const stream of streams) await stream[Symbol.asyncDispose]();
  }
  await until("the pollers end with their streams", () => listenPollers(server.kv) === 0);
});

/**
 * The attack (listed without a test): an event stored before events recorded
 * their mode has no `livemode`. Delivery signs it with its link's mode; the
 * listen stream read it as `?? false`, so a live link's old event (a live
 * user's bill) went to whoever holds a *test* key of the account, resuming
 * with `Last-Event-ID`. Fix: the stream asks the mode the way delivery does
 * (`eventLivemode`: the event's, else its link's).
 */
Deno.test("an old event without livemode reaches only the listeners of its link's mode", async () => {
  await using server = await startServer();
  const live = await createApiKey(server.kv, {
    name: "live",
    mode: "live",
    accountId: server.accountId,
  });
  const before = newId("evt");
  const link = await createLinkViaApi(server, {
    ...LINK_BODY,
    webhookUrl: "https://127.0.0.1:9/hook",
  }, { apiKey: live.secret });
  const eventId = (await finishLink(server, link.id, COMPLETE))!;
  await waitForEvent(server.kv, eventId, (e) => e.attempts >= 1 && e.lease === null);
  // As stored before the field existed.
  const entry = await server.kv.get<WebhookEventRecord>(webhookEventKey(eventId));
  const { livemode: _, ...old } = entry.value!;
  assert.ok((await server.kv.atomic().check(entry).set(entry.key, old).commit()).ok);

  const resume = { "last-event-id": before };
  await using liveStream = await listen(server.url, live.secret, resume);
  await using testStream = await listen(server.url, server.apiKey, resume);
  const got = JSON.parse((await liveStream.next((m) => m.event === "delivery")).data);
  assert.equal(got.id, eventId);
  assert.equal(got.livemode, true);

  // The test stream's first delivery is one made after it opened, not the live event.
  await testStream.next((m) => m.event === "ready");
  const mine = await server.api("/v1/webhooks/test", {
    method: "POST",
    json: { url: "http://127.0.0.1:9/hook" },
  });
  const first = JSON.parse((await testStream.next((m) => m.event === "delivery")).data);
  assert.equal(first.id, mine.body.eventId, `the test-mode stream got ${first.id} (${first.type})`);
});

// ---------------------------------------------------------------------------
// Listed without a test: POST /v1/webhooks/test had no limit.

/**
 * The attack: `POST /v1/webhooks/test` makes the server send a request to any
 * public URL and keeps the event in KV for listeners for ten minutes, with no
 * limit: a free test key turns the server into a request cannon and fills KV.
 * Fix: a per-account limit in KV (`lib/rate_limit.ts`), a 429 with `Retry-After`.
 */
Deno.test("POST /v1/webhooks/test is limited per account: a burst gets a 429 with Retry-After", async () => {
  await using server = await startServer();
  const send = (apiKey?: string) =>
    server.api("/v1/webhooks/test", {
      method: "POST",
      json: { url: "http://127.0.0.1:9/hook" },
      apiKey,
    });
  // A window may turn during the burst, so the 429 comes within two windows' worth.
  let sent = 0;
  let refused;
  while (!refused && sent <= 2 * TEST_WEBHOOK_LIMIT.limit) {
    const res = await send();
    if (res.status === 429) refused = res;
    else {
      assert.equal(res.status, 200, res.text);
      sent++;
    }
  }
  assert.ok(refused, `${sent} test webhooks in a row were all sent`);
  assert.ok(sent >= TEST_WEBHOOK_LIMIT.limit, `refused after ${sent}`);
  assertError(refused, 429, "too_many_attempts");
  const retryAfter = Number(refused.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  // Another account is not held back by this one.
  const other = await createApiKey(server.kv, { name: "other", mode: "test" });
  assert.equal((await send(other.secret)).status, 200);
});

Deno.test("takeRate() counts exactly the limit in a window, and the next window starts afresh", async () => {
  using kv = await Deno.openKv(":memory:");
  const rule = { name: "t", limit: 3, windowMs: 60_000, message: "Too many" };
  const start = 1_800_000_000_000 - 15_000; // 45 s into a window
  const at = (ms: number) => ({ kv, clock: fixedClock(ms) });
  for (let i = 0; i < 3; i++) await takeRate(at(start + i), rule, "acct_1");
  const err = await takeRate(at(start + 3), rule, "acct_1").catch((e) => e);
  assert.equal(err.code, "too_many_attempts");
  assert.equal(err.headers["Retry-After"], "15");
  await takeRate(at(start + 3), rule, "acct_2");
  await takeRate(at(start + 15_000), rule, "acct_1");
});

// ---------------------------------------------------------------------------
// Listed without a test: a client-chosen Request-Id was answered as ours.

/**
 * The attack: the server kept a sane incoming `Request-Id` as the request's
 * own id, answered and logged it. A client could give its requests the id of
 * someone else's answer (from a screenshot, a ticket) so that support's search
 * finds the wrong lines, or reuse one id for all. Fix: the id is always ours
 * and new; the client's value is logged beside it as `client_request_id`.
 */
Deno.test("a client's Request-Id is never answered as the request's: every answer gets an id of ours", async () => {
  await using server = await startServer();
  const spoof = "0b7c8f8e-4a6e-4c1b-9d7a-3f1e2d5c6b7a";
  const answers = [
    await server.api("/v1/links", { headers: { "request-id": spoof } }),
    await server.api("/v1/links", { headers: { "request-id": spoof } }),
    await server.api("/v1/links/link_nope", { headers: { "request-id": spoof } }),
  ];
  const ids = answers.map((r) => r.headers.get("request-id"));
  assert.ok(!ids.includes(spoof), `the client's id was answered: ${ids}`);
  assert.equal(new Set(ids).size, 3);
  assert.equal(answers[2].body.error.request_id, ids[2]);
});

// ---------------------------------------------------------------------------
// 5. The SDK retries POSTs the server does not deduplicate.

/**
 * The attack on the integrator's own correctness: `RequestOptions.idempotencyKey`
 * is documented as "makes a retried create return the first answer instead of
 * creating twice", and `_http.ts` retries any POST that carries one. But only
 * `POST /v1/links` honours `Idempotency-Key`; `POST /v1/sessions` ignores it.
 * An answer lost after the server created the session (a reset connection, a
 * timeout) makes `sessions.create(params, { idempotencyKey })` create a
 * second session with its own live claim code, which the developer never sees
 * and cannot end. Fix: one idempotency layer for every POST that creates or
 * acts (the one `createLink` has, keyed by account and route), so the SDK's
 * rule "a POST with a key is safe to retry" is true of the server.
 */
Deno.test("a lost answer to sessions.create with an idempotencyKey is retried into one session", async () => {
  await using server = await startServer();
  let lost = 0;
  const lossy: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (init?.method === "POST" && url.pathname === "/v1/sessions" && lost === 0) {
      lost++;
      await res.body?.cancel();
      throw new TypeError("connection reset after the server answered");
    }
    return res;
  };
  const passage = new Passage({
    apiKey: server.apiKey,
    baseUrl: server.url,
    fetch: lossy,
    maxRetries: 2,
  });
  const session = await passage.sessions.create({}, { idempotencyKey: "checkout-42" });
  assert.equal(lost, 1, "the first answer was lost");
  const list = await server.api("/v1/sessions");
  assert.equal(list.status, 200);
  const ids = list.body.data.map((s: any) => s.id);
  assert.deepEqual(
    ids,
    [session.id],
    `one create with one Idempotency-Key left ${ids.length} sessions: ${ids.join(", ")}`,
  );
});
