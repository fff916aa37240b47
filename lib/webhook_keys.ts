/**
 * Webhook signing keys: ES256 (ECDSA P-256) key pairs made with WebCrypto and
 * kept in KV, the private half as a JWK. Each account has its own keys: one is
 * current and signs the account's new deliveries (made lazily, the first time
 * something is signed for the account); rotating makes a fresh key current and
 * gives the previous one an `expiredAt`, until which receivers can still fetch
 * it (in the account's key set, `/v1/accounts/{id}/jwks.json`) to verify
 * signatures made before the rotation. A key past its `expiredAt` is no longer
 * served, and the account's next rotation deletes it.
 *
 * Before per-account keys one server-wide key signed for everyone. Accounts
 * that existed then (`adoptServerWebhookKey`, run by the migration) keep
 * signing with it, so no receiver has to change anything, until their first
 * rotation moves them to a key of their own; the server-wide keys stay in
 * their key set for the overlap. The server-wide keys are the ones
 * `/.well-known/jwks.json` lists, and only the operator's CLI rotates them.
 * Every kid is unique across accounts, so `/webhook_verification_key/get`
 * finds any key by its kid alone.
 */
import { PassageError } from "./errors.ts";
import { ulid } from "./ids.ts";
import {
  accountWebhookKeyKey,
  accountWebhookKeyPrefix,
  accountWebhookKeyStateKey,
  currentWebhookKeyKey,
  webhookKeyKey,
  webhookKeyOwnerKey,
  webhookKeyPrefix,
} from "./kv_keys.ts";

/** A signing key as stored in KV. */
export interface WebhookKeyRecord {
  kid: string;
  /** The account whose key this is; absent on a server-wide key. */
  accountId?: string;
  /** Unix seconds. */
  createdAt: number;
  /** Unix seconds after which the key is not served; null while it is current. */
  expiredAt: number | null;
  publicJwk: { kty: "EC"; crv: "P-256"; x: string; y: string };
  privateJwk: JsonWebKey;
}

/** Which key signs an account's webhooks. No record: the account has signed nothing yet. */
export interface AccountKeyState {
  /** The account's own current key; null while it still signs with the server-wide key. */
  current: string | null;
  /**
   * Until when (Unix seconds) the server-wide keys are in the account's key
   * set: null while it signs with them, the end of the overlap once it has
   * rotated away from them, 0 for an account that never used them.
   */
  sharedUntil: number | null;
}

/** The public half of a key, as `/webhook_verification_key/get` and the JWKS serve it. */
export interface WebhookPublicKey {
  alg: "ES256";
  crv: "P-256";
  kid: string;
  kty: "EC";
  use: "sig";
  x: string;
  y: string;
  /** Unix seconds. */
  created_at: number;
  /** Unix seconds; null while the key is current. */
  expired_at: number | null;
}

const ALGORITHM: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };

const seconds = (at: Date) => Math.floor(at.getTime() / 1000);

/** The public view of a stored key: no private parameter leaves this function. */
export function toPublicKey(record: WebhookKeyRecord): WebhookPublicKey {
  return {
    alg: "ES256",
    crv: "P-256",
    kid: record.kid,
    kty: "EC",
    use: "sig",
    x: record.publicJwk.x,
    y: record.publicJwk.y,
    created_at: record.createdAt,
    expired_at: record.expiredAt,
  };
}

/** Whether a key may still be served (and so used to verify) at `now`. */
export function isServable(record: WebhookKeyRecord, now: Date): boolean {
  return record.expiredAt === null || record.expiredAt > seconds(now);
}

async function generateKey(now: Date, accountId?: string): Promise<WebhookKeyRecord> {
  const pair = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const privateJwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const { x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return {
    kid: `whk_${ulid()}`,
    ...(accountId === undefined ? {} : { accountId }),
    createdAt: seconds(now),
    expiredAt: null,
    publicJwk: { kty: "EC", crv: "P-256", x: x!, y: y! },
    privateJwk,
  };
}

/** Writes an account's new key and its kid index into `op`. */
function writeAccountKey(op: Deno.AtomicOperation, record: WebhookKeyRecord): void {
  op.check({ key: webhookKeyOwnerKey(record.kid), versionstamp: null })
    .set(accountWebhookKeyKey(record.accountId!, record.kid), record)
    .set(webhookKeyOwnerKey(record.kid), record.accountId!);
}

/** The server-wide key, created (once, even under races) on first use. */
export async function currentServerWebhookKey(
  kv: Deno.Kv,
  now: Date = new Date(),
): Promise<WebhookKeyRecord> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const pointer = await kv.get<string>(currentWebhookKeyKey());
    if (pointer.value) {
      const record = (await kv.get<WebhookKeyRecord>(webhookKeyKey(pointer.value))).value;
      if (record) return record;
      throw new Error(`The current webhook key ${pointer.value} is missing from KV`);
    }
    const record = await generateKey(now);
    const res = await kv.atomic()
      .check(pointer)
      .check({ key: webhookKeyKey(record.kid), versionstamp: null })
      .set(webhookKeyKey(record.kid), record)
      .set(currentWebhookKeyKey(), record.kid)
      .commit();
    if (res.ok) return record;
    // Another caller created the first key at the same time: use theirs.
  }
  throw new Error("Could not create the first webhook signing key");
}

