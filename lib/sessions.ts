/**
 * Sessions: a browser on the user's device, claimed with a code (`claims.ts`)
 * and driven by controllers through the relay. Links (Connect) run on a session too: creating
 * a link creates its session in the same commit, and the claim code opens it.
 */
import type {
  CreateSessionParams,
  LinkDevice,
  Session,
  SessionList,
} from "@passage/connect/schemas";
import {
  type DeviceClient,
  EXTENSION_DEVICE_NAME,
  REFERENCE_DEVICE_NAME,
  type SessionStatus,
} from "@passage/connect/protocol";
import type { ApiKeyInfo, Owner } from "./api_keys.ts";
import { formatClaimCode, newClaimCode, normalizeClaimCode } from "./claim_codes.ts";
import type { Config } from "./config.ts";
import { PassageError } from "./errors.ts";
import { newId } from "./ids.ts";
import {
  claimCodeKey,
  commandIdKey,
  commandIdPrefix,
  deviceAwayKey,
  devicePresenceKey,
  linkKey,
  liveSessionKey,
  liveSessionPrefix,
  pendingCommandKey,
  pendingCommandPrefix,
  presenceByInstanceKey,
  sessionActivityKey,
  sessionKey,
  sessionsByAccountKey,
  sessionsByAccountPrefix,
} from "./kv_keys.ts";
import { pageOf } from "./pagination.ts";
import { fixedClock, type Services, type SessionServices } from "./services.ts";
import type { LinkRecord } from "./lifecycle.ts";

/** A session as stored in KV. */
export interface SessionRecord {
  id: string;
  /** The account that owns the session (see `accounts.ts`). */
  accountId: string;
  /** The API key that created it (any key of the account, in its mode, may control it). */
  ownerKeyId: string;
  livemode: boolean;
  linkId: string | null;
  status: SessionStatus;
  device: "none" | "connected" | "disconnected";
  /** When `device` last changed (ISO 8601). */
  deviceChangedAt: string | null;
  /** Normalized claim code (no dash). */
  claimCode: string;
  idleTimeoutMs: number;
  maxDurationMs: number;
  metadata: Record<string, string>;
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
  claimedAt: string | null;
  endedAt: string | null;
  endReason: string | null;
  /** SHA-256 of the device token the claim issued, so ending the session revokes it. */
  deviceTokenHash?: string | null;
  /**
   * The origins the device may load (normalised `URL.origin`s): a link's
   * provider origins, or those a Sessions API session was created with. Null
   * or absent (records older than the field): any public origin.
   */
  allowedOrigins?: string[] | null;
  /** What the device holding the session declared in its hello (unverified). */
  deviceClient?: DeviceClient | null;
  /** The developer's app name for the claim page; null or absent: the server's default. */
  appName?: string | null;
}

/** A command sent to the device that has no result yet. */
export interface PendingCommand {
  id: string;
  name: string;
  seq: number;
  deadline: number;
}

