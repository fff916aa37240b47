/**
 * Webhook events: what Passage tells a developer's server when a link finishes.
 * An event is created in the same atomic commit that writes the link's final
 * state (`addWebhookEvent`), together with its exact body bytes and an outbox
 * entry, so an event exists if and only if the link finished. Delivery lives in
 * `webhook_delivery.ts`; this module holds the records and their public views.
 */
import type { ClientEvent, LinkDevice, LinkStatus } from "@passage/connect/schemas";
import type { Owner } from "./api_keys.ts";
import { PassageError } from "./errors.ts";
import { newId } from "./ids.ts";
import {
  linkKey,
  webhookAttemptPrefix,
  webhookBodyChunkKey,
  webhookEventKey,
  webhookEventPrefix,
  webhookEventsByAccountKey,
  webhookEventsByAccountPrefix,
  webhookEventsByLinkKey,
  webhookEventsByLinkPrefix,
  webhookOutboxKey,
} from "./kv_keys.ts";
import { type LinkRecord, ownsLink } from "./links.ts";
import type { Jobs } from "./queue.ts";
import type { Services } from "./services.ts";

/** How a link ended, as the engine reports it. */
export interface LinkOutcome {
  status: "complete" | "failed";
  results?: Record<string, unknown>;
  error?: { code: string; message: string };
}

/** The kinds of event: a link's outcome, or one of its client events (opted in). */
export type WebhookEventType = "link.completed" | "link.failed" | "link.event";

/** Where an event's delivery stands. */
export type WebhookEventStatus = "pending" | "delivered" | "failed" | "disabled";

/** The queue job that wakes the deliverer for one event (its id is the event id). */
export const WEBHOOK_DELIVER_JOB = "webhook.deliver";

/**
 * Largest event body. Bodies are stored, chunked, in the commit that finishes
 * the link, which KV caps at 800 KiB in all: this leaves room for the rest.
 */
export const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;
/** Bytes per stored body chunk (a KV value holds at most 64 KiB). */
const BODY_CHUNK_BYTES = 60_000;

/** An event as stored in KV (its body is stored apart, in chunks). */
export interface WebhookEventRecord {
  id: string;
  type: WebhookEventType;
  linkId: string;
  /** The account that owns the link, signed as the `aud` claim. */
  accountId: string;
  /** The API key that created the link. */
  ownerKeyId: string;
  /** The link's mode, signed as the `livemode` claim (absent on events older than the field). */
  livemode?: boolean;
  /** Where it is sent: the link's `webhookUrl` when the event was created. */
  url: string;
  createdAt: string;
  status: WebhookEventStatus;
  bodyBytes: number;
  bodyChunks: number;
  /** Attempts made so far; attempt numbers run from 1. */
  attempts: number;
  /** When the next automatic attempt is due (ms since epoch); null once none is planned. */
  nextAttemptAt: number | null;
  /** The time under which the event sits in the outbox now (ms), or null when it is not there. */
  outboxAt: number | null;
  /** A deliverer holding the event while it sends; expires at `until` (ms). */
  /**
   * Who holds the event for a send: until when, since when and why. A lease
   * found run out means its holder died mid-send (recorded as an `unknown` attempt).
   */
  lease:
    | { token: string; until: number; since?: number; trigger?: WebhookAttempt["trigger"] }
    | null;
}

/** One delivery attempt, as stored and as listed. */
export interface WebhookAttempt {
  number: number;
  /** When the attempt started (ISO 8601). */
  at: string;
  /** The receiver's HTTP status, or null if none came back. */
  statusCode: number | null;
  /**
   * Why the attempt failed, or null if it succeeded: `blocked_address`,
   * `dns_error`, `invalid_url`, `timeout`, `connection_error`, `redirect`,
   * `gone`, `rate_limited`, `http_error`, or `unknown` when the deliverer
   * stopped (a crash, an evicted instance) before it knew the outcome.
   */
  error: string | null;
  durationMs: number;
  /** `automatic` (the outbox) or `manual` (a redeliver request). */
  trigger: "automatic" | "manual";
}

/** An event as `GET /v1/links/{id}/webhooks` lists it. */
export interface WebhookEventView {
  id: string;
  type: WebhookEventType;
  status: WebhookEventStatus;
  createdAt: string;
  attempts: WebhookAttempt[];
  nextAttemptAt: string | null;
}

/** The JSON body of an event; keys in this order, serialized once. */
export interface WebhookEventBody {
  id: string;
  type: WebhookEventType;
  linkId: string;
  /** The final status; on `link.event`, the link's status when the event happened. */
  status: LinkStatus;
  provider: string;
  /** True for links created with a live key. */
  livemode: boolean;
  /** The device that ran the link, and its attestation (always `"none"` today). */
  device: LinkDevice | null;
  results?: Record<string, unknown>;
  error?: { code: string; message: string };
  /** On `link.event`: the client event. */
  event?: ClientEvent;
  createdAt: string;
}

