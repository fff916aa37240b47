/**
 * Delivering webhook events from the KV outbox.
 *
 * The outbox (`webhookOutboxKey(dueAt, eventId)`) is the truth: a queue
 * message wakes the deliverer at once where queues exist, and the minute sweep
 * (`deliverDueWebhooks`) sends whatever is due, wherever it runs. Before
 * sending, a deliverer leases the event with an atomic check: of many
 * deliverers racing for one due event, exactly one sends it. A lease moves the
 * outbox entry to the lease's end, so a deliverer that dies mid-send leaves the
 * event due again once its lease runs out.
 *
 * Each attempt POSTs the stored body bytes, signed afresh, with no redirects
 * followed and a timeout. 2xx is success; 410 disables the event; anything else
 * is retried on a jittered schedule for at least 72 hours (429 and 503 honour
 * `Retry-After`); a refused address fails at once (see `webhook_address.ts`).
 */
import { type RateLimit, takeRate } from "./rate_limit.ts";
import type { Owner } from "./api_keys.ts";
import type { Config } from "./config.ts";
import { PassageError } from "./errors.ts";
import { newId, randomHex } from "./ids.ts";
import { log } from "./log.ts";
import { feedListeners } from "./webhook_listen.ts";
import {
  webhookAttemptKey,
  webhookEventKey,
  webhookOutboxKey,
  webhookOutboxPrefix,
} from "./kv_keys.ts";
import type { Jobs } from "./queue.ts";
import { fixedClock, type Services } from "./services.ts";
import { checkWebhookAddress } from "./webhook_address.ts";
import { signWebhookBody } from "./webhook_signing.ts";
import {
  eventLivemode,
  linkEventIds,
  readEventBody,
  readOwnedLink,
  WEBHOOK_DELIVER_JOB,
  type WebhookAttempt,
  type WebhookEventRecord,
  type WebhookEventStatus,
} from "./webhooks.ts";

/** What a deliverer needs. */
/**
 * What delivery uses: the store, the clock (what is due, and the attempt's
 * time), the address guard's and timeout's settings, and (where queues exist)
 * the jobs that wake the deliverer when a retry falls due; without them the
 * sweep finds it.
 */