/** Which device connection holds a session. */
export interface DevicePresence {
  connectionId: string;
  connectedAt: string;
  /**
   * The relay instance holding the socket: the device is present while that
   * instance's heartbeat lasts (`relay/presence.ts`). Absent on older records.
   */
  instanceId?: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The URL a user opens to claim a session or link on their device. */
export function claimUrl(publicUrl: string, code: string): string {
  return `${publicUrl}/c/${formatClaimCode(code)}`;
}

/** The public view of a stored session. */
export function toSession(record: SessionRecord, publicUrl: string): Session {
  const pending = record.status === "pending";
  return {
    id: record.id,
    object: "session",
    status: record.status,
    device: record.device,
    linkId: record.linkId,
    claimCode: pending ? formatClaimCode(record.claimCode) : null,
    appClipUrl: pending ? claimUrl(publicUrl, record.claimCode) : null,
    idleTimeout: Math.round(record.idleTimeoutMs / 1000),
    maxDuration: Math.round(record.maxDurationMs / 1000),
    metadata: record.metadata,
    expiresAt: record.expiresAt,
    createdAt: record.createdAt,
    claimedAt: record.claimedAt,
    endedAt: record.endedAt,
    endReason: record.endReason,
    livemode: record.livemode,
    allowedOrigins: record.allowedOrigins ?? null,
    appName: record.appName ?? null,
  };
}

/** A new pending session record (not yet stored). */
export function newSessionRecord(
  owner: ApiKeyInfo,
  params: CreateSessionParams,
  config: Pick<
    Config,
    "linkTtlSeconds" | "sessionIdleTimeoutSeconds" | "sessionMaxDurationSeconds"
  >,
  extra: {
    linkId: string | null;
    claimCode: string;
    now: Date;
    /** A link's provider origins; else `params.allowedOrigins`. */
    allowedOrigins?: readonly string[] | null;
  },
): SessionRecord {
  const ttlMs = (params.expiresIn ?? config.linkTtlSeconds) * 1000;
  const origins = extra.allowedOrigins ?? params.allowedOrigins ?? null;
  return {
    id: newId("sess"),
    accountId: owner.accountId,
    ownerKeyId: owner.id,
    livemode: owner.mode === "live",
    linkId: extra.linkId,
    status: "pending",
    device: "none",
    deviceChangedAt: null,
    claimCode: extra.claimCode,
    idleTimeoutMs: (params.idleTimeout ?? config.sessionIdleTimeoutSeconds) * 1000,
    maxDurationMs: (params.maxDuration ?? config.sessionMaxDurationSeconds) * 1000,
    metadata: params.metadata ?? {},
    expiresAt: new Date(extra.now.getTime() + ttlMs).toISOString(),
    createdAt: extra.now.toISOString(),
    updatedAt: extra.now.toISOString(),
    claimedAt: null,
    endedAt: null,
    endReason: null,
    allowedOrigins: origins === null ? null : [...new Set(origins.map((o) => new URL(o).origin))],
    appName: params.appName ?? null,
  };
}

/** What a link shows of the device that declared `client` in its hello. */
export function describeDevice(client: DeviceClient | null | undefined): LinkDevice {
  return {
    kind: client?.name === REFERENCE_DEVICE_NAME
      ? "reference"
      : client?.name === EXTENSION_DEVICE_NAME
      ? "extension"
      : "unknown",
    attestation: "none",
    client: client ? { name: client.name, version: client.version } : null,
  };
}

/**
 * Records what the device now holding `sessionId` declared in its hello
 * (`client`, optional and unverified): on the session, and on its link (as
 * `device`, which the link's webhook and `GET /v1/links/{id}` show). Call it
 * when a device's hello is accepted, before its welcome: a connection without
 * `client` records `kind: "unknown"`, replacing what an earlier device said.
 */
export async function recordDeviceClient(
  kv: Deno.Kv,
  sessionId: string,
  client: DeviceClient | undefined,
): Promise<void> {
  const declared = client ? { name: client.name, version: client.version } : null;
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await kv.get<SessionRecord>(sessionKey(sessionId));
    if (!entry.value) return;
    // a reconnect says the same again: nothing to write
    if (JSON.stringify(entry.value.deviceClient ?? null) === JSON.stringify(declared)) return;
    const op = kv.atomic().check(entry).set(entry.key, { ...entry.value, deviceClient: declared });
    if (entry.value.linkId) {
      const link = await kv.get<LinkRecord>(linkKey(entry.value.linkId));
      if (link.value) {
        op.check(link).set(link.key, { ...link.value, device: describeDevice(declared) });
      }
    }
    if ((await op.commit()).ok) return;
  }
  throw new PassageError("write_conflict", `Could not record the device of session ${sessionId}`);
}

