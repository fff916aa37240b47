/**
 * Console sessions: a random id in the browser's cookie, and in KV only its
 * SHA-256 with the member's email, their current account, a CSRF token and an
 * expiry (checked on every read: `expireIn` is only a lower bound). A member
 * of several accounts switches the one the session shows; the account last
 * shown is remembered per member and is where their next sign-in opens.
 * A console stream is held to its session and to the membership it was
 * opened under (`consoleStreamCredentials`): signing out, the session's
 * expiry and the member's removal end it.
 */
import {
  accountForMember,
  accountsOfMember,
  createAccount,
  isCreator,
  normalizeEmail,
} from "../accounts.ts";
import { announceRevoked, consoleSessionCredential, memberCredential } from "../credentials.ts";
import { PassageError } from "../errors.ts";
import { randomHex, sha256Hex, timingSafeEqual } from "../ids.ts";
import { consoleSessionKey, memberLastAccountKey } from "../kv_keys.ts";

/** A console session as stored. */
export interface ConsoleSession {
  email: string;
  /** The account the console shows; one the email is a member of. */
  accountId: string;
  /** Sent back in every form as `_csrf`; compared in constant time. */
  csrfToken: string;
  /** How they signed in: a provider id, or `dev`. */
  via: string;
  createdAt: string;
  expiresAt: string;
}

const ID_PATTERN = /^cs_[0-9a-f]{64}$/;

/**
 * Signs `email` in, to the account they last used if they are still in it,
 * else one they created, else a new one of their own: never to an account
 * they did not choose (an invitation waits for their answer). Returns the
 * cookie value (never stored) and the session.
 */
export async function startConsoleSession(
  kv: Deno.Kv,
  options: { email: string; via: string; ttlSeconds: number },
): Promise<{ id: string; session: ConsoleSession }> {
  const email = normalizeEmail(options.email);
  const accounts = await accountsOfMember(kv, email);
  const last = (await kv.get<string>(memberLastAccountKey(email))).value;
  const accountId = accounts.find((a) => a.id === last)?.id ??
    accounts.find((a) => isCreator(a, email))?.id ??
    (await createAccount(kv, { name: `${email.split("@")[0]}'s account`, members: [email] })).id;
  if (accountId !== last) await kv.set(memberLastAccountKey(email), accountId);
  const id = `cs_${randomHex(32)}`;
  const now = Date.now();
  const session: ConsoleSession = {
    email,
    accountId,
    csrfToken: randomHex(32),
    via: options.via,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + options.ttlSeconds * 1000).toISOString(),
  };
  await kv.set(consoleSessionKey(await sha256Hex(id)), session, {
    expireIn: options.ttlSeconds * 1000,
  });
  return { id, session };
}

/** The live session behind a cookie value, or null. */
export async function getConsoleSession(
  kv: Deno.Kv,
  id: string | null,
): Promise<ConsoleSession | null> {
  if (!id || !ID_PATTERN.test(id)) return null;
  const session = (await kv.get<ConsoleSession>(consoleSessionKey(await sha256Hex(id)))).value;
  if (!session || Date.parse(session.expiresAt) <= Date.now()) return null;
  return session;
}

/**
 * Makes `accountId` the account the session behind `id` shows, if its member
 * belongs to it (else the 404 another account's objects give). The session
 * keeps its expiry and CSRF token.
 */
export async function switchConsoleAccount(
  kv: Deno.Kv,
  id: string | null,
  accountId: string,
): Promise<ConsoleSession> {
  for (;;) {
    const key = consoleSessionKey(await sha256Hex(id && ID_PATTERN.test(id) ? id : ""));
    const entry = await kv.get<ConsoleSession>(key);
    const session = entry.value;
    if (!session || Date.parse(session.expiresAt) <= Date.now()) {
      throw new PassageError("sign_in_failed", "You are signed out; sign in again");
    }
    await accountForMember(kv, accountId, session.email);
    const next = { ...session, accountId };
    const expireIn = Math.max(1, Date.parse(session.expiresAt) - Date.now());
    const op = kv.atomic().check(entry).set(key, next, { expireIn })
      .set(memberLastAccountKey(session.email), accountId);
    if ((await op.commit()).ok) return next;
  }
}

/**
 * Ends the session behind a cookie value (nothing if there is none), and
 * every console stream opened with it.
 */
export async function deleteConsoleSession(kv: Deno.Kv, id: string | null): Promise<void> {
  if (!id || !ID_PATTERN.test(id)) return;
  const idHash = await sha256Hex(id);
  await kv.delete(consoleSessionKey(idHash));
  announceRevoked(consoleSessionCredential(idHash));
}

/**
 * What a console stream opened with the session behind `id`, on `accountId`,
 * is held to: the session itself and its member's place in the account.
 */
export async function consoleStreamCredentials(
  id: string | null,
  session: ConsoleSession,
  accountId: string,
): Promise<string[]> {
  const idHash = await sha256Hex(id && ID_PATTERN.test(id) ? id : "");
  return [consoleSessionCredential(idHash), memberCredential(accountId, session.email)];
}

/** Of console session credentials (by their id hashes), those signed out or expired. */
export async function revokedConsoleSessions(
  kv: Deno.Kv,
  credentials: Array<{ credential: string; idHash: string }>,
): Promise<Set<string>> {
  const revoked = new Set<string>();
  const now = Date.now();
  for (let i = 0; i < credentials.length; i += 10) {
    const batch = credentials.slice(i, i + 10);
    const entries = await kv.getMany<ConsoleSession[]>(
      batch.map((c) => consoleSessionKey(c.idHash)),
    );
    entries.forEach((entry, j) => {
      if (!entry.value || Date.parse(entry.value.expiresAt) <= now) {
        revoked.add(batch[j].credential);
      }
    });
  }
  return revoked;
}

/** Whether `token` is the session's CSRF token. */
export function checkCsrfToken(session: ConsoleSession, token: unknown): boolean {
  return typeof token === "string" && token.length === session.csrfToken.length &&
    timingSafeEqual(token, session.csrfToken);
}