export interface WebhookDeliveryDeps extends Pick<Services, "kv" | "clock"> {
  readonly config: Pick<Config, "allowLoopbackWebhooks" | "webhookTimeoutMs">;
  readonly jobs?: Jobs;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * The wait after each failed attempt (after the first, the second, …), each
 * ±20 % jitter; the last repeats until the retry window has passed.
 */
export const RETRY_DELAYS_MS: readonly number[] = [
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  10 * HOUR,
  10 * HOUR,
  14 * HOUR,
];
/** Retries go on until an attempt is made at least this long after the event was created. */
export const RETRY_WINDOW_MS = 72 * HOUR;
/** Jitter applied to each delay: ±20 %. */
export const RETRY_JITTER = 0.2;
/** The longest wait between attempts, `Retry-After` included. */
export const MAX_RETRY_DELAY_MS = RETRY_DELAYS_MS[RETRY_DELAYS_MS.length - 1];
/** Most response body bytes read (and thrown away) per attempt. */
const MAX_RESPONSE_BYTES = 4096;
/**
 * How long a lease holds unless its holder renews it: short, so another
 * instance sends an event within seconds of its deliverer dying. The holder
 * renews it every `LEASE_RENEW_MS` for as long as its send lasts.
 */
export const LEASE_MS = 6 * SECOND;
const LEASE_RENEW_MS = 2 * SECOND;
/** Attempts kept per event: older ones are deleted as new ones are recorded. */
export const MAX_ATTEMPTS_KEPT = 50;
/** Due events handled per sweep, and how many at once. */
const SWEEP_LIMIT = 500;
const SWEEP_CONCURRENCY = 8;

/**
 * Commits `op`; a store busy with another connection's write (SQLite's
 * "database is locked", when several processes share one KV file) counts as
 * a commit that did not happen, like a failed check. Other errors are thrown.
 */
async function commitUnlessBusy(op: Deno.AtomicOperation): Promise<boolean> {
  try {
    return (await op.commit()).ok;
  } catch (err) {
    if (err instanceof Error && /database is locked|SQLITE_BUSY/i.test(err.message)) return false;
    throw err;
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The jittered wait after the `failedAttempts`-th failure (1-based). */
export function retryDelayMs(failedAttempts: number, random: () => number = Math.random): number {
  const base = RETRY_DELAYS_MS[Math.min(failedAttempts, RETRY_DELAYS_MS.length) - 1];
  return Math.round(base * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random()));
}

/** When a `Retry-After` value (seconds or an HTTP date) says to come back, or null. */
export function parseRetryAfter(value: string | null, now: Date): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return now.getTime() + Number(text) * SECOND;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(at, now.getTime());
}

interface SendResult {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  retryAt: number | null;
}

async function drain(res: Response): Promise<void> {
  if (!res.body) return;
  const reader = res.body.getReader();
  try {
    let read = 0;
    while (read < MAX_RESPONSE_BYTES) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
  } catch {
    // A body cut short (timeout, reset) changes nothing: the status decides.
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** One POST of the event's bytes, guarded, signed, timed. */
function send(
  kv: Deno.Kv,
  event: WebhookEventRecord,
  deps: WebhookDeliveryDeps,
  now: Date,
): Promise<SendResult> {
  return post(
    kv,
    event.url,
    event.id,
    async () => ({
      // KV trouble reading or signing is thrown, not recorded as the receiver's
      // fault: the lease then runs out and a later sweep tries again.
      body: await readEventBody(kv, event),
      audience: { aud: event.accountId, livemode: await eventLivemode(kv, event) },
    }),
    deps,
    now,
  );
}

/** POSTs the bytes `prepare` gives to `url`, after the address check, signed for their audience. */
async function post(
  kv: Deno.Kv,
  url: string,
  eventId: string,
  prepare: () => Promise<{ body: Uint8Array; audience: { aud: string; livemode: boolean } }>,
  deps: WebhookDeliveryDeps,
  now: Date,
): Promise<SendResult> {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), deps.config.webhookTimeoutMs);
  const result = (
    statusCode: number | null,
    error: string | null,
    retryAt: number | null = null,
  ) => ({
    statusCode,
    error,
    retryAt,
    durationMs: Math.round(performance.now() - started),
  });
  try {
    const check = await checkWebhookAddress(url, {
      allowLoopback: deps.config.allowLoopbackWebhooks,
      signal: controller.signal,
    });
    if (!check.ok) return result(null, controller.signal.aborted ? "timeout" : check.error);
    const { body, audience } = await prepare();
    const { jwt } = await signWebhookBody(kv, body, audience, now);
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        body: body as Uint8Array<ArrayBuffer>,
        redirect: "manual",
        signal: controller.signal,
        headers: {
          "content-type": "application/json",
          "user-agent": "Passage-Webhooks/1",
          "webhook-id": eventId,
          "passage-verification": jwt,
        },
      });
    } catch {
      return result(null, controller.signal.aborted ? "timeout" : "connection_error");
    }
    await drain(res);
    const status = res.status;
    if (status >= 200 && status < 300) return result(status, null);
    if (status === 410) return result(status, "gone");
    if (status === 429 || status === 503) {
      const retryAt = parseRetryAfter(res.headers.get("retry-after"), now);
      return result(status, status === 429 ? "rate_limited" : "http_error", retryAt);
    }
    if (status >= 300 && status < 400) return result(status, "redirect");
    return result(status, "http_error");
  } finally {
    clearTimeout(timer);
  }
}

/** Test webhooks per account: each sends a request and keeps its event for listeners a while. */
export const TEST_WEBHOOK_LIMIT: RateLimit = {
  name: "webhook_test",
  limit: 30,
  windowMs: 60_000,
  message: "Too many test webhooks for this account",
};