/** Adds the writes that store a new session and its indexes to `op`. */
export function writeNewSession(op: Deno.AtomicOperation, record: SessionRecord): void {
  const ttlMs = Date.parse(record.expiresAt) - Date.parse(record.createdAt);
  op.check({ key: sessionKey(record.id), versionstamp: null })
    .check({ key: claimCodeKey(record.claimCode), versionstamp: null })
    .set(sessionKey(record.id), record)
    .set(
      sessionsByAccountKey(record.accountId, record.livemode ? "live" : "test", record.id),
      record.id,
    )
    .set(liveSessionKey(record.id), record.id)
    // The code index outlives the claim deadline by a day, so a late or
    // repeated claim is told "expired" or "used" instead of "not found".
    .set(claimCodeKey(record.claimCode), record.id, { expireIn: ttlMs + DAY_MS });
}

/** Creates a Sessions API session with a fresh claim code. */
export async function createSession(
  svc: Pick<Services, "kv" | "config" | "clock">,
  owner: ApiKeyInfo,
  params: CreateSessionParams,
): Promise<Session> {
  const { kv, config } = svc;
  for (let attempt = 0; attempt < 5; attempt++) {
    const record = newSessionRecord(owner, params, config, {
      linkId: null,
      claimCode: normalizeClaimCode(newClaimCode())!,
      now: new Date(svc.clock.now()),
    });
    const op = kv.atomic();
    writeNewSession(op, record);
    if ((await op.commit()).ok) return toSession(record, config.publicUrl);
  }
  throw new PassageError("write_conflict", "Could not create the session; try again");
}

/** Reads a session owned by `owner`; another account's session answers like a missing one. */
export async function readOwnedSession(
  kv: Deno.Kv,
  owner: Owner,
  sessionId: string,
): Promise<SessionRecord> {
  const record = (await kv.get<SessionRecord>(sessionKey(sessionId))).value;
  if (
    !record || record.accountId !== owner.accountId ||
    record.livemode !== (owner.mode === "live")
  ) {
    throw new PassageError("session_not_found", `No session with id "${sessionId}"`, {
      param: "id",
    });
  }
  return record;
}

/** One page of `owner`'s sessions, newest first. */
export async function listSessions(
  svc: Pick<Services, "kv" | "config">,
  owner: Owner,
  query: { limit?: number; cursor?: string },
): Promise<SessionList> {
  const page = await pageOf<SessionRecord>(
    svc.kv,
    sessionsByAccountPrefix(owner.accountId, owner.mode),
    "sess",
    query,
    sessionKey,
  );
  return {
    object: "list",
    data: page.records.map((record) => toSession(record, svc.config.publicUrl)),
    hasMore: page.hasMore,
    nextCursor: page.nextCursor,
  };
}

/**
 * Ends a session. First its status, in one commit (from then on no command
 * can be queued); then every pending command fails with `session_ended`, the
 * device is told to stop, and last the `session` event controllers see is
 * written together with the removal from the live index. If the process dies
 * part way, the sweep finds the ended session still in the live index and
 * finishes. Ending an ended session does nothing. Returns the record.
 */
export async function endSession(
  svc: SessionServices,
  sessionId: string,
  reason: string,
): Promise<SessionRecord | null> {
  const { kv } = svc;
  for (;;) {
    const entry = await kv.get<SessionRecord>(sessionKey(sessionId));
    if (!entry.value) return null;
    if (entry.value.status === "ended") {
      await finishEnding(svc, entry.value);
      return entry.value;
    }
    const now = new Date(svc.clock.now()).toISOString();
    const next: SessionRecord = {
      ...entry.value,
      status: "ended",
      endedAt: now,
      updatedAt: now,
      endReason: reason,
    };
    if ((await kv.atomic().check(entry).set(entry.key, next).commit()).ok) {
      await finishEnding(svc, next);
      return next;
    }
  }
}

