/**
 * The `Passage-Verification` header: a compact JWS (a JWT) signed with the
 * current webhook key of the account that owns the link, protected header `{"alg":"ES256","kid","typ":"JWT"}`,
 * claims `iat`, `request_body_sha256` (hex SHA-256 of the exact bytes sent),
 * `aud` (the id of the account that owns the link: one developer's event does
 * not verify as another's) and `livemode` (test or live), in the manner of
 * Plaid's `Plaid-Verification`. Signed once per attempt, with jose.
 */
import { importJWK, type JWK, SignJWT } from "jose";
import { sha256Hex } from "./ids.ts";
import { currentWebhookKey, type WebhookKeyRecord } from "./webhook_keys.ts";

/** The claims of a verification JWT. */
export interface VerificationClaims {
  /** Unix seconds when the attempt was signed. */
  iat: number;
  request_body_sha256: string;
  /** Whose event this is: the id of the account that owns the link (`acct_…`). */
  aud: string;
  /** True for a link created with a live key (`sk_live_…`), false for a test key. */
  livemode: boolean;
}

/** What a signature binds an event to besides its bytes. */
export interface WebhookAudience {
  /** The owner's id: the id of the account that owns the link. */
  aud: string;
  livemode: boolean;
}

// Imported private keys by kid: importing a JWK costs more than signing.
const privateKeys = new Map<string, Promise<CryptoKey>>();

function privateKey(record: WebhookKeyRecord): Promise<CryptoKey> {
  let key = privateKeys.get(record.kid);
  if (!key) {
    key = importJWK(record.privateJwk as JWK, "ES256") as Promise<CryptoKey>;
    key.catch(() => privateKeys.delete(record.kid));
    privateKeys.set(record.kid, key);
  }
  return key;
}

/** Signs `claims` as an ES256 JWT with `key` (jose's `SignJWT`). */
export async function signJwt(key: WebhookKeyRecord, claims: VerificationClaims): Promise<string> {
  return await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "JWT" })
    .sign(await privateKey(key));
}

/**
 * The `Passage-Verification` value for one attempt to send `body`, signed with
 * the current key of the account `audience.aud`, and the kid that signed it.
 */
export async function signWebhookBody(
  kv: Deno.Kv,
  body: Uint8Array,
  audience: WebhookAudience,
  now: Date = new Date(),
): Promise<{ jwt: string; kid: string }> {
  const key = await currentWebhookKey(kv, audience.aud, now);
  const jwt = await signJwt(key, {
    iat: Math.floor(now.getTime() / 1000),
    request_body_sha256: await sha256Hex(body),
    aud: audience.aud,
    livemode: audience.livemode,
  });
  return { jwt, kid: key.kid };
}