/** What a test webhook's receiver gets, and what `sendTestWebhook` answers. */
export interface TestWebhookResult {
  /** The test event's id (`evt_…`); a test event is not stored and never retried. */
  eventId: string;
  url: string;
  statusCode: number | null;
  /** Null on a 2xx; else why, as on delivery attempts (`blocked_address`, `timeout`, `http_error`, …). */
  error: string | null;
  durationMs: number;
}

/**
 * Sends one signed `webhook.test` event to `url` for `owner` now, through the
 * same address guard, signature (`aud` = the account, `livemode` = the mode)
 * and timeout as real deliveries, at most `TEST_WEBHOOK_LIMIT` a minute per
 * account (the API and the console alike). Nothing is stored; it is not retried.
 */
export async function sendTestWebhook(
  deps: WebhookDeliveryDeps,
  owner: Owner,
  url: string,
): Promise<TestWebhookResult> {
  const { kv } = deps;
  const now = new Date(deps.clock.now());
  await takeRate({ kv, clock: fixedClock(now) }, TEST_WEBHOOK_LIMIT, owner.accountId);
  const eventId = newId("evt");
  const body = new TextEncoder().encode(JSON.stringify({
    id: eventId,
    type: "webhook.test",
    livemode: owner.mode === "live",
    createdAt: now.toISOString(),
  }));
  await feedListeners(kv, owner, eventId, body);
  const sent = await post(
    kv,
    url,
    eventId,
    () =>
      Promise.resolve({
        body,
        audience: { aud: owner.accountId, livemode: owner.mode === "live" },
      }),
    deps,
    now,
  );
  log.info("webhook.test", {
    event_id: eventId,
    status_code: sent.statusCode,
    outcome: sent.error ?? "delivered",
  });
  return {
    eventId,
    url,
    statusCode: sent.statusCode,
    error: sent.error,
    durationMs: sent.durationMs,
  };
}

/** What an attempt does to the event: its new status and next due time. */
function settle(
  event: WebhookEventRecord,
  sent: SendResult,
  trigger: WebhookAttempt["trigger"],
  attemptNumber: number,
  now: Date,
): { status: WebhookEventStatus; nextAttemptAt: number | null } {
  if (sent.error === null) return { status: "delivered", nextAttemptAt: null };
  if (sent.error === "gone") return { status: "disabled", nextAttemptAt: null };
  if (sent.error === "blocked_address" || sent.error === "invalid_url") {
    return { status: "failed", nextAttemptAt: null };
  }
  // A failed manual redelivery leaves the automatic schedule as it was.
  if (trigger === "manual") return { status: event.status, nextAttemptAt: event.nextAttemptAt };
  if (now.getTime() - Date.parse(event.createdAt) >= RETRY_WINDOW_MS) {
    return { status: "failed", nextAttemptAt: null };
  }
  // `Retry-After` can only lengthen the wait: never below the schedule's next
  // step (a `0` or a past date), never beyond the longest delay.
  const scheduled = now.getTime() + retryDelayMs(attemptNumber);
  const retryAt = sent.retryAt === null
    ? scheduled
    : Math.max(scheduled, Math.min(sent.retryAt, now.getTime() + MAX_RETRY_DELAY_MS));
  return { status: "pending", nextAttemptAt: retryAt };
}

type Lease =
  | { ok: true; event: WebhookEventRecord; token: string }
  | { ok: false; reason: "missing" | "not_due" | "leased" };

