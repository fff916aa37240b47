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
 * What a stream costs, like the relay's sessions (`relay/wakeups.ts`):
 *
 * - One poller per account and mode in this isolate, however many streams it
 *   has: KV is the only thing listeners share with the instance that made an
 *   event, so it reads two small key ranges each `pollMs` (rescanning a short
 *   window behind its newest event, since ids are made a moment before their
 *   commit lands), signs each new delivery once and hands the same delivery to
 *   every stream. A test event made in this isolate wakes it at once.
 * - A stream only waits on its queue. One that falls `QUEUE_LIMIT` deliveries
 *   behind (a client that does not read) is ended; it resumes with
 *   `Last-Event-ID`, which scans back once for that stream alone.
 * - At most `MAX_LISTEN_STREAMS_PER_KEY` streams per API key, across
 *   instances: each holds one of the key's slots in KV, a lease renewed while
 *   it is open and deleted when it ends, so one of an instance that died frees
 *   itself within `LEASE_MS`.
 */
import type { ApiKeyInfo, Owner } from "./api_keys.ts";
import { PassageError } from "./errors.ts";
import { CROCKFORD } from "./ids.ts";
import { webhookEventKey, webhookEventsByAccountPrefix } from "./kv_keys.ts";
import { log } from "./log.ts";
import { signWebhookBody } from "./webhook_signing.ts";
import { eventLivemode, readEventBody, type WebhookEventRecord } from "./webhooks.ts";

/** How long a test event waits for listeners, in milliseconds. */
export const LISTEN_TEST_EVENT_TTL_MS = 10 * 60 * 1000;
/** How far behind the newest event a poller looks again, for commits that land late. */
const RESCAN_MS = 30 * 1000;
/** Open listen streams one API key may hold (`deno task webhooks listen` needs one). */
export const MAX_LISTEN_STREAMS_PER_KEY = 5;
/** How long a stream's slot lasts unless renewed (every third of it while the stream is open). */
export const LEASE_MS = 30 * 1000;
/** Deliveries a stream may fall behind before it is ended (it resumes with `Last-Event-ID`). */
export const QUEUE_LIMIT = 1000;

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

/** One of an API key's listen stream slots (`ListenSlot`). */
export function listenSlotKey(
  keyId: string,
  slot: number,
): ["webhook_listen_slots", string, number] {
  return ["webhook_listen_slots", keyId, slot];
}

interface StoredTestEvent {
  body: Uint8Array;
}

/** A stream's hold on a slot; the stored `until` decides (`expireIn` is only a lower bound). */
interface ListenSlot {
  holder: string;
  until: number;
}