/**
 * The key that signs `accountId`'s new webhooks: its own current key (made,
 * once even under races, the first time), or the server-wide one for an
 * account that has signed with it since before per-account keys.
 */
export async function currentWebhookKey(
  kv: Deno.Kv,
  accountId: string,
  now: Date = new Date(),
): Promise<WebhookKeyRecord> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const state = await kv.get<AccountKeyState>(accountWebhookKeyStateKey(accountId));
    if (state.value?.current === null) return await currentServerWebhookKey(kv, now);
    if (state.value) {
      const key = accountWebhookKeyKey(accountId, state.value.current);
      const record = (await kv.get<WebhookKeyRecord>(key)).value;
      if (record) return record;
      throw new Error(`The current webhook key ${state.value.current} is missing from KV`);
    }
    const record = await generateKey(now, accountId);
    const op = kv.atomic().check(state)
      .set(state.key, { current: record.kid, sharedUntil: 0 } satisfies AccountKeyState);
    writeAccountKey(op, record);
    if ((await op.commit()).ok) return record;
    // Another caller created the account's first key at the same time: use theirs.
  }
  throw new Error(`Could not create the first webhook signing key of ${accountId}`);
}

/**
 * For the migration: `accountId` keeps signing with the server-wide key until
 * its first rotation. False if the account already has a key state.
 */
export async function adoptServerWebhookKey(kv: Deno.Kv, accountId: string): Promise<boolean> {
  const key = accountWebhookKeyStateKey(accountId);
  const state: AccountKeyState = { current: null, sharedUntil: null };
  const res = await kv.atomic().check({ key, versionstamp: null }).set(key, state).commit();
  return res.ok;
}

/** Options of {@linkcode rotateWebhookKey}. */
export interface RotateOptions {
  /** Whose key to rotate; without it, the server-wide key (the operator's CLI). */
  accountId?: string;
  /** How long the previous key stays in the key set, in seconds. */
  overlapSeconds: number;
  now?: Date;
  /**
   * Refuse (429) when this many of the account's own keys are servable
   * already: the previous ones still overlap. Bounds what one account stores.
   */
  maxServable?: number;
}

/**
 * Makes a fresh key current, for one account or server-wide. The previous
 * one stays servable for `overlapSeconds` (its `expiredAt`), so signatures
 * made just before the rotation still verify. An account's rotation deletes
 * its keys already past their overlap, and leaves every other account alone.
 */
export async function rotateWebhookKey(
  kv: Deno.Kv,
  options: RotateOptions,
): Promise<{ current: WebhookKeyRecord; previous: WebhookKeyRecord | null }> {
  const now = options.now ?? new Date();
  const until = seconds(now) + options.overlapSeconds;
  if (options.accountId === undefined) {
    if (options.maxServable !== undefined) {
      refuseIfFull((await listWebhookKeys(kv)).filter((k) => isServable(k, now)), options, now);
    }
    return await rotateServerKey(kv, until, now);
  }
  const accountId = options.accountId;
  for (;;) {
    const state = await kv.get<AccountKeyState>(accountWebhookKeyStateKey(accountId));
    const own: Deno.KvEntry<WebhookKeyRecord>[] = [];
    for await (
      const e of kv.list<WebhookKeyRecord>({ prefix: accountWebhookKeyPrefix(accountId) })
    ) {
      own.push(e);
    }
    if (options.maxServable !== undefined) {
      refuseIfFull(own.map((e) => e.value).filter((k) => isServable(k, now)), options, now);
    }
    const current = await generateKey(now, accountId);
    const onShared = state.value?.current === null;
    const op = kv.atomic().check(state).set(
      state.key,
      {
        current: current.kid,
        sharedUntil: onShared ? until : state.value?.sharedUntil ?? 0,
      } satisfies AccountKeyState,
    );
    writeAccountKey(op, current);
    let previous: WebhookKeyRecord | null = null;
    for (const entry of own) {
      if (entry.value.kid === state.value?.current) {
        previous = { ...entry.value, expiredAt: until };
        op.check(entry).set(entry.key, previous);
      } else if (!isServable(entry.value, now)) {
        op.delete(entry.key).delete(webhookKeyOwnerKey(entry.value.kid));
      }
    }
    if (onShared) {
      const shared = await currentServerWebhookKey(kv, now);
      previous = { ...shared, expiredAt: minExpiry(shared.expiredAt, until) };
    }
    if ((await op.commit()).ok) return { current, previous };
  }
}

