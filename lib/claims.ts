/**
 * Claims: a device exchanges a claim code for a device token, which opens its
 * session (and moves a Connect link to `claimed`, through the lifecycle's
 * door); failed claims are limited per client; device tokens are checked
 * here. One atomic commit decides a race between devices claiming one code.
 *
 * @module
 */
import { normalizeClaimCode } from "./claim_codes.ts";
import { PassageError } from "./errors.ts";
import { randomHex, sha256Hex } from "./ids.ts";
import {
  claimAttemptsKey,
  claimCodeKey,
  deviceTokenKey,
  linkKey,
  sessionActivityKey,
  sessionKey,
} from "./kv_keys.ts";
import { type LinkRecord, logTransition, stageTransition } from "./lifecycle.ts";
import type { Services } from "./services.ts";
import type { SessionRecord } from "./sessions.ts";

/** A device token as stored (by the hash of its secret). */
export interface DeviceTokenRecord {
  sessionId: string;
  expiresAt: string;
}

/** Counts a failed claim from `client`, refusing once the window's limit is reached. */
async function limitClaimAttempts(
  svc: Pick<Services, "kv" | "config" | "clock">,
  client: string,
  record: boolean,
): Promise<void> {
  const { kv, config, clock } = svc;
  const windowMs = config.claimAttemptWindowSeconds * 1000;
  const window = Math.floor(clock.now() / windowMs);
  const key = claimAttemptsKey(client, window);
  for (;;) {
    const entry = await kv.get<number>(key);
    const count = entry.value ?? 0;
    if (count >= config.claimAttemptsPerWindow) {
      const retryAfter = Math.ceil(((window + 1) * windowMs - clock.now()) / 1000);
      throw new PassageError("too_many_attempts", "Too many failed claim attempts; try later", {
        headers: { "Retry-After": String(Math.max(1, retryAfter)) },
      });
    }
    if (!record) return;
    const res = await kv.atomic().check(entry).set(key, count + 1, { expireIn: windowMs })
      .commit();
    if (res.ok) return;
  }
}

/** The session (and link, for Connect) a claim code opens, without claiming it. */
export async function findByClaimCode(
  kv: Deno.Kv,
  input: string,
): Promise<{ session: SessionRecord; link: LinkRecord | null } | null> {
  const code = normalizeClaimCode(input);
  const sessionId = code ? (await kv.get<string>(claimCodeKey(code))).value : null;
  const session = sessionId ? (await kv.get<SessionRecord>(sessionKey(sessionId))).value : null;
  if (!session) return null;
  const link = session.linkId ? (await kv.get<LinkRecord>(linkKey(session.linkId))).value : null;
  return { session, link };
}

/**
 * Exchanges a claim code for a device token: the session becomes `active` (and
 * its link, if any, `claimed`). One atomic commit checked against the versions
 * read decides a race: of many devices claiming one code, exactly one wins.
 */
export async function claimSession(
  svc: Pick<Services, "kv" | "config" | "jobs" | "clock" | "log">,
  input: string,
  client: string,
): Promise<
  { deviceToken: string; expiresAt: string; session: SessionRecord; link: LinkRecord | null }
> {
  const { kv, config, jobs } = svc;
  await limitClaimAttempts(svc, client, false);
  const code = normalizeClaimCode(input);
  const sessionId = code ? (await kv.get<string>(claimCodeKey(code))).value : null;
  const sessionEntry = sessionId ? await kv.get<SessionRecord>(sessionKey(sessionId)) : null;
  const session = sessionEntry?.value;
  if (!session) {
    await limitClaimAttempts(svc, client, true);
    throw new PassageError("claim_code_not_found", "That claim code does not exist", {
      param: "claimCode",
    });
  }
  const linkEntry = session.linkId ? await kv.get<LinkRecord>(linkKey(session.linkId)) : null;
  const link = linkEntry?.value ?? null;
  const now = new Date(svc.clock.now());
  const expired = link?.status === "expired" || session.endReason === "expired" ||
    (session.status === "pending" && Date.parse(session.expiresAt) <= now.getTime()) ||
    (link?.status === "pending" && Date.parse(link.expiresAt) <= now.getTime());
  if (expired) {
    throw new PassageError("claim_code_expired", "That claim code has expired", {
      param: "claimCode",
    });
  }
  if (session.status !== "pending" || (link && link.status !== "pending")) {
    throw new PassageError("claim_code_used", "That claim code was already used", {
      param: "claimCode",
    });
  }
  const token = `dt_${randomHex(32)}`;
  const tokenHash = await sha256Hex(token);
  const ttlMs = config.deviceTokenTtlSeconds * 1000;
  const tokenRecord: DeviceTokenRecord = {
    sessionId: session.id,
    expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
  };
  const nextSession: SessionRecord = {
    ...session,
    deviceTokenHash: tokenHash,
    status: "active",
    claimedAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  const op = kv.atomic()
    .check(sessionEntry!)
    .set(sessionKey(session.id), nextSession)
    .set(sessionActivityKey(session.id), now.getTime())
    .set(deviceTokenKey(tokenHash), tokenRecord, { expireIn: ttlMs });
  // The link, through the lifecycle's door in the same commit: it now waits
  // for the engine (indexed for the sweep, and woken by a job where queues exist).
  const nextLink = link && linkEntry
    ? stageTransition(svc, op, linkEntry as Deno.KvEntry<LinkRecord>, "claimed", { jobs })
    : null;
  if (!(await op.commit()).ok) {
    throw new PassageError("claim_code_used", "That claim code was already used", {
      param: "claimCode",
    });
  }
  if (link && nextLink) logTransition(svc, link, nextLink);
  return {
    deviceToken: token,
    expiresAt: tokenRecord.expiresAt,
    session: nextSession,
    link: nextLink,
  };
}

/** The session a device token was issued for, or null when the token is not valid. */
export async function authenticateDevice(
  svc: Pick<Services, "kv" | "clock">,
  token: string,
): Promise<SessionRecord | null> {
  const { kv } = svc;
  if (!/^dt_[0-9a-f]{64}$/.test(token)) return null;
  const entry = await kv.get<DeviceTokenRecord>(deviceTokenKey(await sha256Hex(token)));
  // expireIn is only a lower bound on deletion: the stored time decides.
  if (!entry.value || Date.parse(entry.value.expiresAt) <= svc.clock.now()) return null;
  return (await kv.get<SessionRecord>(sessionKey(entry.value.sessionId))).value;
}
