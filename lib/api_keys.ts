/**
 * Secret API keys: `sk_test_…` / `sk_live_…`, 32 random base62 characters and a
 * 6-character CRC32 checksum, so a mistyped key is refused without a lookup.
 * Only the SHA-256 of a secret is stored; the secret is shown once, on creation.
 */
import {
  apiKeyByHashKey,
  apiKeyKey,
  apiKeyLastUsedKey,
  apiKeyPrefix,
  apiKeysByAccountKey,
  apiKeysByAccountPrefix,
  type KeyMode,
} from "./kv_keys.ts";
import { newAccountRecord, writeNewAccount } from "./accounts.ts";
import { announceRevoked } from "./credentials.ts";
import { PassageError } from "./errors.ts";
import { newId, sha256Hex, timingSafeEqual } from "./ids.ts";

export type { KeyMode };

export interface ApiKeyRecord {
  id: string;
  /**
   * The account that owns the key and everything made with it. Absent only on
   * keys stored before accounts, until `migrateToAccounts` runs at startup.
   */
  accountId: string;
  name: string;
  mode: KeyMode;
  /** The first characters of the secret, safe to show (`sk_test_AbC4…`). */
  hint: string;
  secretHash: string;
  createdAt: string;
  /**
   * Who made it: a console member's email, or `cli` (`deno task keys`, the dev
   * server's seed key, anything made outside the console). Absent on keys
   * made before creators were recorded. Removing a member revokes the keys
   * whose `createdBy` is their email.
   */
  createdBy?: string;
  revokedAt: string | null;
}

/** `createdBy` of keys made outside the console. */
export const CLI_CREATOR = "cli";

/** An API key as listed: everything but the hash. */
export type ApiKeyInfo = Omit<ApiKeyRecord, "secretHash">;

