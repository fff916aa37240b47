/**
 * A session's ordered logs in KV, the relay's source of truth. Each append takes
 * the next seq with one atomic commit checked against the head, so entries are
 * numbered without gaps and a reader listing "after n" never skips one.
 *
 * Every entry is encrypted with a per-session key before it is stored
 * (`lib/log_crypto.ts`): command params and results under the session's `data`
 * key, shredded when the session ends; everything else under its `telemetry`
 * key, shredded when the telemetry retention ends. Ciphertext larger than one
 * KV value is chunked (`lib/kv_blobs.ts`), so no message (a screenshot, a big
 * innerHTML) can exceed KV's 64 KiB limit. An entry whose key is gone reads as
 * absent.
 *
 * A link's session keeps its command results out of `evt` altogether: they go
 * to `eng`, which only the engine reads (`local_transport.ts`), so no developer
 * stream (controller socket, SSE, live or replayed) can ever carry one.
 *
 * The hot path is one commit per entry: the head and the write key this
 * isolate last saw are remembered and checked in the commit instead of read
 * before it (a commit that finds them moved reads them again). Once committed,
 * the entry is handed to this isolate's tails with its wake-up (the direct
 * path), so a socket here never reads back what was just written. Appends of
 * different sessions waiting on KV at the same time share one commit
 * (`commits.ts`).
 */
import {
  type BlobRef,
  deleteJson,
  isBlobRef,
  loadBytes,
  loadJson,
  storeBytes,
  storeJson,
} from "../lib/kv_blobs.ts";
import {
  logEntryKey,
  logHeadKey,
  type LogKeyPurpose,
  logPrefix,
  type LogStream,
  sessionKey,
} from "../lib/kv_keys.ts";
import { isLogEncryptionOn, LogKeys, seal, unseal } from "../lib/log_crypto.ts";
import type { Bus } from "./bus.ts";
import type { CommandLogEntry, EventLogEntry } from "./entries.ts";
import { GroupCommit } from "./commits.ts";

export type { CommandLogEntry, EventLogEntry } from "./entries.ts";

/** An entry encrypted inline. */
interface SealedInline {
  type: "sealed";
  key: LogKeyPurpose;
  iv: Uint8Array;
  data: Uint8Array;
}
/** An entry whose ciphertext was chunked. */
type SealedChunked = BlobRef & { sealed: { key: LogKeyPurpose; iv: Uint8Array } };

/** What a log entry key holds: sealed, or (written with encryption off, or before it) plain. */
type Stored<T> = SealedInline | SealedChunked | T | BlobRef;

/** Extra checks and writes that must land in the same commit as an append. */
export type AppendExtra = (op: Deno.AtomicOperation, seq: number) => void;

/** The key an entry is encrypted with: command params and results are `data`. */
function purposeOf(entry: CommandLogEntry | EventLogEntry): LogKeyPurpose {
  return entry.type === "command" || entry.type === "result" ? "data" : "telemetry";
}

const aadOf = (sessionId: string, stream: LogStream) => `${sessionId}/${stream}`;

/** Link ids of sessions, remembered (a session's link never changes). */
const LINK_CACHE_LIMIT = 10_000;
/** Heads and write keys remembered, at most (each is one session's stream or key). */
const HOT_CACHE_LIMIT = 50_000;

/** A committed append: its seq and the commit's versionstamp. */
export interface Appended {
  seq: number;
  versionstamp: string;
}

/** A map that forgets everything when full (what it holds is only ever a hint). */
class Hints<V> extends Map<string, V> {
  override set(key: string, value: V): this {
    if (this.size >= HOT_CACHE_LIMIT && !this.has(key)) this.clear();
    return super.set(key, value);
  }
}

export class SessionLog {
  readonly #kv: Deno.Kv;
  readonly #bus: Bus;
  readonly #retentionMs: number;
  readonly #resultRetentionMs: number;
  readonly #linkSessions = new Map<string, boolean>();
  /** The last head seen of each session's stream, by `sessionId/stream`. */
  readonly #heads = new Hints<Deno.KvEntry<number>>();
  /** The write key last used for each session and purpose, by `sessionId/purpose`. */
  readonly #writeKeys = new Hints<{ entry: Deno.KvEntryMaybe<unknown>; key: CryptoKey }>();
  /** The per-session keys every entry is encrypted with. */
  readonly keys: LogKeys;
  /** Appends of different sessions waiting at once share a commit (`commits.ts`). */
  readonly commits: GroupCommit;

  /**
   * Entries are kept `retentionMs`; command results (which may carry captured
   * response bodies) only `resultRetentionMs`, and are shredded and deleted
   * when the session ends (see `purgeAfterEnd`).
   */
  constructor(kv: Deno.Kv, bus: Bus, retentionMs: number, resultRetentionMs = retentionMs) {
    this.#kv = kv;
    this.commits = new GroupCommit(kv);
    this.#bus = bus;
    this.#retentionMs = retentionMs;
    this.#resultRetentionMs = Math.min(resultRetentionMs, retentionMs);
    this.keys = new LogKeys(kv, retentionMs);
  }

