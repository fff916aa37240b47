/**
 * Every Deno KV key shape Passage uses, one function each. Nothing else builds a
 * key array: to find what is stored, read this file.
 */

/** An API key's record (`ApiKeyRecord`). */
export const apiKeyKey = (keyId: string) => ["api_keys", keyId] as const;
/** Index: SHA-256 of a secret key → its key id. */
export const apiKeyByHashKey = (secretHash: string) => ["api_keys_by_hash", secretHash] as const;

/** A link's record (`LinkRecord`). */
export const linkKey = (linkId: string) => ["links", linkId] as const;
/** Index: a key owner's links, in id (= time) order. Value: the link id. */
export const linksByOwnerKey = (keyId: string, linkId: string) =>
  ["links_by_owner", keyId, linkId] as const;
/** Prefix of `linksByOwnerKey` for listing. */
export const linksByOwnerPrefix = (keyId: string) => ["links_by_owner", keyId] as const;
/** Index: pending links by the time they expire, for the expiry sweep. */
export const linksByExpiryKey = (expiresAtMs: number, linkId: string) =>
  ["links_by_expiry", expiresAtMs, linkId] as const;
/** Prefix of `linksByExpiryKey`. */
export const linksByExpiryPrefix = () => ["links_by_expiry"] as const;

/** Index: a normalized claim code → the link it opens. */
export const claimCodeKey = (code: string) => ["claim_codes", code] as const;
/** A device token, by the SHA-256 of its secret (`DeviceTokenRecord`). */
export const deviceTokenKey = (tokenHash: string) => ["device_tokens", tokenHash] as const;
/** Failed claim attempts from one client address in one time window. */
export const claimAttemptsKey = (client: string, window: number) =>
  ["claim_attempts", client, window] as const;

/** A stored answer to a request sent with an `Idempotency-Key`. */
export const idempotencyKey = (keyId: string, route: string, key: string) =>
  ["idempotency", keyId, route, key] as const;
