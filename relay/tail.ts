/**
 * Follows one log of a session: delivers what is there after a cursor, then
 * waits for a bus wake-up or the poll interval, whichever comes first, and
 * reads again. The poll is what makes it correct across processes; the bus is
 * what makes it fast inside one.
 */
import type { Bus } from "./bus.ts";
import type { CommandLogEntry, EventLogEntry, SessionLog } from "./log.ts";

export interface TailOptions<E> {
  log: SessionLog;
  bus: Bus;
  sessionId: string;
  after: number;
  pollMs: number;
  signal: AbortSignal;
  onEntry: (seq: number, entry: E) => void | Promise<void>;
  /** Runs after each read that found nothing more (timeout checks and the like). */
  onIdle?: () => void | Promise<void>;
}

export function tailCommands(options: TailOptions<CommandLogEntry>): Promise<void> {
  return tail("cmd", options as TailOptions<CommandLogEntry | EventLogEntry>);
}

/**
 * Follows `evt` (what controllers and SSE see), or with `stream: "eng"` the
 * engine's own results of a link's session.
 */
export function tailEvents(
  options: TailOptions<EventLogEntry> & { stream?: "evt" | "eng" },
): Promise<void> {
  return tail(options.stream ?? "evt", options as TailOptions<CommandLogEntry | EventLogEntry>);
}

async function tail(
  stream: "cmd" | "evt" | "eng",
  o: TailOptions<CommandLogEntry | EventLogEntry>,
): Promise<void> {
  let cursor = o.after;
  let wake: () => void = () => {};
  let woken = false;
  const unsubscribe = o.bus.subscribe(o.sessionId, (w) => {
    if (w.stream === stream && w.seq > cursor) {
      woken = true;
      wake();
    }
  });
  const onAbort = () => wake();
  o.signal.addEventListener("abort", onAbort);
  try {
    while (!o.signal.aborted) {
      woken = false;
      const entries = stream === "cmd"
        ? await o.log.read(o.sessionId, "cmd", cursor)
        : await o.log.read(o.sessionId, stream, cursor);
      for (const { seq, entry } of entries) {
        if (o.signal.aborted) return;
        await o.onEntry(seq, entry);
        cursor = seq;
      }
      if (entries.length > 0 || o.signal.aborted) continue;
      await o.onIdle?.();
      if (woken || o.signal.aborted) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, o.pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = () => {};
    }
  } finally {
    unsubscribe();
    o.signal.removeEventListener("abort", onAbort);
  }
}