async function finishEnding(svc: SessionServices, record: SessionRecord): Promise<void> {
  const { kv, sessionLog: log } = svc;
  const live = await kv.get(liveSessionKey(record.id));
  if (!live.versionstamp) return;
  const reason = record.endReason ?? "ended";
  await failPendingCommands(svc, record.id, () => true, {
    code: "session_ended",
    message: `the session ended (${reason}) before the command finished`,
  });
  await log.append(record.id, "cmd", { type: "end", reason });
  // What an ended session no longer needs goes now, not at its retention:
  // its presence, the commands and their results. The device token stays
  // until its own expiry and opens nothing but the answer `end`
  // (`relay/relay.ts`), so a device coming back is told the session is over.
  const presence = await kv.get<DevicePresence>(devicePresenceKey(record.id));
  if (presence.value?.instanceId) {
    await kv.delete(presenceByInstanceKey(presence.value.instanceId, record.id));
  }
  await kv.delete(devicePresenceKey(record.id));
  await kv.delete(deviceAwayKey(record.id));
  await kv.delete(sessionActivityKey(record.id));
  for await (const { key } of kv.list({ prefix: commandIdPrefix(record.id) })) await kv.delete(key);
  await log.purgeAfterEnd(record.id);
  await log.append(
    record.id,
    "evt",
    { type: "session", status: "ended", device: "none", reason },
    async () => {
      const still = await kv.get(liveSessionKey(record.id));
      return still.versionstamp ? (op) => op.check(still).delete(still.key) : null;
    },
  );
}

/** Appends an error result for every pending command that `select` picks, once each. */
export async function failPendingCommands(
  svc: Pick<SessionServices, "kv" | "sessionLog">,
  sessionId: string,
  select: (p: PendingCommand) => boolean,
  error: { code: "session_ended" | "timeout" | "device_lost"; message: string },
): Promise<number> {
  const { kv, sessionLog: log } = svc;
  let count = 0;
  for await (
    const { value } of kv.list<PendingCommand>({ prefix: pendingCommandPrefix(sessionId) })
  ) {
    if (!select(value)) continue;
    const seq = await log.append(
      sessionId,
      "evt",
      {
        type: "result",
        id: value.id,
        ok: false,
        error: { code: error.code, message: `${value.name}: ${error.message}` },
      },
      async () => {
        const entry = await kv.get(pendingCommandKey(sessionId, value.id));
        return entry.value ? (op) => op.check(entry).delete(entry.key) : null;
      },
    );
    if (seq !== null) count++;
  }
  return count;
}

/**
 * Ends sessions whose time is up: unclaimed past their claim deadline
 * (`expired`), idle too long (`idle_timeout`), over their maximum length
 * (`max_duration`), or without their device beyond the grace period
 * (`device_lost`). Also fails commands past their deadline. Returns how many
 * sessions it ended.
 */
export async function sweepSession(
  svc: SessionServices & Pick<Services, "config">,
  record: SessionRecord,
): Promise<boolean> {
  const now = svc.clock.now();
  const reason = await dueEndReason(svc.kv, record, svc.config, now);
  if (reason) {
    await endSession(svc, record.id, reason);
    return true;
  }
  await failPendingCommands(svc, record.id, (p) => p.deadline <= now, {
    code: "timeout",
    message: "the device did not answer before the command's timeout",
  });
  return false;
}

async function dueEndReason(
  kv: Deno.Kv,
  record: SessionRecord,
  config: Pick<Config, "deviceGraceSeconds">,
  now: number,
): Promise<string | null> {
  if (record.status === "ended") return null;
  if (record.status === "pending") return Date.parse(record.expiresAt) <= now ? "expired" : null;
  if (Date.parse(record.claimedAt!) + record.maxDurationMs <= now) return "max_duration";
  const activity = (await kv.get<number>(sessionActivityKey(record.id))).value ??
    Date.parse(record.claimedAt!);
  if (activity + record.idleTimeoutMs <= now) return "idle_timeout";
  if (
    record.device === "disconnected" &&
    Date.parse(record.deviceChangedAt!) + config.deviceGraceSeconds * 1000 <= now
  ) return "device_lost";
  return null;
}