/** Takes the event for one send, if it is due (or `manual`) and nobody holds it. */
async function lease(
  kv: Deno.Kv,
  eventId: string,
  now: Date,
  manual: boolean,
): Promise<Lease> {
  const entry = await kv.get<WebhookEventRecord>(webhookEventKey(eventId));
  const stored = entry.value;
  if (!stored) return { ok: false, reason: "missing" };
  if (stored.lease && stored.lease.until > now.getTime()) return { ok: false, reason: "leased" };
  // A lease that ran out means its holder died mid-send: that attempt's outcome
  // is unknown (the receiver may have it), and it goes in the log as such.
  const dead = stored.lease ? unknownAttempt(stored, stored.lease) : null;
  const event = dead ? { ...stored, attempts: dead.number } : stored;
  const recordDead = (op: Deno.AtomicOperation) => {
    if (!dead) return;
    op.set(webhookAttemptKey(eventId, dead.number), dead);
    if (dead.number > MAX_ATTEMPTS_KEPT) {
      op.delete(webhookAttemptKey(eventId, dead.number - MAX_ATTEMPTS_KEPT));
    }
  };
  const due = event.status === "pending" && event.nextAttemptAt !== null &&
    event.nextAttemptAt <= now.getTime();
  if (!manual && !due) {
    // Left over by a deliverer that died holding the event (a crash, or a KV
    // error mid-send): put the outbox entry back where the event's state says.
    const wanted = event.status === "pending" ? event.nextAttemptAt : null;
    if (event.outboxAt !== wanted || event.lease) {
      const op = kv.atomic().check(entry).set(entry.key, {
        ...event,
        outboxAt: wanted,
        lease: null,
      });
      recordDead(op);
      if (event.outboxAt !== null && event.outboxAt !== wanted) {
        op.delete(webhookOutboxKey(event.outboxAt, event.id));
      }
      if (wanted !== null) op.set(webhookOutboxKey(wanted, event.id), event.id);
      await commitUnlessBusy(op);
    }
    return { ok: false, reason: "not_due" };
  }
  const token = randomHex(16);
  const until = Math.max(now.getTime(), Date.now()) + LEASE_MS;
  const leased: WebhookEventRecord = {
    ...event,
    lease: { token, until, since: now.getTime(), trigger: manual ? "manual" : "automatic" },
    outboxAt: until,
  };
  const op = kv.atomic().check(entry).set(entry.key, leased);
  recordDead(op);
  if (event.outboxAt !== null && event.outboxAt !== until) {
    op.delete(webhookOutboxKey(event.outboxAt, event.id));
  }
  op.set(webhookOutboxKey(until, event.id), event.id);
  // Lost the race (another deliverer changed the event since the read), or the
  // store was busy: either way this deliverer does not send; the event stays due.
  if (!(await commitUnlessBusy(op))) return { ok: false, reason: "leased" };
  return { ok: true, event: leased, token };
}

/** The attempt a deliverer that died holding `lease` made, outcome unknown. */
function unknownAttempt(
  event: WebhookEventRecord,
  lease: NonNullable<WebhookEventRecord["lease"]>,
): WebhookAttempt {
  return {
    number: event.attempts + 1,
    at: new Date(lease.since ?? lease.until - LEASE_MS).toISOString(),
    statusCode: null,
    error: "unknown",
    durationMs: 0,
    trigger: lease.trigger ?? "automatic",
  };
}

