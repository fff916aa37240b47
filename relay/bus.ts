/**
 * The wake-up bus: tells every socket of a session, in any isolate of this
 * process, that one of its logs has grown. Across isolates it carries no data
 * (KV holds that), so a lost message only costs latency. Inside the isolate
 * that appended, a wake-up also carries the entry itself, just committed: a
 * tail one behind delivers it without reading KV (the direct path).
 *
 * `Bus` is the swappable part: `BroadcastChannelBus` crosses isolates in one
 * process (Workers, `deno serve --parallel`); `SessionWakeups` (`wakeups.ts`)
 * adds `kv.watch`, which crosses Deno Deploy instances, and the slow safety net.
 */
import type { LogStream } from "../lib/kv_keys.ts";
import type { CommandLogEntry, EventLogEntry } from "./entries.ts";

/** "Session `sessionId`'s `stream` log reached `seq`." */
export interface Wake {
  kind: "wake";
  sessionId: string;
  stream: LogStream;
  seq: number;
}

/**
 * What a subscriber hears: a log grew; the session's record or device
 * presence may have changed (`state`); or the safety net's periodic `tick`.
 */
export type Signal = Wake | { kind: "state"; sessionId: string } | {
  kind: "tick";
  sessionId: string;
};

/** A committed entry, passed along with its wake-up inside the isolate that appended it. */
export type DirectEntry = CommandLogEntry | EventLogEntry;

/** Calls for one session's signals. */
export type SignalHandler = (signal: Signal, entry?: DirectEntry) => void;

/** Publishes and subscribes to wake-ups. */
export interface Bus {
  /** Announces a committed entry; `entry` reaches this isolate's subscribers only. */
  publish(wake: Wake, entry?: DirectEntry): void;
  /** Calls `handler` for every signal of `sessionId`; returns an unsubscribe function. */
  subscribe(sessionId: string, handler: SignalHandler): () => void;
  close(): void;
}

/** Handlers by session, in this isolate. */
export class Subscribers {
  readonly #handlers = new Map<string, Set<SignalHandler>>();

  add(sessionId: string, handler: SignalHandler): () => void {
    let set = this.#handlers.get(sessionId);
    if (!set) this.#handlers.set(sessionId, set = new Set());
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.#handlers.get(sessionId) === set) {
        this.#handlers.delete(sessionId);
      }
    };
  }

  has(sessionId: string): boolean {
    return this.#handlers.has(sessionId);
  }

  sessions(): IterableIterator<string> {
    return this.#handlers.keys();
  }

  deliver(signal: Signal, entry?: DirectEntry): void {
    for (const handler of this.#handlers.get(signal.sessionId) ?? []) handler(signal, entry);
  }

  clear(): void {
    this.#handlers.clear();
  }
}

/** A bus over one `BroadcastChannel`, plus direct delivery inside this isolate. */
export class BroadcastChannelBus implements Bus {
  readonly #channel: BroadcastChannel | null;
  readonly #subscribers = new Subscribers();

  /** With `name: null`, nothing crosses isolates: only this isolate hears its wake-ups. */
  constructor(name: string | null = "passage-relay") {
    this.#channel = name === null ? null : new BroadcastChannel(name);
    if (this.#channel) {
      this.#channel.onmessage = (e: MessageEvent) => {
        const wake = e.data as Wake;
        if (wake?.kind === "wake") this.#subscribers.deliver(wake);
      };
    }
  }

  publish(wake: Wake, entry?: DirectEntry): void {
    this.#subscribers.deliver(wake, entry);
    this.#channel?.postMessage(wake);
  }

  subscribe(sessionId: string, handler: SignalHandler): () => void {
    return this.#subscribers.add(sessionId, handler);
  }

  close(): void {
    this.#subscribers.clear();
    this.#channel?.close();
  }
}
