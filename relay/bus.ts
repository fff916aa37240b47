/**
 * The wake-up bus: tells every socket of a session, in any isolate of this
 * process, that one of its logs has grown. It carries no data (KV holds that),
 * so a lost message only costs latency: every tail also polls KV.
 *
 * `Bus` is the swappable part: `BroadcastChannelBus` crosses isolates in one
 * process; across processes or Deploy instances the poll alone keeps things
 * correct, and another bus can be plugged in for speed.
 */
import type { LogStream } from "../lib/kv_keys.ts";

/** "Session `sessionId`'s `stream` log reached `seq`." */
export interface Wake {
  kind: "wake";
  sessionId: string;
  stream: LogStream;
  seq: number;
}

/** Publishes and subscribes to wake-ups. */
export interface Bus {
  publish(wake: Wake): void;
  /** Calls `handler` for every wake-up of `sessionId`; returns an unsubscribe function. */
  subscribe(sessionId: string, handler: (wake: Wake) => void): () => void;
  close(): void;
}

/** A bus over one `BroadcastChannel`, plus direct delivery inside this isolate. */
export class BroadcastChannelBus implements Bus {
  readonly #channel: BroadcastChannel;
  readonly #handlers = new Map<string, Set<(wake: Wake) => void>>();

  constructor(name = "passage-relay") {
    this.#channel = new BroadcastChannel(name);
    this.#channel.onmessage = (e: MessageEvent) => {
      const wake = e.data as Wake;
      if (wake?.kind === "wake") this.#deliver(wake);
    };
  }

  publish(wake: Wake): void {
    this.#deliver(wake);
    this.#channel.postMessage(wake);
  }

  subscribe(sessionId: string, handler: (wake: Wake) => void): () => void {
    let set = this.#handlers.get(sessionId);
    if (!set) this.#handlers.set(sessionId, set = new Set());
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0) this.#handlers.delete(sessionId);
    };
  }

  close(): void {
    this.#handlers.clear();
    this.#channel.close();
  }

  #deliver(wake: Wake): void {
    for (const handler of this.#handlers.get(wake.sessionId) ?? []) handler(wake);
  }
}
