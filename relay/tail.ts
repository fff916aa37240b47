/**
 * Follows one log of a session: delivers what is there after a cursor, then
 * whatever its bus says arrived. An entry appended in this isolate comes with
 * its wake-up and is delivered as is when it is the next one (the direct
 * path); anything else (a wake-up from another isolate or instance, an entry
 * out of turn, the safety net seeing the head move) reads the log after the
 * cursor. Either way every entry is delivered once, in seq order, and the
 * cursor is the log's own numbering, so a reconnect resumes exactly.
 *
 * Nothing here polls: the tail sleeps until its bus signals.
 */
import type { Bus, DirectEntry } from "./bus.ts";
import type { CommandLogEntry, EventLogEntry, SessionLog } from "./log.ts";

/** Entries one read of the log returns at most (`SessionLog.read`'s default). */
const PAGE = 100;

export interface TailOptions<E> {
  log: SessionLog;
  bus: Bus;
  sessionId: string;
  after: number;
  signal: AbortSignal;
  onEntry: (seq: number, entry: E) => void | Promise<void>;
  /** Runs on each tick of the relay's safety net (keep-alives and the like). */
  onIdle?: () => void | Promise<void>;
  /** Runs when the session's record or its device presence may have changed. */
  onState?: () => void | Promise<void>;
}

export function tailCommands(options: TailOptions<CommandLogEntry>): Promise<void> {
  return tail("cmd", options as TailOptions<DirectEntry>);
}

/**
 * Follows `evt` (what controllers and SSE see), or with `stream: "eng"` the
 * engine's own results of a link's session.
 */
export function tailEvents(
  options: TailOptions<EventLogEntry> & { stream?: "evt" | "eng" },
): Promise<void> {
  return tail(options.stream ?? "evt", options as TailOptions<DirectEntry>);
}

async function tail(stream: "cmd" | "evt" | "eng", o: TailOptions<DirectEntry>): Promise<void> {
  let cursor = o.after;
  /** Entries handed over directly, not yet delivered. */
  let direct: Array<{ seq: number; entry: DirectEntry }> = [];
  let readWanted = true;
  let stateWanted = false;
  let idleWanted = false;
  let wake: () => void = () => {};
  const poke = () => {
    const w = wake;
    wake = () => {};
    w();
  };
  const unsubscribe = o.bus.subscribe(o.sessionId, (signal, entry) => {
    if (signal.kind === "wake") {
      if (signal.stream !== stream || signal.seq <= cursor) return;
      if (entry) direct.push({ seq: signal.seq, entry });
      else readWanted = true;
    } else if (signal.kind === "state") stateWanted = true;
    else idleWanted = true;
    poke();
  });
  o.signal.addEventListener("abort", poke);
  try {
    while (!o.signal.aborted) {
      if (readWanted) {
        readWanted = false;
        const entries = await o.log.read(o.sessionId, stream as "evt", cursor, PAGE);
        for (const { seq, entry } of entries) {
          if (o.signal.aborted) return;
          if (seq <= cursor) continue;
          await o.onEntry(seq, entry);
          cursor = seq;
        }
        if (entries.length === PAGE) readWanted = true;
        continue;
      }
      if (direct.length) {
        direct = direct.filter((d) => d.seq > cursor);
        const i = direct.findIndex((d) => d.seq === cursor + 1);
        if (i >= 0) {
          const [next] = direct.splice(i, 1);
          await o.onEntry(next.seq, next.entry);
          cursor = next.seq;
        } else if (direct.length) {
          // One in between is not here (another isolate's, or announced late): the log has it.
          readWanted = true;
        }
        continue;
      }
      if (stateWanted) {
        stateWanted = false;
        await o.onState?.();
        continue;
      }
      if (idleWanted) {
        idleWanted = false;
        await o.onIdle?.();
        continue;
      }
      await new Promise<void>((resolve) => wake = resolve);
    }
  } finally {
    unsubscribe();
    o.signal.removeEventListener("abort", poke);
  }
}