/** Stores an attempt and moves the event on, in one commit. */
async function record(
  kv: Deno.Kv,
  eventId: string,
  token: string,
  sent: SendResult,
  trigger: WebhookAttempt["trigger"],
  deps: WebhookDeliveryDeps,
  now: Date,
): Promise<WebhookAttempt> {
  for (let tries = 1;; tries++) {
    const entry = await kv.get<WebhookEventRecord>(webhookEventKey(eventId));
    const event = entry.value;
    if (!event) throw new Error(`Webhook event ${eventId} vanished during delivery`);
    const attempt: WebhookAttempt = {
      number: event.attempts + 1,
      at: now.toISOString(),
      statusCode: sent.statusCode,
      error: sent.error,
      durationMs: sent.durationMs,
      trigger,
    };
    const { status, nextAttemptAt } = settle(event, sent, trigger, attempt.number, now);
    // Our lease may have run out and been taken (a very slow send): the attempt
    // is still recorded, and the other deliverer's lease is left alone.
    const ours = event.lease?.token === token;
    const next: WebhookEventRecord = {
      ...event,
      status,
      attempts: attempt.number,
      nextAttemptAt,
      lease: ours ? null : event.lease,
      outboxAt: ours ? nextAttemptAt : event.outboxAt,
    };
    const op = kv.atomic()
      .check(entry)
      .check({ key: webhookAttemptKey(eventId, attempt.number), versionstamp: null })
      .set(webhookAttemptKey(eventId, attempt.number), attempt)
      .set(entry.key, next);
    if (ours) {
      if (event.outboxAt !== null && event.outboxAt !== nextAttemptAt) {
        op.delete(webhookOutboxKey(event.outboxAt, eventId));
      }
      if (nextAttemptAt !== null) {
        op.set(webhookOutboxKey(nextAttemptAt, eventId), eventId);
        deps.jobs?.enqueueIn(
          op,
          { kind: WEBHOOK_DELIVER_JOB, id: eventId },
          Math.max(0, nextAttemptAt - now.getTime()),
        );
      }
    }
    // The attempt log is bounded: the oldest beyond the limit goes in the same commit.
    if (attempt.number > MAX_ATTEMPTS_KEPT) {
      op.delete(webhookAttemptKey(eventId, attempt.number - MAX_ATTEMPTS_KEPT));
    }
    if (await commitUnlessBusy(op)) {
      log.info("webhook.delivery", {
        event_id: eventId,
        link_id: event.linkId,
        attempt: attempt.number,
        trigger,
        status_code: sent.statusCode,
        outcome: sent.error ?? "delivered",
        event_status: status,
        next_retry: nextAttemptAt === null ? null : new Date(nextAttemptAt).toISOString(),
      });
      return attempt;
    }
    // The attempt happened: keep trying to record it (the lease keeps others off meanwhile).
    if (tries >= 50) throw new Error(`Could not record attempt ${attempt.number} of ${eventId}`);
    await pause(Math.min(200, 5 * tries) * (0.5 + Math.random()));
  }
}

/**
 * Makes one automatic attempt at an event if it is due and nobody else holds
 * it. Returns the attempt, or null if nothing was sent.
 */
export async function deliverWebhook(
  deps: WebhookDeliveryDeps,
  eventId: string,
): Promise<WebhookAttempt | null> {
  const { kv } = deps;
  const now = new Date(deps.clock.now());
  const held = await lease(kv, eventId, now, false);
  if (!held.ok) return null;
  const sent = await whileHeld(kv, eventId, held.token, () => send(kv, held.event, deps, now));
  return await record(kv, eventId, held.token, sent, "automatic", deps, now);
}

/** Runs `work` while renewing the lease `token` on the event, so it never lapses under a live send. */
async function whileHeld<T>(
  kv: Deno.Kv,
  eventId: string,
  token: string,
  work: () => Promise<T>,
): Promise<T> {
  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = renewing.then(() => renewLease(kv, eventId, token)).catch(() => {});
  }, LEASE_RENEW_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await renewing;
  }
}

/** Moves the lease `token` (and the event's outbox entry) `LEASE_MS` on from now, if still held. */
async function renewLease(kv: Deno.Kv, eventId: string, token: string): Promise<void> {
  const entry = await kv.get<WebhookEventRecord>(webhookEventKey(eventId));
  const event = entry.value;
  if (!event || event.lease?.token !== token) return;
  const until = Date.now() + LEASE_MS;
  const op = kv.atomic().check(entry).set(entry.key, {
    ...event,
    lease: { ...event.lease, token, until },
    outboxAt: until,
  });
  if (event.outboxAt !== null && event.outboxAt !== until) {
    op.delete(webhookOutboxKey(event.outboxAt, eventId));
  }
  op.set(webhookOutboxKey(until, eventId), eventId);
  await commitUnlessBusy(op);
}

/**
 * Sends every event due at the clock's now (at most a few hundred per call, a
 * few at a time), every attempt at that one time. The sweeps call it; tests
 * call it with a clock in the future to drive retries. Stale outbox entries
 * (events that moved on) are cleared.
 */