/** Sweeps every live session. Returns how many it ended. */
export async function sweepSessions(
  svc: SessionServices & Pick<Services, "config">,
): Promise<number> {
  const { kv } = svc;
  // One time for the whole sweep.
  const at = { ...svc, clock: fixedClock(svc.clock.now()) };
  let ended = 0;
  for await (const { value: id } of kv.list<string>({ prefix: liveSessionPrefix() })) {
    const record = (await kv.get<SessionRecord>(sessionKey(id))).value;
    if (!record) {
      await kv.delete(liveSessionKey(id));
      continue;
    }
    if (record.status === "ended") {
      await finishEnding(svc, record);
      continue;
    }
    if (await sweepSession(at, record)) ended++;
  }
  return ended;
}

/**
 * Records that a device connection now holds the session (the newest wins) and
 * tells controllers, in one commit. Returns false if the session has ended.
 */
export async function deviceConnected(
  svc: SessionServices,
  sessionId: string,
  connectionId: string,
  instanceId?: string,
): Promise<boolean> {
  const { kv, sessionLog: log } = svc;
  let ok = false;
  await log.append(
    sessionId,
    "evt",
    { type: "session", status: "active", device: "connected" },
    async () => {
      const [entry, old] = await kv.getMany<[SessionRecord, DevicePresence]>([
        sessionKey(sessionId),
        devicePresenceKey(sessionId),
      ]);
      if (!entry.value || entry.value.status !== "active") return null;
      ok = true;
      const now = new Date(svc.clock.now()).toISOString();
      const next: SessionRecord = {
        ...entry.value,
        device: "connected",
        deviceChangedAt: now,
        updatedAt: now,
      };
      const presence: DevicePresence = { connectionId, connectedAt: now, instanceId };
      return (op) => {
        op.check(entry, old).set(entry.key, next).set(old.key, presence)
          .delete(deviceAwayKey(sessionId));
        if (old.value?.instanceId && old.value.instanceId !== instanceId) {
          op.delete(presenceByInstanceKey(old.value.instanceId, sessionId));
        }
        if (instanceId) op.set(presenceByInstanceKey(instanceId, sessionId), connectionId);
      };
    },
  );
  return ok;
}

/**
 * Records that a device connection went away, if it still held the session;
 * `at` is when (a dead instance's device: its last heartbeat). The session is
 * indexed as having its device away, for the frequent `device_lost` check.
 */
export async function deviceDisconnected(
  svc: SessionServices,
  sessionId: string,
  connectionId: string,
  at: Date = new Date(svc.clock.now()),
): Promise<void> {
  const { kv, sessionLog: log } = svc;
  await log.append(
    sessionId,
    "evt",
    { type: "session", status: "active", device: "disconnected" },
    async () => {
      const [entry, presence] = await kv.getMany<[SessionRecord, DevicePresence]>([
        sessionKey(sessionId),
        devicePresenceKey(sessionId),
      ]);
      if (!entry.value || entry.value.status !== "active") return null;
      if (presence.value?.connectionId !== connectionId) return null;
      const now = at.toISOString();
      const next: SessionRecord = {
        ...entry.value,
        device: "disconnected",
        deviceChangedAt: now,
        updatedAt: new Date(svc.clock.now()).toISOString(),
      };
      return (op) => {
        op.check(entry, presence).set(entry.key, next).delete(presence.key)
          .set(deviceAwayKey(sessionId), at.getTime());
        if (presence.value?.instanceId) {
          op.delete(presenceByInstanceKey(presence.value.instanceId, sessionId));
        }
      };
    },
  );
}

/** Whether `connectionId` still holds the session's device slot. */
export async function holdsDevice(
  kv: Deno.Kv,
  sessionId: string,
  connectionId: string,
): Promise<boolean> {
  const presence = await kv.get<DevicePresence>(devicePresenceKey(sessionId));
  return presence.value?.connectionId === connectionId;
}