function refuseIfFull(servable: WebhookKeyRecord[], options: RotateOptions, now: Date): void {
  if (servable.length < options.maxServable!) return;
  const until = Math.min(...servable.map((k) => k.expiredAt ?? Infinity));
  const whose = options.accountId ? ` of ${options.accountId}` : "";
  throw new PassageError(
    "too_many_attempts",
    `${servable.length} signing keys${whose} are still valid after recent rotations; rotate again after ${
      new Date(until * 1000).toISOString()
    }, or ask the server's operator (deno task webhook-keys rotate${
      options.accountId ? ` --account ${options.accountId}` : ""
    })`,
    { headers: { "Retry-After": String(Math.max(1, until - seconds(now))) } },
  );
}

async function rotateServerKey(
  kv: Deno.Kv,
  until: number,
  now: Date,
): Promise<{ current: WebhookKeyRecord; previous: WebhookKeyRecord | null }> {
  for (;;) {
    const pointer = await kv.get<string>(currentWebhookKeyKey());
    const previousEntry = pointer.value
      ? await kv.get<WebhookKeyRecord>(webhookKeyKey(pointer.value))
      : null;
    const current = await generateKey(now);
    const op = kv.atomic()
      .check(pointer)
      .check({ key: webhookKeyKey(current.kid), versionstamp: null })
      .set(webhookKeyKey(current.kid), current)
      .set(currentWebhookKeyKey(), current.kid);
    let previous: WebhookKeyRecord | null = null;
    if (previousEntry?.value) {
      previous = { ...previousEntry.value, expiredAt: until };
      op.check(previousEntry).set(previousEntry.key, previous);
    }
    if ((await op.commit()).ok) return { current, previous };
  }
}

const minExpiry = (a: number | null, b: number | null) =>
  a === null ? b : b === null ? a : Math.min(a, b);

/** A key's public half by its kid (any account's, or server-wide), or null if unknown or expired. */
export async function getWebhookPublicKey(
  kv: Deno.Kv,
  kid: string,
  now: Date = new Date(),
): Promise<WebhookPublicKey | null> {
  const [shared, owner] = await kv.getMany<[WebhookKeyRecord, string]>([
    webhookKeyKey(kid),
    webhookKeyOwnerKey(kid),
  ]);
  const record = shared.value ??
    (owner.value
      ? (await kv.get<WebhookKeyRecord>(accountWebhookKeyKey(owner.value, kid))).value
      : null);
  return record && isServable(record, now) ? toPublicKey(record) : null;
}

/** Every server-wide key, oldest first, expired ones included (for the CLI). */
export async function listWebhookKeys(kv: Deno.Kv): Promise<WebhookKeyRecord[]> {
  const out: WebhookKeyRecord[] = [];
  for await (const entry of kv.list<WebhookKeyRecord>({ prefix: webhookKeyPrefix() })) {
    out.push(entry.value);
  }
  return out;
}

/**
 * The keys `accountId`'s receivers may see, oldest first: the server-wide
 * ones while the account trusts them (their `expiredAt` is when the account
 * stops trusting them), then its own, expired ones not yet deleted included.
 */
export async function listAccountWebhookKeys(
  kv: Deno.Kv,
  accountId: string,
  now: Date = new Date(),
): Promise<WebhookKeyRecord[]> {
  const state = (await kv.get<AccountKeyState>(accountWebhookKeyStateKey(accountId))).value;
  const out: WebhookKeyRecord[] = [];
  const sharedUntil = state ? state.sharedUntil : 0;
  if (sharedUntil === null || sharedUntil > seconds(now)) {
    for (const k of await listWebhookKeys(kv)) {
      if (isServable(k, now)) out.push({ ...k, expiredAt: minExpiry(k.expiredAt, sharedUntil) });
    }
  }
  for await (const e of kv.list<WebhookKeyRecord>({ prefix: accountWebhookKeyPrefix(accountId) })) {
    out.push(e.value);
  }
  return out;
}

/** The server-wide keys still servable at `now`, oldest first (`/.well-known/jwks.json`). */
export async function servableWebhookKeys(
  kv: Deno.Kv,
  now: Date = new Date(),
): Promise<WebhookPublicKey[]> {
  return (await listWebhookKeys(kv)).filter((k) => isServable(k, now)).map(toPublicKey);
}

/** The keys that verify `accountId`'s webhooks at `now`, oldest first (its JWKS). */
export async function accountWebhookKeySet(
  kv: Deno.Kv,
  accountId: string,
  now: Date = new Date(),
): Promise<WebhookPublicKey[]> {
  return (await listAccountWebhookKeys(kv, accountId, now)).filter((k) => isServable(k, now))
    .map(toPublicKey);
}