/**
 * Adds, to an atomic operation that also writes the link's final state, the
 * webhook event and its outbox entry (and a queue wake-up through
 * `jobs.enqueueIn`). Does nothing if link.webhookUrl is null. Returns the event
 * id (or null).
 *
 * The body is serialized here, once: every attempt sends these exact bytes. It
 * is stored in chunks inside the same operation (at most a handful of values);
 * a body over `MAX_WEBHOOK_BODY_BYTES` throws a `RangeError` before anything is
 * added, so the engine must keep results bounded.
 */
export function addWebhookEvent(
  svc: Pick<Services, "jobs" | "clock">,
  op: Deno.AtomicOperation,
  link: LinkRecord,
  outcome: LinkOutcome,
): string | null {
  if (link.webhookUrl === null) return null;
  const { jobs } = svc;
  const now = new Date(svc.clock.now());
  const id = newId("evt");
  const results = outcome.status === "complete" ? outcome.results ?? {} : outcome.results;
  const error = outcome.status === "failed"
    ? outcome.error ?? { code: "operation_failed", message: "The link failed" }
    : undefined;
  const body: WebhookEventBody = {
    id,
    type: outcome.status === "complete" ? "link.completed" : "link.failed",
    linkId: link.id,
    status: outcome.status,
    provider: link.provider,
    livemode: link.livemode,
    device: link.device ?? null,
    ...(results === undefined ? {} : { results }),
    ...(error === undefined ? {} : { error }),
    createdAt: now.toISOString(),
  };
  storeEvent(op, jobs, link, link.webhookUrl, body);
  return id;
}

/**
 * Adds, to an atomic operation that records a client event on the link, its
 * `link.event` webhook, when the link asked for them (`webhookEvents:
 * ["client"]`) and has a `webhookUrl`. Returns the event id (or null).
 */
export function addClientEventWebhook(
  svc: Pick<Services, "jobs">,
  op: Deno.AtomicOperation,
  link: LinkRecord,
  event: ClientEvent,
): string | null {
  if (link.webhookUrl === null || !link.webhookEvents?.includes("client")) return null;
  const id = newId("evt");
  // Created at the event's own time.
  const now = new Date(event.at);
  storeEvent(op, svc.jobs, link, link.webhookUrl, {
    id,
    type: "link.event",
    linkId: link.id,
    status: link.status,
    provider: link.provider,
    livemode: link.livemode,
    device: link.device ?? null,
    event,
    createdAt: now.toISOString(),
  });
  return id;
}

/** Adds an event's record, body chunks, indexes and outbox entry to `op`. */
function storeEvent(
  op: Deno.AtomicOperation,
  jobs: Jobs,
  link: LinkRecord,
  url: string,
  body: WebhookEventBody,
): void {
  const id = body.id;
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  if (bytes.byteLength > MAX_WEBHOOK_BODY_BYTES) {
    throw new RangeError(
      `Webhook body for link ${link.id} is ${bytes.byteLength} bytes; the limit is ${MAX_WEBHOOK_BODY_BYTES}`,
    );
  }
  const chunks = Math.max(1, Math.ceil(bytes.byteLength / BODY_CHUNK_BYTES));
  const dueAt = Date.parse(body.createdAt);
  const record: WebhookEventRecord = {
    id,
    type: body.type,
    linkId: link.id,
    accountId: link.accountId,
    ownerKeyId: link.ownerKeyId,
    livemode: link.livemode,
    url,
    createdAt: body.createdAt,
    status: "pending",
    bodyBytes: bytes.byteLength,
    bodyChunks: chunks,
    attempts: 0,
    nextAttemptAt: dueAt,
    outboxAt: dueAt,
    lease: null,
  };
  op.check({ key: webhookEventKey(id), versionstamp: null })
    .set(webhookEventKey(id), record)
    .set(webhookEventsByLinkKey(link.id, id), id)
    .set(webhookEventsByAccountKey(link.accountId, id), id)
    .set(webhookOutboxKey(dueAt, id), id);
  for (let i = 0; i < chunks; i++) {
    op.set(
      webhookBodyChunkKey(id, i),
      bytes.slice(i * BODY_CHUNK_BYTES, (i + 1) * BODY_CHUNK_BYTES),
    );
  }
  jobs.enqueueIn(op, { kind: WEBHOOK_DELIVER_JOB, id });
}

/**
 * The event's mode: its own `livemode`, or for events stored before it was
 * recorded, its link's. Delivery signs it and the listen stream filters by it.
 */
export async function eventLivemode(kv: Deno.Kv, event: WebhookEventRecord): Promise<boolean> {
  if (typeof event.livemode === "boolean") return event.livemode;
  return (await kv.get<LinkRecord>(linkKey(event.linkId))).value?.livemode ?? false;
}

/** The exact body bytes of an event. */
export async function readEventBody(
  kv: Deno.Kv,
  event: WebhookEventRecord,
): Promise<Uint8Array> {
  const keys = Array.from({ length: event.bodyChunks }, (_, i) => webhookBodyChunkKey(event.id, i));
  const bytes = new Uint8Array(event.bodyBytes);
  let offset = 0;
  for (let i = 0; i < keys.length; i += 10) {
    for (const entry of await kv.getMany<Uint8Array[]>(keys.slice(i, i + 10))) {
      if (!entry.value) {
        throw new Error(`Body chunk ${String(entry.key)} of ${event.id} is missing`);
      }
      bytes.set(entry.value, offset);
      offset += entry.value.byteLength;
    }
  }
  return bytes;
}

