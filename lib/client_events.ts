/**
 * Client events: what happened on the user's side of a link (`opened`,
 * `login_failed_attempt`, `operation_completed`, …), as Plaid Link and Argyle
 * report them. Each event is written in one atomic commit with everything it
 * touches: the link's record (the event appended to its bounded list, and any
 * state change that goes with it), the session's `evt` log (so the SSE stream
 * and controller sockets carry it as a `client` event) and, for a link created
 * with `webhookEvents: ["client"]`, its `link.event` webhook.
 *
 * Events hold only their kind, time and the few fields `ClientEvent` defines:
 * never a typed value or anything read from the page.
 */
import { type ClientEvent, MAX_LINK_EVENTS } from "@passage/connect/schemas";
import { linkKey } from "./kv_keys.ts";
import type { LinkRecord } from "./links.ts";
import type { Services, SessionLogService } from "./services.ts";
import { addClientEventWebhook } from "./webhooks.ts";

/** A client event before it is timed. */
export type ClientEventInput = Omit<ClientEvent, "at">;

/** What recording an event needs: the store, the jobs, the clock and the session's log. */
export type ClientEventDeps = Pick<Services, "kv" | "jobs" | "clock"> & SessionLogService;

/**
 * A state change that lands with the event: fields of the link to set and
 * extra writes (and checks) for the same commit. Return null to record
 * nothing (the link moved on).
 */
export type LinkChange = (link: LinkRecord) => {
  patch?: Partial<LinkRecord>;
  extra?: (op: Deno.AtomicOperation, next: LinkRecord) => void;
} | null;

/** `events` with `event` added, the oldest dropped beyond `MAX_LINK_EVENTS`. */
export function appendEvent(
  events: readonly ClientEvent[] | undefined,
  event: ClientEvent,
): ClientEvent[] {
  return [...(events ?? []), event].slice(-MAX_LINK_EVENTS);
}

/**
 * Records one client event of a link, with `change` (if any), in one commit
 * checked against the link as read: the link's record, the session's `evt`
 * log entry and the opted-in webhook. Once the session's log can take no more
 * (its telemetry key is gone), the link and the webhook are still written.
 * Returns the link as stored, or null if there is no such link or `change`
 * gave up.
 */
export async function recordClientEvent(
  deps: ClientEventDeps,
  linkId: string,
  input: ClientEventInput,
  change?: LinkChange,
): Promise<LinkRecord | null> {
  const { kv, sessionLog: log } = deps;
  const first = (await kv.get<LinkRecord>(linkKey(linkId))).value;
  if (!first) return null;
  const event: ClientEvent = {
    ...input,
    at: new Date(deps.clock.now()).toISOString(),
  } as ClientEvent;
  let stored: LinkRecord | null = null;
  let gaveUp = false;

  const build = async () => {
    const entry = await kv.get<LinkRecord>(linkKey(linkId));
    const changed = entry.value && (change ? change(entry.value) : {});
    if (!entry.value || !changed) {
      gaveUp = true;
      return null;
    }
    const next: LinkRecord = {
      ...entry.value,
      ...changed.patch,
      events: appendEvent(entry.value.events, event),
      // an event alone is not a change of the link's state
      updatedAt: changed.patch ? event.at : entry.value.updatedAt,
    };
    return (op: Deno.AtomicOperation) => {
      op.check(entry).set(entry.key, next);
      changed.extra?.(op, next);
      addClientEventWebhook(deps, op, next, event);
      stored = next;
    };
  };

  const seq = await log.append(first.sessionId, "evt", { type: "client", event }, build);
  if (seq !== null) return stored;
  if (gaveUp) return null;
  // The session's log is shredded (it ended): the link still keeps the event.
  for (;;) {
    const writes = await build();
    if (!writes) return null;
    const op = kv.atomic();
    writes(op);
    if ((await op.commit()).ok) return stored;
  }
}
