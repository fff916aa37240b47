/**
 * Credentials: what a long-lived socket or stream is held to, so that ending
 * the credential ends it. A credential is named by a string:
 *
 * - an API key's id (`key_…`), ended by revoking the key;
 * - a console session (`console_session:{SHA-256 of its cookie}`), ended by
 *   signing out or by its expiry;
 * - a console member's place in an account (`member:{accountId}:{email}`),
 *   ended by removing them.
 *
 * Whoever ends one calls `announceRevoked`: listeners in this isolate hear it
 * at once, the other isolates of this process over
 * `CREDENTIAL_REVOKED_CHANNEL`, and other processes through the relay's
 * periodic check (`revokedCredentials` in `revoked_credentials.ts`), which
 * also catches what ends without an announcement (an expiry).
 */
import { PassageError } from "./errors.ts";

/** The BroadcastChannel a revocation is announced on, to the other isolates of this process. */
export const CREDENTIAL_REVOKED_CHANNEL = "passage-credential-revoked";

const CONSOLE_SESSION = "console_session:";
const MEMBER = "member:";

/** The credential of a console session, by the SHA-256 of its cookie value. */
export function consoleSessionCredential(idHash: string): string {
  return CONSOLE_SESSION + idHash;
}

/** The credential of `email`'s membership of `accountId` (the email as normalised). */
export function memberCredential(accountId: string, email: string): string {
  return `${MEMBER}${accountId}:${email}`;
}

/** What a credential name is: its kind and parts. */
export type ParsedCredential =
  | { kind: "api_key"; keyId: string }
  | { kind: "console_session"; idHash: string }
  | { kind: "member"; accountId: string; email: string };

/** Reads a credential name back (anything else is taken for a key id). */
export function parseCredential(credential: string): ParsedCredential {
  if (credential.startsWith(CONSOLE_SESSION)) {
    return { kind: "console_session", idHash: credential.slice(CONSOLE_SESSION.length) };
  }
  if (credential.startsWith(MEMBER)) {
    const rest = credential.slice(MEMBER.length);
    const colon = rest.indexOf(":");
    return { kind: "member", accountId: rest.slice(0, colon), email: rest.slice(colon + 1) };
  }
  return { kind: "api_key", keyId: credential };
}

/** The error a stream held to `credential` ends with when it is revoked. */
export function revocationError(credential: string): PassageError {
  const parsed = parseCredential(credential);
  switch (parsed.kind) {
    case "api_key":
      return new PassageError("revoked_api_key", `API key ${parsed.keyId} was revoked`);
    case "console_session":
      return new PassageError("sign_in_failed", "Your console session ended; sign in again");
    case "member":
      return new PassageError(
        "account_not_found",
        `You are no longer a member of account ${parsed.accountId}`,
      );
  }
}

const listeners = new Set<(credential: string) => void>();

/**
 * Calls `listener` with every credential revoked in this isolate, right after
 * the revocation is committed; returns an unsubscribe function.
 */
export function onCredentialRevoked(listener: (credential: string) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Tells this isolate's listeners and the process's other isolates that `credentials` ended. */
export function announceRevoked(...credentials: string[]): void {
  for (const credential of credentials) {
    for (const listener of listeners) {
      try {
        listener(credential);
      } catch (err) {
        console.error("revocation listener failed:", err);
      }
    }
  }
  const channel = new BroadcastChannel(CREDENTIAL_REVOKED_CHANNEL);
  for (const credential of credentials) {
    channel.postMessage({ kind: "credential_revoked", credential });
  }
  channel.close();
}
