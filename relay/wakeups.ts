/**
 * Every way a session's sockets in this isolate learn that something changed,
 * behind one `Bus`:
 *
 * - the inner bus: this isolate's own appends, with the entry itself (the
 *   direct path), and `BroadcastChannel` wake-ups from the other isolates of
 *   this process (Workers, `deno serve --parallel`);
 * - `kv.watch` on the session's log heads, its device presence and its record:
 *   one watch per session with sockets here, however many. On Deno Deploy and
 *   a KV Connect server it crosses instances; on a local SQLite file it crosses
 *   the KV handles of one process, not processes;
 * - the safety net: one timer for the whole isolate (`pollMs`) that reads the
 *   heads, presences and records of every session followed here in batched
 *   reads, and says `tick` (SSE keep-alives). It is all that carries wake-ups
 *   between processes on one SQLite file (the slow path).
 *
 * An idle session costs one open watch and its share of the safety net's
 * batched read: nothing per socket, nothing that runs per message.
 */
import { devicePresenceKey, logHeadKey, type LogStream, sessionKey } from "../lib/kv_keys.ts";
import { type Bus, type DirectEntry, type SignalHandler, Subscribers, type Wake } from "./bus.ts";

const STREAMS: LogStream[] = ["cmd", "evt", "eng"];
/** Keys one session is followed by: its three heads, its presence, its record. */
const keysOf = (sessionId: string): Deno.KvKey[] => [
  ...STREAMS.map((s) => logHeadKey(sessionId, s)),
  devicePresenceKey(sessionId),
  sessionKey(sessionId),
];
/** KV reads at most 10 keys at once: two sessions per read. */
const SESSIONS_PER_READ = 2;

interface Followed {
  unsubscribe: () => void;
  reader: ReadableStreamDefaultReader<Deno.KvEntryMaybe<unknown>[]> | null;
  /** Versionstamps of the presence and the record last seen (undefined: never read). */
  presence?: string | null;
  record?: string | null;
}

export interface WakeupOptions {
  /** The safety net's interval. */
  pollMs: number;
  /** Whether to follow sessions with `kv.watch` (on by default). */
  watch?: boolean;
}

export class SessionWakeups implements Bus {
  readonly #kv: Deno.Kv;
  readonly #inner: Bus;
  readonly #options: Required<WakeupOptions>;
  readonly #subscribers = new Subscribers();
  readonly #followed = new Map<string, Followed>();
  #timer: ReturnType<typeof setInterval> | null = null;
  #sweeping = false;
  #closed = false;

  constructor(kv: Deno.Kv, inner: Bus, options: WakeupOptions) {
    this.#kv = kv;
    this.#inner = inner;
    this.#options = { watch: true, ...options };
  }

  publish(wake: Wake, entry?: DirectEntry): void {
    this.#inner.publish(wake, entry);
  }

  subscribe(sessionId: string, handler: SignalHandler): () => void {
    const remove = this.#subscribers.add(sessionId, handler);
    if (!this.#followed.has(sessionId) && !this.#closed) this.#follow(sessionId);
    if (!this.#timer && !this.#closed) {
      this.#timer = setInterval(() => void this.#sweep(), Math.max(10, this.#options.pollMs));
    }
    return () => {
      remove();
      if (this.#subscribers.has(sessionId)) return;
      this.#unfollow(sessionId);
      if (this.#followed.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    };
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    for (const sessionId of [...this.#followed.keys()]) this.#unfollow(sessionId);
    this.#subscribers.clear();
    this.#inner.close();
  }

  #follow(sessionId: string): void {
    const followed: Followed = {
      unsubscribe: this.#inner.subscribe(
        sessionId,
        (signal, entry) => this.#subscribers.deliver(signal, entry),
      ),
      reader: null,
    };
    this.#followed.set(sessionId, followed);
    if (!this.#options.watch) return;
    const reader = this.#kv.watch(keysOf(sessionId)).getReader();
    followed.reader = reader;
    (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.#followed.get(sessionId) !== followed) return;
        this.#seen(sessionId, followed, value);
      }
    })().catch(() => {/* cancelled, or the store closed */});
  }

  #unfollow(sessionId: string): void {
    const followed = this.#followed.get(sessionId);
    if (!followed) return;
    this.#followed.delete(sessionId);
    followed.unsubscribe();
    followed.reader?.cancel().catch(() => {});
  }

  /** What one read of a session's keys says: heads as wake-ups, a changed presence or record as `state`. */
  #seen(sessionId: string, followed: Followed, entries: Deno.KvEntryMaybe<unknown>[]): void {
    STREAMS.forEach((stream, i) => {
      const seq = entries[i].value;
      if (typeof seq === "number" && seq > 0) {
        this.#subscribers.deliver({ kind: "wake", sessionId, stream, seq });
      }
    });
    const [presence, record] = [entries[3].versionstamp, entries[4].versionstamp];
    if (presence !== followed.presence || record !== followed.record) {
      followed.presence = presence;
      followed.record = record;
      this.#subscribers.deliver({ kind: "state", sessionId });
    }
  }

  /** The safety net: every followed session's keys, in batched reads, then a tick for each. */
  async #sweep(): Promise<void> {
    if (this.#sweeping || this.#closed) return;
    this.#sweeping = true;
    try {
      const ids = [...this.#followed.keys()];
      for (let i = 0; i < ids.length; i += SESSIONS_PER_READ) {
        const batch = ids.slice(i, i + SESSIONS_PER_READ);
        const entries = await this.#kv.getMany(batch.flatMap(keysOf));
        if (this.#closed) return;
        batch.forEach((sessionId, j) => {
          const followed = this.#followed.get(sessionId);
          if (followed) this.#seen(sessionId, followed, entries.slice(j * 5, j * 5 + 5));
        });
      }
      for (const sessionId of ids) this.#subscribers.deliver({ kind: "tick", sessionId });
    } catch (err) {
      if (!this.#closed) console.error("relay safety net failed:", err);
    } finally {
      this.#sweeping = false;
    }
  }
}
