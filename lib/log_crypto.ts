/**
 * Crypto-shredding for what the relay stores of a session. Every log entry is
 * encrypted (AES-256-GCM, WebCrypto) with one of two per-session keys kept in KV
 * under `sessionLogKeyKey`:
 *
 * - `data`: command params and command results (captured response bodies
 *   included). Shredded the moment the session ends: its key is replaced by a
 *   tombstone, so whatever copies of the ciphertext SQLite keeps in free pages
 *   or its write-ahead log can never be read again, and a late write is refused.
 * - `telemetry`: telemetry, screenshots and session changes. Readable for the
 *   telemetry retention after the session ends, then shredded by
 *   `LogKeys.sweep` (a stored expiry is checked on every read: KV's `expireIn`
 *   is only a lower bound on deletion).
 *
 * A reader whose key is gone gets nothing: the entry counts as absent.
 *
 * Encryption can be switched off only by a test (`disableLogEncryptionForTests`),
 * to prove the raw KV file holds the plaintext without it; the switch throws
 * unless the main module is a test file.
 */
import {
  logKeyExpiryKey,
  logKeyExpiryPrefix,
  type LogKeyPurpose,
  sessionLogKeyKey,
} from "./kv_keys.ts";

/** A session's key as stored: its raw bytes, or a tombstone once shredded. */
export interface StoredLogKey {
  /** 32 random bytes; absent once shredded. */
  raw?: Uint8Array;
  shredded?: true;
  /** When it is to be shredded (ms since epoch), or null while the session lives. */
  expiresAt: number | null;
}

/** A key ready for use, with the entry it came from (to check in a commit). */
export interface UsableLogKey {
  entry: Deno.KvEntryMaybe<StoredLogKey>;
  key: CryptoKey;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const IV_BYTES = 12;
/** Imported keys kept in memory, by session, purpose and versionstamp. */
const CACHE_LIMIT = 5_000;

let encryptionOff = false;

/** Whether log entries are encrypted (always, outside tests). */
export function isLogEncryptionOn(): boolean {
  return !encryptionOff;
}

function assertTest(): void {
  if (!/_test\.[cm]?[jt]sx?$/.test(Deno.mainModule)) {
    throw new Error("Log encryption can only be switched off inside a test");
  }
}

/** Stores new log entries in plaintext, for a test that proves encryption matters. Throws outside tests. */
export function disableLogEncryptionForTests(): void {
  assertTest();
  encryptionOff = true;
}

/** Switches encryption back on. */
export function restoreLogEncryptionForTests(): void {
  assertTest();
  encryptionOff = false;
}

/** Encrypts `plain` under `key`, bound to `aad` (the session and stream). */
export async function seal(
  key: CryptoKey,
  plain: Uint8Array,
  aad: string,
): Promise<{ iv: Uint8Array; data: Uint8Array }> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const data = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(aad) },
      key,
      plain as Uint8Array<ArrayBuffer>,
    ),
  );
  return { iv, data };
}

/** Decrypts what `seal` made, or null when it does not authenticate. */
export async function unseal(
  key: CryptoKey,
  iv: Uint8Array,
  data: Uint8Array,
  aad: string,
): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: iv as Uint8Array<ArrayBuffer>,
          additionalData: new TextEncoder().encode(aad),
        },
        key,
        data as Uint8Array<ArrayBuffer>,
      ),
    );
  } catch {
    return null;
  }
}

/** The per-session keys of the relay's logs. */
export class LogKeys {
  readonly #kv: Deno.Kv;
  readonly #retentionMs: number;
  readonly #cache = new Map<string, { versionstamp: string; key: CryptoKey }>();

  /** `retentionMs` is the telemetry retention: how long telemetry stays readable after the end. */
  constructor(kv: Deno.Kv, retentionMs: number) {
    this.#kv = kv;
    this.#retentionMs = retentionMs;
  }

