/**
 * Webhook listening, as `stripe listen` does it: a developer's local tool
 * streams an account's webhook deliveries (`GET /v1/webhooks/listen`) and
 * forwards each to a local receiver, exactly as Passage would have sent it.
 *
 * A delivery here is an event's stored body bytes with a fresh
 * `Passage-Verification` signature for the account and mode: the receiver
 * verifies it with `verifyWebhook` like any other. The sources are the
 * account's stored events (`link.completed`, `link.failed`, `link.event`,
 * whatever their own delivery did) and the `webhook.test` events of
 * `POST /v1/webhooks/test`, which are kept here for a few minutes for that.
 *
 * KV is the only thing listeners share with the instance that made an event,
 * so a listener polls two small key ranges. It rescans a short window behind
 * its newest event, since ids are made a moment before their commit lands.
 */
import type { Owner } from "./api_keys.ts";
import { CROCKFORD } from "./ids.ts";
import { webhookEventKey, webhookEventsByAccountPrefix } from "./kv_keys.ts";
import { signWebhookBody } from "./webhook_signing.ts";
import { readEventBody, type WebhookEventRecord } from "./webhooks.ts";

/** How long a test event waits for listeners, in milliseconds. */
export const LISTEN_TEST_EVENT_TTL_MS = 10 * 60 * 1000;
/** How far behind the newest event a listener looks again, for commits that land late. */
const RESCAN_MS = 30 * 1000;

/** The key of a test event kept for an account's listeners of one mode. */
export function listenTestEventKey(
  accountId: string,
  mode: Owner["mode"],
  eventId: string,
): ["webhook_listen_test", string, Owner["mode"], string] {
  return ["webhook_listen_test", accountId, mode, eventId];
}

function listenTestEventPrefix(accountId: string, mode: Owner["mode"]) {
  return ["webhook_listen_test", accountId, mode] as const;
}

interface StoredTestEvent {
  body: Uint8Array;
}

/** Keeps a `webhook.test` event (its exact bytes) for `owner`'s listeners for a few minutes. */
export async function feedListeners(
  kv: Deno.Kv,
  owner: Owner,
  eventId: string,
  body: Uint8Array,
  _now: Date = new Date(),
): Promise<void> {
  const value: StoredTestEvent = { body };
  await kv.set(listenTestEventKey(owner.accountId, owner.mode, eventId), value, {
    expireIn: LISTEN_TEST_EVENT_TTL_MS,
  });
}

/** One signed delivery, as the listen stream sends it and the CLI forwards it. */
export interface ListenDelivery {
  /** The event id (`evt_…`), also the `Webhook-Id` header. */
  id: string;
  type: string;
  /** The link, or null for a test event. */
  linkId: string | null;
  livemode: boolean;
  /** The headers to send with the body, exactly these. */
  headers: {
    "content-type": "application/json";
    "webhook-id": string;
    "passage-verification": string;
  };
  /** The body, the UTF-8 text of the exact bytes Passage signs (always JSON it serialized). */
  body: string;
}

/** The smallest id of the millisecond `at`: every event created from then on sorts after it. */
function idFloor(at: number): string {
  let time = "";
  for (let i = 0, ms = at; i < 10; i++, ms = Math.floor(ms / 32)) time = CROCKFORD[ms % 32] + time;
  return `evt_${time}${"0".repeat(16)}`;
}

async function sign(
  kv: Deno.Kv,
  owner: Owner,
  id: string,
  type: string,
  linkId: string | null,
  bytes: Uint8Array,
): Promise<ListenDelivery> {
  const livemode = owner.mode === "live";
  const { jwt } = await signWebhookBody(kv, bytes, { aud: owner.accountId, livemode });
  return {
    id,
    type,
    linkId,
    livemode,
    headers: { "content-type": "application/json", "webhook-id": id, "passage-verification": jwt },
    body: new TextDecoder().decode(bytes),
  };
}

/**
 * Yields `owner`'s deliveries created from `since` (ms) on, oldest first, as
 * they appear, until `signal` aborts. With `after` (the last event id a
 * reconnecting listener saw, `Last-Event-ID`), it resumes from that event
 * instead, at most `LISTEN_TEST_EVENT_TTL_MS` back. `onIdle` runs after each
 * empty poll.
 */
export async function* listenDeliveries(
  kv: Deno.Kv,
  owner: Owner,
  options: {
    since: number;
    after?: string;
    pollMs: number;
    signal: AbortSignal;
    onIdle?: () => Promise<void>;
  },
): AsyncGenerator<ListenDelivery> {
  const { signal } = options;
  const seen = new Map<string, number>();
  let since = options.since;
  if (options.after && /^evt_[0-9A-HJKMNP-TV-Z]{26}$/.test(options.after)) {
    since = Math.min(since, Math.max(decodeTime(options.after), since - LISTEN_TEST_EVENT_TTL_MS));
    seen.set(options.after, decodeTime(options.after));
  }
  let floor = since;
  const events = webhookEventsByAccountPrefix(owner.accountId);
  const tests = listenTestEventPrefix(owner.accountId, owner.mode);
  while (!signal.aborted) {
    const found: Array<{ id: string; test?: StoredTestEvent }> = [];
    const start = idFloor(Math.max(since, floor - RESCAN_MS));
    for await (
      const entry of kv.list<string>({ start: [...events, start], end: [...events, "evt`"] })
    ) {
      if (!seen.has(entry.value)) found.push({ id: entry.value });
    }
    for await (
      const entry of kv.list<StoredTestEvent>({ start: [...tests, start], end: [...tests, "evt`"] })
    ) {
      const id = entry.key.at(-1) as string;
      if (!seen.has(id)) found.push({ id, test: entry.value });
    }
    found.sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const item of found) {
      if (signal.aborted) return;
      const createdAt = decodeTime(item.id);
      seen.set(item.id, createdAt);
      floor = Math.max(floor, createdAt);
      if (item.test) {
        yield await sign(kv, owner, item.id, "webhook.test", null, item.test.body);
        continue;
      }
      const event = (await kv.get<WebhookEventRecord>(webhookEventKey(item.id))).value;
      // Another mode's event (the account index holds both), or purged meanwhile.
      if (!event || (event.livemode ?? false) !== (owner.mode === "live")) continue;
      yield await sign(
        kv,
        owner,
        event.id,
        event.type,
        event.linkId,
        await readEventBody(kv, event),
      );
    }
    for (const [id, at] of seen) if (at < floor - 2 * RESCAN_MS) seen.delete(id);
    if (found.length === 0) await options.onIdle?.();
    await pause(options.pollMs, signal);
  }
}

/** The millisecond time at the head of a time-ordered id. */
function decodeTime(id: string): number {
  const time = id.slice(id.indexOf("_") + 1, id.indexOf("_") + 11);
  let ms = 0;
  for (const ch of time) ms = ms * 32 + CROCKFORD.indexOf(ch);
  return ms;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
