/**
 * A session's ordered logs in KV, the relay's source of truth. Each append takes
 * the next seq with one atomic commit checked against the head, so entries are
 * numbered without gaps and a reader listing "after n" never skips one. Entries
 * larger than one KV value are chunked (`lib/kv_blobs.ts`) before the entry, so
 * no message (a screenshot, a big innerHTML) can exceed KV's 64 KiB limit.
 */
import type { CommandError, CommandName, TelemetryEvent } from "@passage/connect/protocol";
import type { SessionStatus } from "@passage/connect/protocol";
import { type BlobRef, deleteJson, loadJson, storeJson } from "../lib/kv_blobs.ts";
import { logEntryKey, logHeadKey, logPrefix, type LogStream } from "../lib/kv_keys.ts";
import type { Bus } from "./bus.ts";

/** What the `cmd` stream holds. */
export type CommandLogEntry =
  | {
    type: "command";
    id: string;
    name: CommandName;
    params: unknown;
    /** Absolute deadline, ms since epoch. */
    deadline: number;
  }
  | { type: "end"; reason: string };

/** What the `evt` stream holds. */
export type EventLogEntry =
  | { type: "result"; id: string; ok: true; value: unknown }
  | { type: "result"; id: string; ok: false; error: CommandError }
  | { type: "telemetry"; event: TelemetryEvent }
  | {
    type: "session";
    status: SessionStatus;
    device: "connected" | "disconnected" | "none";
    reason?: string;
  };

type Stored<T> = T | BlobRef;

/** Extra checks and writes that must land in the same commit as an append. */
export type AppendExtra = (op: Deno.AtomicOperation, seq: number) => void;

export class SessionLog {
  readonly #kv: Deno.Kv;
  readonly #bus: Bus;
  readonly #retentionMs: number;
  readonly #resultRetentionMs: number;

  /**
   * Entries are kept `retentionMs`; command results (which may carry captured
   * response bodies) only `resultRetentionMs`, and are deleted when the
   * session ends (see `purgeAfterEnd`).
   */
  constructor(kv: Deno.Kv, bus: Bus, retentionMs: number, resultRetentionMs = retentionMs) {
    this.#kv = kv;
    this.#bus = bus;
    this.#retentionMs = retentionMs;
    this.#resultRetentionMs = Math.min(resultRetentionMs, retentionMs);
  }

  /**
   * Appends `entry` to a stream. `prepare` runs before each attempt and returns
   * the extra checks and writes for the commit, or null to give up (the state it
   * guards moved on, such as a duplicate). Returns the new seq, or null.
   */
  async append(
    sessionId: string,
    stream: "cmd",
    entry: CommandLogEntry,
    prepare?: () => Promise<AppendExtra | null>,
  ): Promise<number | null>;
  async append(
    sessionId: string,
    stream: "evt",
    entry: EventLogEntry,
    prepare?: () => Promise<AppendExtra | null>,
  ): Promise<number | null>;
  async append(
    sessionId: string,
    stream: LogStream,
    entry: CommandLogEntry | EventLogEntry,
    prepare?: () => Promise<AppendExtra | null>,
  ): Promise<number | null> {
    const expireIn = entry.type === "result" ? this.#resultRetentionMs : this.#retentionMs;
    const stored = await storeJson(this.#kv, entry, expireIn);
    for (;;) {
      const head = await this.#kv.get<number>(logHeadKey(sessionId, stream));
      const extra = prepare ? await prepare() : undefined;
      if (extra === null) return null;
      const seq = (head.value ?? 0) + 1;
      const op = this.#kv.atomic()
        .check(head)
        .set(head.key, seq, { expireIn: this.#retentionMs })
        .set(logEntryKey(sessionId, stream, seq), stored, { expireIn });
      extra?.(op, seq);
      if ((await op.commit()).ok) {
        this.#bus.publish({ kind: "wake", sessionId, stream, seq });
        return seq;
      }
    }
  }

  /** Entries after `after`, in order, at most `limit`. */
  read(
    sessionId: string,
    stream: "cmd",
    after: number,
    limit?: number,
  ): Promise<Array<{ seq: number; entry: CommandLogEntry }>>;
  read(
    sessionId: string,
    stream: "evt",
    after: number,
    limit?: number,
  ): Promise<Array<{ seq: number; entry: EventLogEntry }>>;
  async read(
    sessionId: string,
    stream: LogStream,
    after: number,
    limit = 100,
  ): Promise<Array<{ seq: number; entry: CommandLogEntry | EventLogEntry }>> {
    const out: Array<{ seq: number; entry: CommandLogEntry | EventLogEntry }> = [];
    const iter = this.#kv.list<Stored<CommandLogEntry | EventLogEntry>>({
      prefix: logPrefix(sessionId, stream),
      start: logEntryKey(sessionId, stream, after + 1),
    }, { limit });
    for await (const { key, value } of iter) {
      const seq = key[key.length - 1] as number;
      out.push({
        seq,
        entry: await loadJson(this.#kv, value),
      });
    }
    return out;
  }

  /**
   * What an ended session no longer needs: every command (their parameters)
   * and every command result (they may carry captured response bodies).
   * Telemetry stays until its retention ends, so a developer can look back.
   */
  async purgeAfterEnd(sessionId: string): Promise<void> {
    for (const stream of ["cmd", "evt"] as const) {
      for await (
        const { key, value } of this.#kv.list<{ type: string }>({
          prefix: logPrefix(sessionId, stream),
        })
      ) {
        if (stream === "evt" && value.type !== "result" && !(value.type === "chunked")) continue;
        if (stream === "evt" && value.type === "chunked") {
          const full = await loadJson<{ type: string }>(this.#kv, value as BlobRef);
          if (full.type !== "result") continue;
        }
        await deleteJson(this.#kv, value);
        await this.#kv.delete(key);
      }
    }
  }

  /** The highest seq of a stream (0 when empty). */
  async head(sessionId: string, stream: LogStream): Promise<number> {
    return (await this.#kv.get<number>(logHeadKey(sessionId, stream))).value ?? 0;
  }
}
