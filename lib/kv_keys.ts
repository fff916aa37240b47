/**
 * Every Deno KV key shape Passage uses, one function each. Nothing else builds a
 * key array: to find what is stored, read this file.
 */

/** Test or live: the two halves of an account. */
export type KeyMode = "test" | "live";

// ---------------------------------------------------------------- accounts
/** An account (`AccountRecord`): what owns keys, links, sessions and webhook events. */
export const accountKey = (accountId: string) => ["accounts", accountId] as const;
/** Prefix of `accountKey`: every account. */
export const accountPrefix = () => ["accounts"] as const;
/** Index: a member's email (lower case) → an account they belong to. Value: the account id. */
export const accountByMemberKey = (email: string, accountId: string) =>
  ["accounts_by_member", email, accountId] as const;
/** Prefix of `accountByMemberKey`: every account of one member. */
export const accountByMemberPrefix = (email: string) => ["accounts_by_member", email] as const;
/**
 * Index: an email → an account that invited it and has no answer yet. Value:
 * `{accountId, expiresAt}`; the account's own `invitations` decide.
 */
export const invitationByEmailKey = (email: string, accountId: string) =>
  ["invitations_by_email", email, accountId] as const;
/** Prefix of `invitationByEmailKey`: every pending invitation of one email. */
export const invitationByEmailPrefix = (email: string) => ["invitations_by_email", email] as const;
/** The account a member last used in the console, where their next sign-in opens. Value: its id. */
export const memberLastAccountKey = (email: string) => ["member_last_account", email] as const;
/** An account's uploaded logo (`StoredLogo`), by its content-derived id. */
export const accountLogoKey = (logoId: string) => ["account_logos", logoId] as const;
/** Index: an account's API keys, in id (= time) order. Value: the key id. */
export const apiKeysByAccountKey = (accountId: string, keyId: string) =>
  ["api_keys_by_account", accountId, keyId] as const;
/** Prefix of `apiKeysByAccountKey`. */
export const apiKeysByAccountPrefix = (accountId: string) =>
  ["api_keys_by_account", accountId] as const;
/** When a key last authenticated a request (ms since epoch), written at most once a minute. */
export const apiKeyLastUsedKey = (keyId: string) => ["api_key_last_used", keyId] as const;
/** A data migration that has run to the end. Value: when (ISO 8601). */
export const migrationKey = (name: string) => ["migrations", name] as const;

/** An API key's record (`ApiKeyRecord`). */
export const apiKeyKey = (keyId: string) => ["api_keys", keyId] as const;
/** Prefix of `apiKeyKey`: every key. */
export const apiKeyPrefix = () => ["api_keys"] as const;
/** Index: SHA-256 of a secret key → its key id. */
export const apiKeyByHashKey = (secretHash: string) => ["api_keys_by_hash", secretHash] as const;

/** A link's record (`LinkRecord`). */
export const linkKey = (linkId: string) => ["links", linkId] as const;
/**
 * Legacy index (before accounts): an API key's links. `migrateToAccounts`
 * moves every entry to `linksByAccountKey`; nothing writes it any more.
 */
export const linksByOwnerPrefix = (keyId: string) => ["links_by_owner", keyId] as const;
/** Index: an account's links of one mode, in id (= time) order. Value: the link id. */
export const linksByAccountKey = (accountId: string, mode: KeyMode, linkId: string) =>
  ["links_by_account", accountId, mode, linkId] as const;
/** Prefix of `linksByAccountKey` for listing. */
export const linksByAccountPrefix = (accountId: string, mode: KeyMode) =>
  ["links_by_account", accountId, mode] as const;
/** Index: pending links by the time they expire, for the expiry sweep. */
export const linksByExpiryKey = (expiresAtMs: number, linkId: string) =>
  ["links_by_expiry", expiresAtMs, linkId] as const;
/** Prefix of `linksByExpiryKey`. */
export const linksByExpiryPrefix = () => ["links_by_expiry"] as const;

/** Index: a normalized claim code → the session it opens. */
export const claimCodeKey = (code: string) => ["claim_codes", code] as const;
/** A device token, by the SHA-256 of its secret (`DeviceTokenRecord`). */
export const deviceTokenKey = (tokenHash: string) => ["device_tokens", tokenHash] as const;
/** Failed claim attempts from one client address in one time window. */
export const claimAttemptsKey = (client: string, window: number) =>
  ["claim_attempts", client, window] as const;

/** A stored answer to a request sent with an `Idempotency-Key`, by account, mode and operation. */
export const idempotencyKey = (accountId: string, mode: KeyMode, operation: string, key: string) =>
  ["idempotency", accountId, mode, operation, key] as const;