  /** Whether a session belongs to a link (its results then go to `eng`). */
  async isLinkSession(sessionId: string): Promise<boolean> {
    const known = this.#linkSessions.get(sessionId);
    if (known !== undefined) return known;
    const record = (await this.#kv.get<{ linkId: string | null }>(sessionKey(sessionId))).value;
    if (!record) return false;
    if (this.#linkSessions.size >= LINK_CACHE_LIMIT) this.#linkSessions.clear();
    this.#linkSessions.set(sessionId, Boolean(record.linkId));
    return Boolean(record.linkId);
  }

  /**
   * Appends `entry` to a stream. `prepare` runs before each attempt and returns
   * the extra checks and writes for the commit, or null to give up (the state it
   * guards moved on, such as a duplicate). Returns the new seq, or null (also
   * when the entry's key was already shredded: the session has ended).
   *
   * A result appended to `evt` of a link's session lands in `eng` instead.
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
    return (await this.appendEntry(sessionId, stream as "evt", entry as EventLogEntry, prepare))
      ?.seq ?? null;
  }

  /** `append`, answering the commit's versionstamp too (what it set can be checked later unread). */
  async appendEntry(
    sessionId: string,
    stream: "cmd",
    entry: CommandLogEntry,
    prepare?: () => Promise<AppendExtra | null>,
  ): Promise<Appended | null>;
  async appendEntry(
    sessionId: string,
    stream: "evt",
    entry: EventLogEntry,
    prepare?: () => Promise<AppendExtra | null>,
  ): Promise<Appended | null>;
  async appendEntry(
    sessionId: string,
    stream: LogStream,
    entry: CommandLogEntry | EventLogEntry,
    prepare?: () => Promise<AppendExtra | null>,
  ): Promise<Appended | null> {
    if (stream === "evt" && entry.type === "result" && await this.isLinkSession(sessionId)) {
      stream = "eng";
    }
    const expireIn = entry.type === "result" ? this.#resultRetentionMs : this.#retentionMs;
    const headId = `${sessionId}/${stream}`;
    for (;;) {
      let stored: Stored<CommandLogEntry | EventLogEntry>;
      let keyEntry: Deno.KvEntryMaybe<unknown> | null = null;
      let keyId: string | null = null;
      if (isLogEncryptionOn()) {
        const purpose = purposeOf(entry);
        keyId = `${sessionId}/${purpose}`;
        let usable = this.#writeKeys.get(keyId);
        if (!usable) {
          const fresh = await this.keys.forWrite(sessionId, purpose);
          if (!fresh) return null;
          this.#writeKeys.set(keyId, usable = fresh);
        }
        keyEntry = usable.entry;
        const plain = new TextEncoder().encode(JSON.stringify(entry));
        const { iv, data } = await seal(usable.key, plain, aadOf(sessionId, stream));
        const bytes = await storeBytes(this.#kv, data, expireIn);
        stored = isBlobRef(bytes)
          ? { ...bytes, sealed: { key: purpose, iv } }
          : { type: "sealed", key: purpose, iv, data: bytes };
      } else {
        stored = await storeJson(this.#kv, entry, expireIn);
      }
      for (;;) {
        const head: Deno.KvEntryMaybe<number> = this.#heads.get(headId) ??
          await this.#kv.get<number>(logHeadKey(sessionId, stream));
        const extra = prepare ? await prepare() : undefined;
        if (extra === null) return null;
        const seq = (head.value ?? 0) + 1;
        const res = await this.commits.commit(sessionId, (op) => {
          op.check(head)
            .set(head.key, seq, { expireIn: this.#retentionMs })
            .set(logEntryKey(sessionId, stream, seq), stored, { expireIn });
          // The key must still be there at commit time: nothing is written after a shred.
          if (keyEntry) op.check(keyEntry);
          extra?.(op, seq);
        });
        if (res.ok) {
          this.#heads.set(headId, { key: head.key, value: seq, versionstamp: res.versionstamp });
          this.#bus.publish({ kind: "wake", sessionId, stream, seq }, entry);
          return { seq, versionstamp: res.versionstamp };
        }
        // Something moved: the head (another writer), the key, or what `prepare` guards.
        this.#heads.delete(headId);
        if (keyEntry) {
          const now = await this.#kv.get(keyEntry.key);
          if (now.versionstamp !== keyEntry.versionstamp) {
            this.#writeKeys.delete(keyId!);
            break; // seal again under the key as it is now (or give up if it was shredded)
          }
        }
      }
      // Its chunks (a large entry) were written for the ciphertext given up.
      if (isBlobRef(stored)) await deleteJson(this.#kv, stored);
    }
  }

  /** Forgets what this isolate remembers of a session (it has ended). */
  forget(sessionId: string): void {
    for (const stream of ["cmd", "evt", "eng"]) this.#heads.delete(`${sessionId}/${stream}`);
    for (const purpose of ["data", "telemetry"]) this.#writeKeys.delete(`${sessionId}/${purpose}`);
  }

  /** Entries after `after`, in order, at most `limit`; an entry that can no longer be read is skipped. */
  read(
    sessionId: string,
    stream: "cmd",
    after: number,
    limit?: number,
  ): Promise<Array<{ seq: number; entry: CommandLogEntry }>>;
  read(
    sessionId: string,
    stream: "evt" | "eng",
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
    const keys = new Map<LogKeyPurpose, Promise<CryptoKey | null>>();
    const keyFor = (purpose: LogKeyPurpose) => {
      let key = keys.get(purpose);
      if (!key) keys.set(purpose, key = this.keys.forRead(sessionId, purpose));
      return key;
    };
    for await (const { key, value } of iter) {
      const seq = key[key.length - 1] as number;
      const entry = await this.#open(sessionId, stream, value, keyFor);
      if (entry) out.push({ seq, entry });
    }
    return out;
  }

  async #open(
    sessionId: string,
    stream: LogStream,
    value: Stored<CommandLogEntry | EventLogEntry>,
    keyFor: (purpose: LogKeyPurpose) => Promise<CryptoKey | null>,
  ): Promise<CommandLogEntry | EventLogEntry | null> {
    const sealed = sealedHeader(value);
    if (!sealed) {
      return await loadJson(this.#kv, value as CommandLogEntry | BlobRef).catch(() => null);
    }
    const key = await keyFor(sealed.key);
    if (!key) return null;
    const data = await loadBytes(
      this.#kv,
      (value as SealedInline).type === "sealed" ? (value as SealedInline).data : value as BlobRef,
    );
    if (!data) return null;
    const plain = await unseal(key, sealed.iv, data, aadOf(sessionId, stream));
    return plain ? JSON.parse(new TextDecoder().decode(plain)) : null;
  }

  /**
   * What an ended session no longer needs. First its `data` key is shredded
   * (every command's params and every result, captured bodies included, can
   * never be read again, wherever copies of the ciphertext linger) and its
   * telemetry key is given its expiry; then the commands and results are
   * deleted. Telemetry stays readable until its retention ends, so a developer
   * can look back.
   */
  async purgeAfterEnd(sessionId: string): Promise<void> {
    await this.keys.shredAtEnd(sessionId);
    for (const stream of ["cmd", "evt", "eng"] as const) {
      for await (
        const { key, value } of this.#kv.list<Stored<{ type: string }>>({
          prefix: logPrefix(sessionId, stream),
        })
      ) {
        if (stream === "evt" && !(await this.#isResult(value))) continue;
        // The `end` itself stays (sealed under the telemetry key), so a device
        // tailing `cmd` on another instance still reads it after the purge.
        if (stream === "cmd" && await this.#isEnd(value)) continue;
        await deleteJson(this.#kv, value);
        await this.#kv.delete(key);
      }
    }
  }

  async #isResult(value: Stored<{ type: string }>): Promise<boolean> {
    const sealed = sealedHeader(value);
    if (sealed) return sealed.key === "data";
    const full = await loadJson<{ type: string }>(this.#kv, value as BlobRef).catch(() => null);
    return full?.type === "result";
  }

  /** Whether a `cmd` entry is the session's `end` (the only one under the telemetry key). */
  async #isEnd(value: Stored<{ type: string }>): Promise<boolean> {
    const sealed = sealedHeader(value);
    if (sealed) return sealed.key === "telemetry";
    const full = await loadJson<{ type: string }>(this.#kv, value as BlobRef).catch(() => null);
    return full?.type === "end";
  }

  /** Shreds the telemetry keys whose retention has ended (run by the minute sweep). */
  sweepExpiredKeys(now = Date.now()): Promise<number> {
    return this.keys.sweep(now);
  }

  /** The highest seq of a stream (0 when empty). */
  async head(sessionId: string, stream: LogStream): Promise<number> {
    return (await this.#kv.get<number>(logHeadKey(sessionId, stream))).value ?? 0;
  }
}

/** The key purpose and IV of a sealed entry, or null for a plain one. */
function sealedHeader(value: unknown): { key: LogKeyPurpose; iv: Uint8Array } | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as {
    type?: unknown;
    key?: LogKeyPurpose;
    iv?: unknown;
    data?: unknown;
    sealed?: { key: LogKeyPurpose; iv: unknown };
  };
  if (v.type === "sealed" && v.iv instanceof Uint8Array && v.data instanceof Uint8Array) {
    return { key: v.key!, iv: v.iv };
  }
  if (v.type === "chunked" && v.sealed?.iv instanceof Uint8Array) {
    return { key: v.sealed.key, iv: v.sealed.iv };
  }
  return null;
}