/** Keeps a `webhook.test` event (its exact bytes) for `owner`'s listeners for a few minutes. */
export async function feedListeners(
  kv: Deno.Kv,
  owner: Owner,
  eventId: string,
  body: Uint8Array,
): Promise<void> {
  const value: StoredTestEvent = { body };
  await kv.set(listenTestEventKey(owner.accountId, owner.mode, eventId), value, {
    expireIn: LISTEN_TEST_EVENT_TTL_MS,
  });
  hubs.get(kv)?.wake(owner);
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

// ------------------------------------------------------------ the per-key cap

/** A stream's slot, renewed on its own timer; `lost` fires if another stream took it meanwhile. */
export interface ListenLease extends AsyncDisposable {
  readonly lost: AbortSignal;
}

/**
 * Takes one of `apiKey`'s listen slots for a stream, or refuses with a 429
 * `too_many_attempts` and `Retry-After` when all are held. Dispose of it when
 * the stream ends.
 */
export async function takeListenSlot(kv: Deno.Kv, apiKey: ApiKeyInfo): Promise<ListenLease> {
  const holder = crypto.randomUUID();
  const keys = Array.from(
    { length: MAX_LISTEN_STREAMS_PER_KEY },
    (_, i) => listenSlotKey(apiKey.id, i),
  );
  for (let pass = 0; pass < 3; pass++) {
    const now = Date.now();
    const entries = await kv.getMany<ListenSlot[]>(keys);
    for (const entry of entries) {
      if (entry.value && entry.value.until > now) continue;
      const slot: ListenSlot = { holder, until: now + LEASE_MS };
      const res = await kv.atomic().check(entry).set(entry.key, slot, { expireIn: LEASE_MS })
        .commit();
      if (res.ok) return holdSlot(kv, entry.key, res.versionstamp, holder);
    }
    if (pass < 2 && entries.some((e) => !e.value || e.value.until <= Date.now())) continue;
    const soonest = Math.min(...entries.map((e) => e.value?.until ?? now));
    const retryAfter = Math.max(1, Math.ceil((soonest - Date.now()) / 1000));
    throw new PassageError(
      "too_many_attempts",
      `API key ${apiKey.id} already holds ${MAX_LISTEN_STREAMS_PER_KEY} webhook listen streams, ` +
        "the most it may; close one, or retry when one ends",
      { headers: { "Retry-After": String(retryAfter) } },
    );
  }
  throw new PassageError("write_conflict", "Could not take a listen stream slot; try again");
}

function holdSlot(
  kv: Deno.Kv,
  key: Deno.KvKey,
  versionstamp: string,
  holder: string,
): ListenLease {
  const lost = new AbortController();
  let stamp = versionstamp;
  const renew = async () => {
    const slot: ListenSlot = { holder, until: Date.now() + LEASE_MS };
    const res = await kv.atomic().check({ key, versionstamp: stamp }).set(key, slot, {
      expireIn: LEASE_MS,
    }).commit().catch(() => null);
    if (res?.ok) stamp = res.versionstamp;
    else lost.abort();
  };
  const timer = setInterval(() => void renew(), LEASE_MS / 3);
  return {
    lost: lost.signal,
    async [Symbol.asyncDispose]() {
      clearInterval(timer);
      await kv.atomic().check({ key, versionstamp: stamp }).delete(key).commit().catch(() => {});
    },
  };
}

// ------------------------------------------------------------ the shared pollers

/** The smallest id of the millisecond `at`: every event created from then on sorts after it. */
function idFloor(at: number): string {
  let time = "";
  for (let i = 0, ms = at; i < 10; i++, ms = Math.floor(ms / 32)) time = CROCKFORD[ms % 32] + time;
  return `evt_${time}${"0".repeat(16)}`;
}

/** The millisecond time at the head of a time-ordered id. */
function decodeTime(id: string): number {
  const time = id.slice(id.indexOf("_") + 1, id.indexOf("_") + 11);
  let ms = 0;
  for (const ch of time) ms = ms * 32 + CROCKFORD.indexOf(ch);
  return ms;
}

type Found = { id: string; test?: StoredTestEvent };

/** `owner`'s events and test events with ids from the millisecond `from` on, oldest first. */
async function scan(kv: Deno.Kv, owner: Owner, from: number): Promise<Found[]> {
  const events = webhookEventsByAccountPrefix(owner.accountId);
  const tests = listenTestEventPrefix(owner.accountId, owner.mode);
  const start = idFloor(from);
  const found: Found[] = [];
  for await (
    const entry of kv.list<string>({ start: [...events, start], end: [...events, "evt`"] })
  ) found.push({ id: entry.value });
  for await (
    const entry of kv.list<StoredTestEvent>({ start: [...tests, start], end: [...tests, "evt`"] })
  ) found.push({ id: entry.key.at(-1) as string, test: entry.value });
  return found.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** One found event as `owner`'s listeners get it, signed; null for another mode's or a purged one. */
async function prepare(kv: Deno.Kv, owner: Owner, item: Found): Promise<ListenDelivery | null> {
  if (item.test) return await sign(kv, owner, item.id, "webhook.test", null, item.test.body);
  const event = (await kv.get<WebhookEventRecord>(webhookEventKey(item.id))).value;
  // The account index holds both modes: the event's mode is delivery's (its link's, if unrecorded).
  if (!event || (await eventLivemode(kv, event)) !== (owner.mode === "live")) return null;
  return await sign(kv, owner, event.id, event.type, event.linkId, await readEventBody(kv, event));
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

/** One stream, as its poller sees it. */
interface Listener {
  /** Deliveries of events created before this are not for it (it gets them by resuming). */
  since: number;
  deliver(delivery: ListenDelivery): void;
  /** After each poll that had nothing new for it. */
  idle(): void;
}

/** The poller of one account and mode in this isolate, shared by all its streams. */
class Poller {
  readonly #kv: Deno.Kv;
  readonly #owner: Owner;
  readonly #pollMs: number;
  readonly #onEmpty: () => void;
  readonly listeners = new Set<Listener>();
  readonly #seen = new Map<string, number>();
  #floor = Date.now();
  #wake: (() => void) | null = null;
  #woken = false;

  constructor(kv: Deno.Kv, owner: Owner, pollMs: number, onEmpty: () => void) {
    this.#kv = kv;
    this.#owner = owner;
    this.#pollMs = pollMs;
    this.#onEmpty = onEmpty;
  }

  /** Runs until its last listener leaves (add the first one before). */
  start(): void {
    void this.#run();
  }

  /** Polls now instead of at the next interval. */
  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  async #run(): Promise<void> {
    while (this.listeners.size > 0) {
      this.#woken = false;
      try {
        await this.#poll();
      } catch (err) {
        if (this.listeners.size === 0) break;
        log.warn("webhook.listen.poll_failed", {
          account_id: this.#owner.accountId,
          error: err instanceof Error ? err.name : typeof err,
        });
      }
      if (this.#woken || this.listeners.size === 0) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#pollMs);
        this.#wake = done;
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
      this.#wake = null;
    }
    this.#onEmpty();
  }

  async #poll(): Promise<void> {
    const found = await scan(this.#kv, this.#owner, this.#floor - RESCAN_MS);
    const got = new Set<Listener>();
    for (const item of found) {
      if (this.#seen.has(item.id)) continue;
      const createdAt = decodeTime(item.id);
      this.#seen.set(item.id, createdAt);
      this.#floor = Math.max(this.#floor, createdAt);
      const delivery = await prepare(this.#kv, this.#owner, item);
      if (!delivery) continue;
      for (const listener of this.listeners) {
        if (createdAt < listener.since) continue;
        listener.deliver(delivery);
        got.add(listener);
      }
    }
    for (const [id, at] of this.#seen) if (at < this.#floor - 2 * RESCAN_MS) this.#seen.delete(id);
    for (const listener of this.listeners) if (!got.has(listener)) listener.idle();
  }
}

/** The pollers of one KV store in this isolate, by account and mode. */
class ListenHub {
  readonly #kv: Deno.Kv;
  readonly #pollers = new Map<string, Poller>();

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Adds `listener` to `owner`'s poller, starting it if it is the first; returns the removal. */
  add(owner: Owner, pollMs: number, listener: Listener): () => void {
    const name = `${owner.accountId}:${owner.mode}`;
    let poller = this.#pollers.get(name);
    if (!poller) {
      poller = new Poller(
        this.#kv,
        { accountId: owner.accountId, mode: owner.mode },
        pollMs,
        () => {
          if (this.#pollers.get(name) === poller) this.#pollers.delete(name);
        },
      );
      this.#pollers.set(name, poller);
      poller.listeners.add(listener);
      poller.start();
    }
    poller.listeners.add(listener);
    const joined = poller;
    return () => {
      joined.listeners.delete(listener);
      if (joined.listeners.size === 0) joined.wake(); // so it ends now, not after a pause
    };
  }

  wake(owner: Owner): void {
    this.#pollers.get(`${owner.accountId}:${owner.mode}`)?.wake();
  }

  /** How many pollers run (one per account and mode with open streams). */
  get size(): number {
    return this.#pollers.size;
  }
}

const hubs = new WeakMap<Deno.Kv, ListenHub>();

function hubOf(kv: Deno.Kv): ListenHub {
  let hub = hubs.get(kv);
  if (!hub) hubs.set(kv, hub = new ListenHub(kv));
  return hub;
}

/** How many account-and-mode pollers run in this isolate over `kv` (for tests and logs). */
export function listenPollers(kv: Deno.Kv): number {
  return hubs.get(kv)?.size ?? 0;
}

/**
 * `owner`'s deliveries created from now on, oldest first, as they appear,
 * until `signal` aborts, through the shared poller of its account and mode.
 * The stream joins the poller at once (before it writes anything), and leaves
 * it when iteration ends or `signal` aborts. With `after` (the last event id a
 * reconnecting listener saw, `Last-Event-ID`), it first yields what came after
 * that event, at most `LISTEN_TEST_EVENT_TTL_MS` back. `onIdle` runs after each
 * poll with nothing new. It ends (without throwing) if the stream falls
 * `QUEUE_LIMIT` behind.
 */
export function listenDeliveries(
  kv: Deno.Kv,
  owner: Owner,
  options: {
    after?: string;
    pollMs: number;
    signal: AbortSignal;
    onIdle?: () => Promise<void>;
  },
): AsyncGenerator<ListenDelivery> {
  const { signal } = options;
  const now = Date.now();
  const resume = options.after && /^evt_[0-9A-HJKMNP-TV-Z]{26}$/.test(options.after)
    ? options.after
    : undefined;
  const since = resume ? Math.max(decodeTime(resume), now - LISTEN_TEST_EVENT_TTL_MS) : now;

  const queue: Array<ListenDelivery | "idle"> = [];
  let overflow = false;
  let wake = () => {};
  const push = (item: ListenDelivery | "idle") => {
    if (item === "idle" && queue.length > 0) return;
    if (queue.length >= QUEUE_LIMIT) overflow = true;
    else queue.push(item);
    wake();
  };
  const remove = hubOf(kv).add(owner, options.pollMs, {
    since,
    deliver: (delivery) => push(delivery),
    idle: () => push("idle"),
  });
  const abort = () => {
    remove();
    wake();
  };
  if (signal.aborted) abort();
  else signal.addEventListener("abort", abort, { once: true });

  return (async function* () {
    // What this stream got by resuming: the poller may hand it some of them too.
    const replayed = new Set<string>(resume ? [resume] : []);
    try {
      if (resume) {
        // Once, for this stream alone: what the shared poller had passed when it joined.
        for (const item of await scan(kv, owner, since)) {
          if (signal.aborted) return;
          if (replayed.has(item.id)) continue;
          const delivery = await prepare(kv, owner, item);
          if (!delivery) continue;
          replayed.add(item.id);
          yield delivery;
        }
      }
      while (!signal.aborted && !overflow) {
        const item = queue.shift();
        if (item === undefined) {
          await new Promise<void>((resolve) => wake = resolve);
          continue;
        }
        if (item === "idle") await options.onIdle?.();
        else if (!replayed.has(item.id)) yield item;
      }
    } finally {
      signal.removeEventListener("abort", abort);
      remove();
    }
  })();
}