/** Who owns a record: an account, in one mode. An `ApiKeyInfo` is one. */
export interface Owner {
  accountId: string;
  mode: KeyMode;
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KEY_PATTERN = /^sk_(test|live)_([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of new TextEncoder().encode(text)) {
    crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function checksum(body: string): string {
  let n = crc32(body);
  let out = "";
  for (let i = 0; i < 6; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

function randomBase62(length: number): string {
  // 62 * 4 = 248: rejecting bytes >= 248 keeps every character equally likely.
  let out = "";
  while (out.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (b < 248 && out.length < length) out += BASE62[b % 62];
    }
  }
  return out;
}

/** Whether `secret` has the shape and checksum of a Passage key. */
export function isWellFormedKey(secret: string): boolean {
  const m = KEY_PATTERN.exec(secret);
  return m !== null && checksum(`sk_${m[1]}_${m[2]}`) === m[3];
}

function info({ secretHash: _, ...rest }: ApiKeyRecord): ApiKeyInfo {
  return rest;
}

/**
 * Creates a key for `options.accountId` (without one, for a new account of its
 * own, named after the key), made by `options.createdBy` (a member's email;
 * by default `cli`); the returned `secret` is never stored and cannot be
 * shown again.
 */
export async function createApiKey(
  kv: Deno.Kv,
  options: { name: string; mode?: KeyMode; accountId?: string; createdBy?: string },
): Promise<{ secret: string; key: ApiKeyInfo }> {
  const mode = options.mode ?? "test";
  const body = `sk_${mode}_${randomBase62(32)}`;
  const secret = body + checksum(body);
  const account = options.accountId ? null : newAccountRecord({ name: options.name });
  const record: ApiKeyRecord = {
    id: newId("key"),
    accountId: options.accountId ?? account!.id,
    name: options.name,
    mode,
    hint: secret.slice(0, 12) + "…",
    secretHash: await sha256Hex(secret),
    createdAt: new Date().toISOString(),
    createdBy: options.createdBy ?? CLI_CREATOR,
    revokedAt: null,
  };
  const op = kv.atomic()
    .check({ key: apiKeyKey(record.id), versionstamp: null })
    .check({ key: apiKeyByHashKey(record.secretHash), versionstamp: null })
    .set(apiKeyKey(record.id), record)
    .set(apiKeyByHashKey(record.secretHash), record.id)
    .set(apiKeysByAccountKey(record.accountId, record.id), record.id);
  if (account) writeNewAccount(op, account);
  const res = await op.commit();
  if (!res.ok) throw new Error("API key collision; try again");
  return { secret, key: info(record) };
}

/** Every key, oldest first, without secrets. */
export async function listApiKeys(kv: Deno.Kv): Promise<ApiKeyInfo[]> {
  const out: ApiKeyInfo[] = [];
  for await (const entry of kv.list<ApiKeyRecord>({ prefix: apiKeyPrefix() })) {
    out.push(info(entry.value));
  }
  return out;
}

/** An API key as the console lists it: with when it last authenticated a request. */
export interface ApiKeyListItem extends ApiKeyInfo {
  /** ISO 8601, to the minute; null if never used. */
  lastUsedAt: string | null;
}

/** An account's keys, oldest first, without secrets, with their last use. */
export async function listAccountApiKeys(
  kv: Deno.Kv,
  accountId: string,
): Promise<ApiKeyListItem[]> {
  const ids: string[] = [];
  for await (const entry of kv.list<string>({ prefix: apiKeysByAccountPrefix(accountId) })) {
    ids.push(entry.value);
  }
  const out: ApiKeyListItem[] = [];
  for (let i = 0; i < ids.length; i += 5) {
    const batch = ids.slice(i, i + 5);
    const entries = await kv.getMany<unknown[]>(
      batch.flatMap((id) => [apiKeyKey(id), apiKeyLastUsedKey(id)]),
    );
    for (let j = 0; j < batch.length; j++) {
      const record = entries[2 * j].value as ApiKeyRecord | null;
      const used = entries[2 * j + 1].value as number | null;
      if (record?.accountId !== accountId) continue;
      out.push({ ...info(record), lastUsedAt: used ? new Date(used).toISOString() : null });
    }
  }
  return out;
}

/** One of an account's keys, or a 404 that does not tell another account's key from none. */
export async function getAccountApiKey(
  kv: Deno.Kv,
  accountId: string,
  keyId: string,
): Promise<ApiKeyInfo> {
  const record = (await kv.get<ApiKeyRecord>(apiKeyKey(keyId))).value;
  if (!record || record.accountId !== accountId) {
    throw new PassageError("api_key_not_found", `No API key with id "${keyId}"`, {
      param: "id",
    });
  }
  return info(record);
}

const LAST_USED_RESOLUTION_MS = 60_000;
const lastUsedWritten = new Map<string, number>();
/** Key ids by secret hash per store, as read (a hash's key never changes; its record is read each time). */
const keyIdsByHash = new WeakMap<Deno.Kv, Map<string, string>>();

/** Records that `keyId` was used now, at most once a minute per key and process. */
async function touchApiKey(kv: Deno.Kv, keyId: string): Promise<void> {
  const now = Date.now();
  if (now - (lastUsedWritten.get(keyId) ?? 0) < LAST_USED_RESOLUTION_MS) return;
  lastUsedWritten.set(keyId, now);
  if (lastUsedWritten.size > 10_000) lastUsedWritten.clear();
  await kv.set(apiKeyLastUsedKey(keyId), now).catch(() => {});
}

/**
 * Revokes a key; later requests with it get 401 `revoked_api_key`, and the
 * sockets and streams already open with it are closed (see `relay/relay.ts`).
 */
export async function revokeApiKey(
  kv: Deno.Kv,
  keyId: string,
): Promise<ApiKeyInfo | null> {
  for (;;) {
    const entry = await kv.get<ApiKeyRecord>(apiKeyKey(keyId));
    if (!entry.value) return null;
    if (entry.value.revokedAt) return info(entry.value);
    const record = { ...entry.value, revokedAt: new Date().toISOString() };
    const res = await kv.atomic().check(entry).set(entry.key, record).commit();
    if (res.ok) {
      announceRevoked(keyId);
      return info(record);
    }
  }
}

/**
 * Revokes every live key of `accountId` that `createdBy` made (see
 * `revokeApiKey`: their sockets and streams close); returns them.
 */
export async function revokeKeysCreatedBy(
  kv: Deno.Kv,
  accountId: string,
  createdBy: string,
): Promise<ApiKeyInfo[]> {
  const revoked: ApiKeyInfo[] = [];
  for (const key of await listAccountApiKeys(kv, accountId)) {
    if (key.createdBy !== createdBy || key.revokedAt) continue;
    const done = await revokeApiKey(kv, key.id);
    if (done) revoked.push(done);
  }
  return revoked;
}

/** Of `keyIds`, those that are revoked or no longer exist, in batched reads of 10 keys. */
export async function revokedKeyIds(kv: Deno.Kv, keyIds: Iterable<string>): Promise<Set<string>> {
  const ids = [...new Set(keyIds)];
  const revoked = new Set<string>();
  for (let i = 0; i < ids.length; i += 10) {
    const batch = ids.slice(i, i + 10);
    const entries = await kv.getMany<ApiKeyRecord[]>(batch.map((id) => apiKeyKey(id)));
    entries.forEach((entry, j) => {
      if (!entry.value || entry.value.revokedAt) revoked.add(batch[j]);
    });
  }
  return revoked;
}

/** Resolves a bearer secret to its key, or throws the matching 401. */
export async function authenticate(
  kv: Deno.Kv,
  secret: string,
): Promise<ApiKeyInfo> {
  if (!isWellFormedKey(secret)) {
    throw new PassageError(
      "invalid_api_key",
      "API key is malformed: expected sk_test_… or sk_live_… with a valid checksum",
    );
  }
  const hash = await sha256Hex(secret);
  // Which key a hash names never changes: read once per isolate. The record
  // is read every time, so a revocation anywhere counts at once.
  let known = keyIdsByHash.get(kv);
  if (!known) keyIdsByHash.set(kv, known = new Map());
  let keyId = known.get(hash);
  if (!keyId) {
    keyId = (await kv.get<string>(apiKeyByHashKey(hash))).value ?? undefined;
    if (keyId) {
      if (known.size >= 10_000) known.clear();
      known.set(hash, keyId);
    }
  }
  const record = keyId ? (await kv.get<ApiKeyRecord>(apiKeyKey(keyId))).value : null;
  if (!record || !timingSafeEqual(record.secretHash, hash)) {
    throw new PassageError("invalid_api_key", "API key is not recognised");
  }
  if (record.revokedAt) {
    throw new PassageError(
      "revoked_api_key",
      `API key ${record.id} was revoked`,
    );
  }
  await touchApiKey(kv, record.id);
  return info(record);
}

/** Whether any key exists yet (used by `deno task dev` to seed a test key). */
export async function hasAnyApiKey(kv: Deno.Kv): Promise<boolean> {
  for await (const _ of kv.list({ prefix: apiKeyPrefix() }, { limit: 1 })) {
    return true;
  }
  return false;
}