/** A session's record (`SessionRecord`). */
export const sessionKey = (sessionId: string) => ["sessions", sessionId] as const;
/** Legacy index (before accounts): an API key's sessions; see `linksByOwnerPrefix`. */
export const sessionsByOwnerPrefix = (keyId: string) => ["sessions_by_owner", keyId] as const;
/** Index: an account's sessions of one mode, in id (= time) order. Value: the session id. */
export const sessionsByAccountKey = (accountId: string, mode: KeyMode, sessionId: string) =>
  ["sessions_by_account", accountId, mode, sessionId] as const;
/** Prefix of `sessionsByAccountKey`. */
export const sessionsByAccountPrefix = (accountId: string, mode: KeyMode) =>
  ["sessions_by_account", accountId, mode] as const;
/** Index: sessions not yet ended, for the timeout sweep. Value: the session id. */
export const liveSessionKey = (sessionId: string) => ["sessions_live", sessionId] as const;
/** Prefix of `liveSessionKey`. */
export const liveSessionPrefix = () => ["sessions_live"] as const;
/** When a controller last sent a command to a session (ms since epoch). */
export const sessionActivityKey = (sessionId: string) => ["session_activity", sessionId] as const;
/** Which device connection currently holds a session (`DevicePresence`). */
export const devicePresenceKey = (sessionId: string) => ["device_presence", sessionId] as const;

/**
 * A session's ordered logs: `cmd` (what controllers asked the device), `evt`
 * (what controllers and SSE see: results, telemetry, session changes) and, for
 * a link's session, `eng` (the engine's command results, which never enter
 * `evt`, so no developer stream can read them).
 */
export type LogStream = "cmd" | "evt" | "eng";
/** One log entry (`LogEntry`), numbered from 1. */
export const logEntryKey = (sessionId: string, stream: LogStream, seq: number) =>
  ["session_log", sessionId, stream, seq] as const;
/** Prefix of `logEntryKey` for one stream. */
export const logPrefix = (sessionId: string, stream: LogStream) =>
  ["session_log", sessionId, stream] as const;
/** The highest seq written to a stream. */
export const logHeadKey = (sessionId: string, stream: LogStream) =>
  ["session_log_head", sessionId, stream] as const;
/**
 * What a session's log key encrypts: `data` (command params and results,
 * shredded when the session ends) or `telemetry` (telemetry and session
 * changes, shredded when the telemetry retention ends).
 */
export type LogKeyPurpose = "data" | "telemetry";
/** A session's AES-GCM key for one purpose (`StoredLogKey`). */
export const sessionLogKeyKey = (sessionId: string, purpose: LogKeyPurpose) =>
  ["session_log_keys", sessionId, purpose] as const;
/** Index: a telemetry key due for shredding at `expiresAtMs`. Value: the session id. */
export const logKeyExpiryKey = (expiresAtMs: number, sessionId: string) =>
  ["session_log_key_expiry", expiresAtMs, sessionId] as const;
/** Prefix of `logKeyExpiryKey`. */
export const logKeyExpiryPrefix = () => ["session_log_key_expiry"] as const;
/** How much telemetry a session has stored, against its quotas (`TelemetryUsage`). */
export const telemetryUsageKey = (sessionId: string) => ["telemetry_usage", sessionId] as const;
/** A slice of a JSON value too large for one KV value (see `kv_blobs.ts`). */
export const blobChunkKey = (chunkId: string, index: number) =>
  ["blob_chunks", chunkId, index] as const;
/** The highest device message seq stored for a session (dedup on resend). */
export const deviceSeqKey = (sessionId: string) => ["device_seq", sessionId] as const;
/** A command a controller sent that has no result yet (`PendingCommand`). */
export const pendingCommandKey = (sessionId: string, commandId: string) =>
  ["pending_commands", sessionId, commandId] as const;
/** Prefix of `pendingCommandKey`. */
export const pendingCommandPrefix = (sessionId: string) => ["pending_commands", sessionId] as const;
/** Marks a controller command id as seen, so a resend is not run twice. */
export const commandIdKey = (sessionId: string, commandId: string) =>
  ["command_ids", sessionId, commandId] as const;
/** Prefix of `commandIdKey`. */
export const commandIdPrefix = (sessionId: string) => ["command_ids", sessionId] as const;

/** A link's run by the automation engine (`LinkRun`): who holds it and until when. */
export const linkRunKey = (linkId: string) => ["link_runs", linkId] as const;
/** Index: links claimed and waiting for (or holding) a run. Value: the link id. */
export const runnableLinkKey = (linkId: string) => ["links_runnable", linkId] as const;
/** Prefix of `runnableLinkKey`. */
export const runnableLinkPrefix = () => ["links_runnable"] as const;

/** A finished link's results (`StoredResults`), kept for the result retention period. */
export const linkResultsKey = (linkId: string) => ["link_results", linkId] as const;