/** The link `owner` owns, or a 404 that does not tell another account's link from none. */
export async function readOwnedLink(
  kv: Deno.Kv,
  owner: Owner,
  linkId: string,
): Promise<LinkRecord> {
  const link = (await kv.get<LinkRecord>(linkKey(linkId))).value;
  if (!link || !ownsLink(owner, link)) {
    throw new PassageError("link_not_found", `No link with id "${linkId}"`, { param: "id" });
  }
  return link;
}

/** The ids of a link's events, oldest first. */
export async function linkEventIds(kv: Deno.Kv, linkId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const entry of kv.list<string>({ prefix: webhookEventsByLinkPrefix(linkId) })) {
    ids.push(entry.value);
  }
  return ids;
}

/** Every attempt of an event, in order. */
export async function listAttempts(kv: Deno.Kv, eventId: string): Promise<WebhookAttempt[]> {
  const out: WebhookAttempt[] = [];
  for await (const entry of kv.list<WebhookAttempt>({ prefix: webhookAttemptPrefix(eventId) })) {
    out.push(entry.value);
  }
  return out;
}

/** The public view of an event with its attempts. */
export function toEventView(
  event: WebhookEventRecord,
  attempts: WebhookAttempt[],
): WebhookEventView {
  return {
    id: event.id,
    type: event.type,
    status: event.status,
    createdAt: event.createdAt,
    attempts,
    nextAttemptAt: event.nextAttemptAt === null
      ? null
      : new Date(event.nextAttemptAt).toISOString(),
  };
}

/** The events of `owner`'s link, newest first, each with its attempts. */
export async function listLinkWebhooks(
  kv: Deno.Kv,
  owner: Owner,
  linkId: string,
): Promise<{ object: "list"; data: WebhookEventView[] }> {
  await readOwnedLink(kv, owner, linkId);
  const ids = (await linkEventIds(kv, linkId)).reverse();
  const data: WebhookEventView[] = [];
  for (const id of ids) {
    const event = (await kv.get<WebhookEventRecord>(webhookEventKey(id))).value;
    if (event) data.push(toEventView(event, await listAttempts(kv, id)));
  }
  return { object: "list", data };
}

/**
 * Deletes the events (their bodies, which hold results, and their attempts)
 * of links older than the result retention, once they are no longer being retried.
 * Event ids sort by time, so the scan stops at the first young one. Returns
 * how many it deleted.
 */
export async function purgeExpiredWebhookEvents(
  svc: Pick<Services, "kv" | "config" | "clock">,
): Promise<number> {
  const { kv } = svc;
  const retentionMs = svc.config.resultRetentionSeconds * 1000;
  const now = svc.clock.now();
  let purged = 0;
  for await (
    const { value: event } of kv.list<WebhookEventRecord>({ prefix: webhookEventPrefix() })
  ) {
    if (Date.parse(event.createdAt) + retentionMs > now) break;
    if (event.status === "pending") continue;
    const op = kv.atomic()
      .delete(webhookEventKey(event.id))
      .delete(webhookEventsByLinkKey(event.linkId, event.id))
      .delete(webhookEventsByAccountKey(event.accountId, event.id))
      .delete(webhookOutboxKey(event.outboxAt ?? 0, event.id));
    for (let i = 0; i < event.bodyChunks; i++) op.delete(webhookBodyChunkKey(event.id, i));
    await op.commit();
    for await (const { key } of kv.list({ prefix: webhookAttemptPrefix(event.id) })) {
      await kv.delete(key);
    }
    purged++;
  }
  return purged;
}

/** An event in an account's list: with its link's id and its attempts. */
export interface AccountWebhookEvent extends WebhookEventView {
  linkId: string;
  url: string;
  livemode: boolean;
}

/** An account's newest webhook events (every link, both modes), newest first, with attempts. */
export async function listAccountWebhooks(
  kv: Deno.Kv,
  accountId: string,
  limit = 20,
): Promise<AccountWebhookEvent[]> {
  const ids: string[] = [];
  for await (
    const entry of kv.list<string>({ prefix: webhookEventsByAccountPrefix(accountId) }, {
      reverse: true,
      limit,
    })
  ) ids.push(entry.value);
  const out: AccountWebhookEvent[] = [];
  for (let i = 0; i < ids.length; i += 10) {
    const events = await kv.getMany<WebhookEventRecord[]>(
      ids.slice(i, i + 10).map((id) => webhookEventKey(id)),
    );
    for (const { value: event } of events) {
      if (!event || event.accountId !== accountId) continue;
      out.push({
        ...toEventView(event, await listAttempts(kv, event.id)),
        linkId: event.linkId,
        url: event.url,
        livemode: await eventLivemode(kv, event),
      });
    }
  }
  return out;
}
