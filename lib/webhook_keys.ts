/**
 * Webhook signing keys: ES256 (ECDSA P-256) key pairs made with WebCrypto and
 * kept in KV, the private half as a JWK. One key is current and signs every new
 * delivery; it is created lazily, the first time something is signed. Rotating
 * makes a fresh key current and gives the previous one an `expiredAt`, until
 * which receivers can still fetch it to verify signatures made before the
 * rotation. A key past its `expiredAt` is no longer served. Keys are shared by
 * every account on the server: a rotation from the console (by an account's
 * admin) is capped at a few keys in their overlap, so no account can grow the
 * key set for everyone; the operator's CLI has no cap.
 */
import { PassageError } from "./errors.ts";
import { ulid } from "./ids.ts";
import { currentWebhookKeyKey, webhookKeyKey, webhookKeyPrefix } from "./kv_keys.ts";

/** A signing key as stored in KV. */
export interface WebhookKeyRecord {
  kid: string;
  /** Unix seconds. */
  createdAt: number;
  /** Unix seconds after which the key is not served; null while it is current. */
  expiredAt: number | null;
  publicJwk: { kty: "EC"; crv: "P-256"; x: string; y: string };
  privateJwk: JsonWebKey;
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

async function generateKey(now: Date): Promise<WebhookKeyRecord> {
  const pair = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const privateJwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const { x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return {
    kid: `whk_${ulid()}`,
    createdAt: seconds(now),
    expiredAt: null,
    publicJwk: { kty: "EC", crv: "P-256", x: x!, y: y! },
    privateJwk,
  };
}

/** The key that signs new webhooks, created (once, even under races) on first use. */
export async function currentWebhookKey(
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
 * Makes a fresh key current. The previous one stays servable for
 * `overlapSeconds` (its `expiredAt`), so signatures made just before the
 * rotation still verify.
 */
export async function rotateWebhookKey(
  kv: Deno.Kv,
  options: {
    overlapSeconds: number;
    now?: Date;
    /** Refuse (429) when this many keys are servable already: the previous ones still overlap. */
    maxServable?: number;
  },
): Promise<{ current: WebhookKeyRecord; previous: WebhookKeyRecord | null }> {
  const now = options.now ?? new Date();
  if (options.maxServable !== undefined) {
    const servable = (await listWebhookKeys(kv)).filter((k) => isServable(k, now));
    if (servable.length >= options.maxServable) {
      const until = Math.min(...servable.map((k) => k.expiredAt ?? Infinity));
      throw new PassageError(
        "too_many_attempts",
        `${servable.length} signing keys are still valid after recent rotations; rotate again after ${
          new Date(until * 1000).toISOString()
        }, or ask the server's operator (deno task webhook-keys rotate)`,
        { headers: { "Retry-After": String(Math.max(1, until - seconds(now))) } },
      );
    }
  }
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
      previous = { ...previousEntry.value, expiredAt: seconds(now) + options.overlapSeconds };
      op.check(previousEntry).set(previousEntry.key, previous);
    }
    if ((await op.commit()).ok) return { current, previous };
  }
}

/** A key's public half, or null if there is no such key or it has expired. */
export async function getWebhookPublicKey(
  kv: Deno.Kv,
  kid: string,
  now: Date = new Date(),
): Promise<WebhookPublicKey | null> {
  const record = (await kv.get<WebhookKeyRecord>(webhookKeyKey(kid))).value;
  return record && isServable(record, now) ? toPublicKey(record) : null;
}

/** Every stored key, oldest first, expired ones included (for the CLI). */
export async function listWebhookKeys(kv: Deno.Kv): Promise<WebhookKeyRecord[]> {
  const out: WebhookKeyRecord[] = [];
  for await (const entry of kv.list<WebhookKeyRecord>({ prefix: webhookKeyPrefix() })) {
    out.push(entry.value);
  }
  return out;
}

/** The public halves of every key still servable at `now`, oldest first (the JWKS). */
export async function servableWebhookKeys(
  kv: Deno.Kv,
  now: Date = new Date(),
): Promise<WebhookPublicKey[]> {
  return (await listWebhookKeys(kv)).filter((k) => isServable(k, now)).map(toPublicKey);
}