// ---------------------------------------------------------------- webhooks
/** A webhook signing key (`WebhookKeyRecord`), by its kid. */
export const webhookKeyKey = (kid: string) => ["webhook_keys", kid] as const;
/** Prefix of `webhookKeyKey`, for listing (kids sort by creation time). */
export const webhookKeyPrefix = () => ["webhook_keys"] as const;
/**
 * The kid of the server-wide key: the one that signs for accounts made
 * before per-account keys, until they rotate their own. Value: the kid.
 */
export const currentWebhookKeyKey = () => ["webhook_key_current"] as const;
/** An account's own signing key (`WebhookKeyRecord`), by its kid. */
export const accountWebhookKeyKey = (accountId: string, kid: string) =>
  ["account_webhook_keys", accountId, kid] as const;
/** Prefix of `accountWebhookKeyKey`: one account's keys, oldest first. */
export const accountWebhookKeyPrefix = (accountId: string) =>
  ["account_webhook_keys", accountId] as const;
/** Which key signs an account's webhooks (`AccountKeyState`). */
export const accountWebhookKeyStateKey = (accountId: string) =>
  ["account_webhook_key_state", accountId] as const;
/** Index: an account key's kid → its account, for lookups by kid. Value: the account id. */
export const webhookKeyOwnerKey = (kid: string) => ["webhook_key_owners", kid] as const;
/** A webhook event (`WebhookEventRecord`): where it goes and how its delivery stands. */
export const webhookEventKey = (eventId: string) => ["webhook_events", eventId] as const;
/** Prefix of `webhookEventKey` (event ids sort by creation time). */
export const webhookEventPrefix = () => ["webhook_events"] as const;
/** One slice of an event's exact body bytes (a `Uint8Array`), numbered from 0. */
export const webhookBodyChunkKey = (eventId: string, index: number) =>
  ["webhook_event_body", eventId, index] as const;
/** Index: an account's events, in id (= time) order. Value: the event id. */
export const webhookEventsByAccountKey = (accountId: string, eventId: string) =>
  ["webhook_events_by_account", accountId, eventId] as const;
/** Prefix of `webhookEventsByAccountKey`. */
export const webhookEventsByAccountPrefix = (accountId: string) =>
  ["webhook_events_by_account", accountId] as const;
/** Index: a link's events, in id (= time) order. Value: the event id. */
export const webhookEventsByLinkKey = (linkId: string, eventId: string) =>
  ["webhook_events_by_link", linkId, eventId] as const;
/** Prefix of `webhookEventsByLinkKey`. */
export const webhookEventsByLinkPrefix = (linkId: string) =>
  ["webhook_events_by_link", linkId] as const;
/** The outbox: an event due for a delivery attempt at `dueAtMs`. Value: the event id. */
export const webhookOutboxKey = (dueAtMs: number, eventId: string) =>
  ["webhook_outbox", dueAtMs, eventId] as const;
/** Prefix of `webhookOutboxKey`. */
export const webhookOutboxPrefix = () => ["webhook_outbox"] as const;
/** One delivery attempt of an event (`WebhookAttempt`), numbered from 1. */
export const webhookAttemptKey = (eventId: string, number: number) =>
  ["webhook_attempts", eventId, number] as const;
/** Prefix of `webhookAttemptKey`. */
export const webhookAttemptPrefix = (eventId: string) => ["webhook_attempts", eventId] as const;

/** A relay instance's heartbeat (`RelayInstance`): its devices are present while it beats. */
export const relayInstanceKey = (instanceId: string) => ["relay_instances", instanceId] as const;
/** Prefix of `relayInstanceKey`. */
export const relayInstancePrefix = () => ["relay_instances"] as const;
/** Index: a device connection held by a relay instance → its connection id. */
export const presenceByInstanceKey = (instanceId: string, sessionId: string) =>
  ["device_presence_by_instance", instanceId, sessionId] as const;
/** Prefix of `presenceByInstanceKey` for one instance. */
export const presenceByInstancePrefix = (instanceId: string) =>
  ["device_presence_by_instance", instanceId] as const;
/** Index: a session whose device is away (disconnected) → since when (ms since epoch). */
export const deviceAwayKey = (sessionId: string) => ["devices_away", sessionId] as const;
/** Prefix of `deviceAwayKey`. */
export const deviceAwayPrefix = () => ["devices_away"] as const;

// ---------------------------------------------------------------- console sign-in
/** A sign-in in progress (`OAuthState`: PKCE verifier, nonce, provider), by its state value. */
export const oauthStateKey = (state: string) => ["oauth_states", state] as const;
/** A console session (`ConsoleSession`), by the SHA-256 of its cookie value. */
export const consoleSessionKey = (idHash: string) => ["console_sessions", idHash] as const;
/** A one-time dev sign-in link (`DevSignInToken`), by the SHA-256 of its token. */
export const devSignInTokenKey = (tokenHash: string) => ["dev_sign_in_tokens", tokenHash] as const;
