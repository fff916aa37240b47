/**
 * The `Passage-Verification` header: a compact JWS (a JWT) signed with the
 * current webhook key, protected header `{"alg":"ES256","kid","typ":"JWT"}`,
 * claims `iat`, `request_body_sha256` (hex SHA-256 of the exact bytes sent),
 * `aud` (the id of the account that owns the link: one developer's event does
 * not verify as another's) and `livemode` (test or live), in the manner of
 * Plaid's `Plaid-Verification`. Signed once per attempt.
 */
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
    key = crypto.subtle.importKey(
      "jwk",
      record.privateJwk,
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["sign"],
    );
    key.catch(() => privateKeys.delete(record.kid));
    privateKeys.set(record.kid, key);
  }
  return key;
}

/** Base64url without padding, as JWS wants. */
export function base64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** Signs `claims` as an ES256 JWT with `key`. */
export async function signJwt(key: WebhookKeyRecord, claims: VerificationClaims): Promise<string> {
  const header = base64url(JSON.stringify({ alg: "ES256", kid: key.kid, typ: "JWT" }));
  const payload = base64url(JSON.stringify(claims));
  const input = new TextEncoder().encode(`${header}.${payload}`);
  // WebCrypto's ECDSA signature is r || s (IEEE P1363): exactly JWS's format.
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    await privateKey(key),
    input,
  );
  return `${header}.${payload}.${base64url(new Uint8Array(signature))}`;
}

/** The `Passage-Verification` value for one attempt to send `body`, and the kid that signed it. */
export async function signWebhookBody(
  kv: Deno.Kv,
  body: Uint8Array,
  audience: WebhookAudience,
  now: Date = new Date(),
): Promise<{ jwt: string; kid: string }> {
  const key = await currentWebhookKey(kv, now);
  const jwt = await signJwt(key, {
    iat: Math.floor(now.getTime() / 1000),
    request_body_sha256: await sha256Hex(body),
    aud: audience.aud,
    livemode: audience.livemode,
  });
  return { jwt, kid: key.kid };
}