/**
 * What this isolate last saw of sessions and committed of pending commands,
 * per KV handle: hints a commit checks, never trusted unchecked. A session's
 * record changes only by commits, so a stale one fails its check and is read
 * again; a pending command is remembered as committed, for its result.
 */
interface Hints {
  sessions: Map<string, Deno.KvEntry<SessionRecord>>;
  pending: Map<string, Deno.KvEntry<PendingCommand>>;
}
const hintsByKv = new WeakMap<Deno.Kv, Hints>();
/** Hints held per handle, at most, of each kind (when full, all are forgotten). */
const HINT_LIMIT = 50_000;

function hintsOf(kv: Deno.Kv): Hints {
  let hints = hintsByKv.get(kv);
  if (!hints) hintsByKv.set(kv, hints = { sessions: new Map(), pending: new Map() });
  return hints;
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= HINT_LIMIT && !map.has(key)) map.clear();
  map.set(key, value);
}

/**
 * The pending command `commandId` as this isolate committed it (key, value and
 * versionstamp), once: what a result checks and deletes without reading it
 * first. Null when it was queued elsewhere or already taken.
 */
export function takeQueuedCommand(
  kv: Deno.Kv,
  sessionId: string,
  commandId: string,
): Deno.KvEntry<PendingCommand> | null {
  const pending = hintsByKv.get(kv)?.pending;
  const key = `${sessionId}/${commandId}`;
  const entry = pending?.get(key) ?? null;
  pending?.delete(key);
  return entry;
}

/**
 * Queues a controller's command for the device. A command id already seen is
 * not queued again (returns false). Counts as session activity.
 *
 * The first attempt reads nothing: the commit checks that the command id is
 * new (`versionstamp: null`) and that the session's record is still the one
 * this isolate last saw active (read once per session). A commit that finds
 * either moved reads both and tries again.
 */
export async function enqueueCommand(
  svc: SessionServices & Pick<Services, "config">,
  sessionId: string,
  command: { id: string; name: string; params: unknown; timeoutMs: number },
): Promise<boolean> {
  const { kv, sessionLog: log } = svc;
  // Commands and their ids are kept as long as the telemetry.
  const retentionMs = svc.config.telemetryRetentionSeconds * 1000;
  const hints = hintsOf(kv);
  const deadline = svc.clock.now() + command.timeoutMs;
  let pending: PendingCommand | null = null;
  let attempts = 0;
  const appended = await log.appendEntry(
    sessionId,
    "cmd",
    {
      type: "command",
      id: command.id,
      name: command.name as never,
      params: command.params,
      deadline,
    },
    async () => {
      const known = attempts++ === 0 ? hints.sessions.get(sessionId) : undefined;
      let seen: Deno.KvEntryMaybe<number>;
      let session: Deno.KvEntryMaybe<SessionRecord>;
      if (known) {
        seen = { key: commandIdKey(sessionId, command.id), value: null, versionstamp: null };
        session = known;
      } else {
        [seen, session] = await kv.getMany<[number, SessionRecord]>([
          commandIdKey(sessionId, command.id),
          sessionKey(sessionId),
        ]);
        if (session.versionstamp) {
          remember(hints.sessions, sessionId, session as Deno.KvEntry<SessionRecord>);
        } else hints.sessions.delete(sessionId);
      }
      if (
        seen.versionstamp ||
        session.value?.status !== "active" && session.value?.status !== "pending"
      ) {
        return null;
      }
      return (op, seq) => {
        pending = { id: command.id, name: command.name, seq, deadline };
        op.check(seen, session)
          .set(seen.key, seq, { expireIn: retentionMs })
          .set(pendingCommandKey(sessionId, command.id), pending, { expireIn: retentionMs })
          .set(sessionActivityKey(sessionId), svc.clock.now());
      };
    },
  );
  if (!appended || !pending) return false;
  remember(hints.pending, `${sessionId}/${command.id}`, {
    key: pendingCommandKey(sessionId, command.id),
    value: pending,
    versionstamp: appended.versionstamp,
  });
  return true;
}