export async function deliverDueWebhooks(
  deps: WebhookDeliveryDeps,
): Promise<{ attempted: number; delivered: number }> {
  const { kv } = deps;
  const now = new Date(deps.clock.now());
  const pinned = { ...deps, clock: fixedClock(now) };
  const due: Array<{ key: Deno.KvKey; eventId: string; at: number }> = [];
  const selector = {
    prefix: webhookOutboxPrefix(),
    end: [...webhookOutboxPrefix(), now.getTime() + 1],
  };
  for await (const entry of kv.list<string>(selector, { limit: SWEEP_LIMIT })) {
    due.push({ key: entry.key, eventId: entry.value, at: entry.key[1] as number });
  }
  let attempted = 0;
  let delivered = 0;
  let next = 0;
  const worker = async () => {
    while (next < due.length) {
      const item = due[next++];
      try {
        const eventEntry = await kv.get<WebhookEventRecord>(webhookEventKey(item.eventId));
        if (eventEntry.value?.outboxAt !== item.at) {
          // The event moved on (or is gone) and this entry was left behind.
          await commitUnlessBusy(kv.atomic().check(eventEntry).delete(item.key));
          continue;
        }
        const attempt = await deliverWebhook(pinned, item.eventId);
        if (attempt) {
          attempted++;
          if (attempt.error === null) delivered++;
        }
      } catch (err) {
        // One event's trouble does not hold up the rest; the next sweep retries it.
        console.error(`webhook delivery of ${item.eventId} failed:`, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, due.length) }, worker));
  return { attempted, delivered };
}

/** The newest of a link's outcome events (`link.completed` / `link.failed`), not a `link.event`. */
async function latestOutcomeEventId(kv: Deno.Kv, linkId: string): Promise<string | undefined> {
  for (const id of (await linkEventIds(kv, linkId)).reverse()) {
    const event = (await kv.get<WebhookEventRecord>(webhookEventKey(id))).value;
    if (event && event.type !== "link.event") return id;
  }
  return undefined;
}

/**
 * Sends the latest outcome event of `owner`'s link again now, whatever its status
 * (same id and body, a fresh signature), and records the attempt. A success
 * marks the event delivered; a failure leaves its automatic schedule alone.
 */
export async function redeliverLatestWebhook(
  deps: WebhookDeliveryDeps,
  owner: Owner,
  linkId: string,
): Promise<{ eventId: string; attempt: WebhookAttempt }> {
  const { kv } = deps;
  const now = new Date(deps.clock.now());
  await readOwnedLink(kv, owner, linkId);
  const eventId = await latestOutcomeEventId(kv, linkId);
  if (!eventId) {
    throw new PassageError(
      "no_webhook_event",
      `Link ${linkId} has no webhook event to redeliver (it has not finished, or has no webhookUrl)`,
    );
  }
  const held = await lease(kv, eventId, now, true);
  if (!held.ok) {
    if (held.reason === "missing") {
      throw new PassageError("no_webhook_event", `Webhook event ${eventId} no longer exists`);
    }
    throw new PassageError(
      "webhook_delivery_in_progress",
      `Webhook event ${eventId} is being delivered right now; try again in a few seconds`,
    );
  }
  const sent = await whileHeld(kv, eventId, held.token, () => send(kv, held.event, deps, now));
  return { eventId, attempt: await record(kv, eventId, held.token, sent, "manual", deps, now) };
}

/** Lets queue messages (`jobs.enqueueIn` in `addWebhookEvent`) wake the deliverer. */
export function registerWebhookJobs(svc: Pick<Services, "kv" | "config" | "jobs" | "clock">): void {
  svc.jobs.on(WEBHOOK_DELIVER_JOB, async (eventId) => {
    try {
      await deliverWebhook(svc, eventId);
    } catch (err) {
      // The store closed under a delivery (shutdown): its lease runs out and
      // the next sweep, here or on another instance, sends it again.
      if (err instanceof Deno.errors.BadResource) return;
      throw err;
    }
  });
}