  /** KV's own deletion of a key nobody shredded (a session that never ended): a backstop. */
  get #backstopMs(): number {
    return this.#retentionMs + DAY_MS;
  }

  /**
   * The key to encrypt a new entry with, created on first use; null once the
   * key was shredded (nothing more may be written under it).
   */
  async forWrite(sessionId: string, purpose: LogKeyPurpose): Promise<UsableLogKey | null> {
    for (;;) {
      const entry = await this.#kv.get<StoredLogKey>(sessionLogKeyKey(sessionId, purpose));
      if (entry.value) {
        const key = await this.#usable(entry);
        return key ? { entry, key } : null;
      }
      const stored: StoredLogKey = {
        raw: crypto.getRandomValues(new Uint8Array(32)),
        expiresAt: null,
      };
      const res = await this.#kv.atomic().check(entry).set(entry.key, stored, {
        expireIn: this.#backstopMs,
      }).commit();
      if (res.ok) continue; // read it back, versionstamp and all
    }
  }

  /** The key to decrypt with, or null when it is gone (shredded, expired or never made). */
  async forRead(sessionId: string, purpose: LogKeyPurpose): Promise<CryptoKey | null> {
    const entry = await this.#kv.get<StoredLogKey>(sessionLogKeyKey(sessionId, purpose));
    return await this.#usable(entry);
  }

  async #usable(entry: Deno.KvEntryMaybe<StoredLogKey>): Promise<CryptoKey | null> {
    const stored = entry.value;
    if (!stored?.raw || stored.shredded) return null;
    if (stored.expiresAt !== null && stored.expiresAt <= Date.now()) return null;
    const id = entry.key.join("/");
    const cached = this.#cache.get(id);
    if (cached?.versionstamp === entry.versionstamp) return cached.key;
    const key = await crypto.subtle.importKey(
      "raw",
      stored.raw as Uint8Array<ArrayBuffer>,
      "AES-GCM",
      false,
      ["encrypt", "decrypt"],
    );
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(id, { versionstamp: entry.versionstamp!, key });
    return key;
  }

  /**
   * The end of a session: its `data` key becomes a tombstone at once (command
   * params and results can never be read again, and no new ones written), and
   * its `telemetry` key is given its expiry, `retentionMs` from now, indexed
   * for the sweep.
   */
  async shredAtEnd(sessionId: string, now = Date.now()): Promise<void> {
    const expiresAt = now + this.#retentionMs;
    for (;;) {
      const [data, telemetry] = await this.#kv.getMany<[StoredLogKey, StoredLogKey]>([
        sessionLogKeyKey(sessionId, "data"),
        sessionLogKeyKey(sessionId, "telemetry"),
      ]);
      const op = this.#kv.atomic().check(data, telemetry);
      if (!data.value?.shredded) {
        op.set(data.key, { shredded: true, expiresAt: null } satisfies StoredLogKey, {
          expireIn: this.#backstopMs,
        });
      }
      if (telemetry.value?.expiresAt == null && !telemetry.value?.shredded) {
        const next: StoredLogKey = {
          raw: telemetry.value?.raw ?? crypto.getRandomValues(new Uint8Array(32)),
          expiresAt,
        };
        op.set(telemetry.key, next, { expireIn: this.#retentionMs })
          .set(logKeyExpiryKey(expiresAt, sessionId), sessionId, { expireIn: this.#backstopMs });
      }
      if ((await op.commit()).ok) return;
    }
  }

  /** Deletes every telemetry key whose stored expiry has passed. Returns how many. */
  async sweep(now = Date.now()): Promise<number> {
    let count = 0;
    for await (
      const { key, value: sessionId } of this.#kv.list<string>({
        prefix: logKeyExpiryPrefix(),
        end: logKeyExpiryKey(now + 1, ""),
      })
    ) {
      const entry = await this.#kv.get<StoredLogKey>(sessionLogKeyKey(sessionId, "telemetry"));
      const op = this.#kv.atomic().check(entry).delete(key);
      // A key given a later expiry since (it cannot be, today) is left alone.
      if (!entry.value || (entry.value.expiresAt ?? Infinity) <= now) op.delete(entry.key);
      if ((await op.commit()).ok) count++;
    }
    return count;
  }
}
