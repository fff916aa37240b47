/**
 * Links: the domain logic behind `/v1/links` and the device claim. Routes,
 * automations and tests all call these functions; nothing here knows HTTP.
 */
import type { CreateLinkParams, Link, LinkList, LinkStatus } from "@passage/connect/schemas";
import { getProvider } from "../automations/registry.ts";
import type { ApiKeyInfo } from "./api_keys.ts";
import { formatClaimCode, newClaimCode, normalizeClaimCode } from "./claim_codes.ts";
import { PassageError } from "./errors.ts";
import { newId, randomHex, sha256Hex } from "./ids.ts";
import {
  claimAttemptsKey,
  claimCodeKey,
  deviceTokenKey,
  idempotencyKey,
  linkKey,
  linksByExpiryKey,
  linksByExpiryPrefix,
  linksByOwnerKey,
  linksByOwnerPrefix,
} from "./kv_keys.ts";

/** A link as stored in KV. */
export interface LinkRecord {
  id: string;
  ownerKeyId: string;
  livemode: boolean;
  provider: string;
  operations: Array<{ type: Link["operations"][number]["type"] }>;
  webhookUrl: string | null;
  metadata: Record<string, string>;
  status: LinkStatus;
  /** Normalized claim code (no dash). */
  claimCode: string;
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
  claimedAt: string | null;
}

/** A device token as stored (by the hash of its secret). */
export interface DeviceTokenRecord {
  linkId: string;
  expiresAt: string;
}

/** What the link functions need from the configuration. */
export interface LinkSettings {
  publicUrl: string;
  linkTtlSeconds: number;
  deviceTokenTtlSeconds: number;
  claimAttemptsPerWindow: number;
  claimAttemptWindowSeconds: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Allowed moves; anything else is a 409. */
const NEXT: Record<LinkStatus, readonly LinkStatus[]> = {
  pending: ["claimed", "expired", "cancelled"],
  claimed: ["running", "failed", "expired", "cancelled"],
  running: ["complete", "failed", "cancelled"],
  complete: [],
  failed: [],
  expired: [],
  cancelled: [],
};

/** Whether a link may move from `from` to `to`. */
export function canTransition(from: LinkStatus, to: LinkStatus): boolean {
  return NEXT[from].includes(to);
}

/** The URL a user opens to claim a link on their device. */
export function claimUrl(publicUrl: string, code: string): string {
  return `${publicUrl}/c/${formatClaimCode(code)}`;
}

/** The public view of a stored link. */
export function toLink(record: LinkRecord, publicUrl: string): Link {
  const pending = record.status === "pending";
  return {
    id: record.id,
    object: "link",
    status: record.status,
    provider: record.provider,
    operations: record.operations,
    webhookUrl: record.webhookUrl,
    metadata: record.metadata,
    claimCode: pending ? formatClaimCode(record.claimCode) : null,
    appClipUrl: pending ? claimUrl(publicUrl, record.claimCode) : null,
    expiresAt: record.expiresAt,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    claimedAt: record.claimedAt,
    livemode: record.livemode,
  };
}

function isDue(record: LinkRecord, now: number): boolean {
  return record.status === "pending" && Date.parse(record.expiresAt) <= now;
}

/** Stable JSON of a parsed body, keys sorted, for comparing repeated requests. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${
      entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(
        ",",
      )
    }}`;
  }
  return JSON.stringify(value);
}

interface IdempotencyRecord {
  requestHash: string;
  linkId: string;
  response: Link;
  createdAt: string;
}

/** An `Idempotency-Key` and the hash of the request it came with. */
export interface Idempotency {
  key: string;
  requestHash: string;
}

async function replay(
  kv: Deno.Kv,
  owner: ApiKeyInfo,
  idem: Idempotency,
): Promise<{ entry: Deno.KvEntryMaybe<IdempotencyRecord>; link: Link | null }> {
  const entry = await kv.get<IdempotencyRecord>(
    idempotencyKey(owner.id, "create_link", idem.key),
  );
  const stored = entry.value;
  if (!stored || Date.parse(stored.createdAt) + DAY_MS <= Date.now()) {
    return { entry, link: null };
  }
  if (stored.requestHash !== idem.requestHash) {
    throw new PassageError(
      "idempotency_key_reused",
      `Idempotency-Key "${idem.key}" was already used with a different request body`,
    );
  }
  return { entry, link: stored.response };
}

/**
 * Creates a pending link with a fresh claim code. With `idempotency`, a repeat
 * of the same request within 24 hours returns the first answer (`replayed`).
 */
export async function createLink(
  kv: Deno.Kv,
  owner: ApiKeyInfo,
  params: CreateLinkParams,
  settings: LinkSettings,
  idempotency?: Idempotency,
): Promise<{ link: Link; replayed: boolean }> {
  const provider = getProvider(params.provider);
  if (!provider) {
    throw new PassageError(
      "unsupported_provider",
      `Unknown provider "${params.provider}"`,
      {
        param: "provider",
      },
    );
  }
  params.operations.forEach((op, i) => {
    if (!provider.operations.includes(op.type)) {
      throw new PassageError(
        "unsupported_operation",
        `Provider "${provider.id}" does not support operation "${op.type}"`,
        { param: `operations.${i}.type` },
      );
    }
  });

  for (let attempt = 0; attempt < 5; attempt++) {
    const prior = idempotency ? await replay(kv, owner, idempotency) : null;
    if (prior?.link) return { link: prior.link, replayed: true };

    const now = new Date();
    const ttlMs = (params.expiresIn ?? settings.linkTtlSeconds) * 1000;
    const expiresAt = new Date(now.getTime() + ttlMs);
    const record: LinkRecord = {
      id: newId("link"),
      ownerKeyId: owner.id,
      livemode: owner.mode === "live",
      provider: provider.id,
      operations: params.operations.map((op) => ({ type: op.type })),
      webhookUrl: params.webhookUrl ?? null,
      metadata: params.metadata ?? {},
      status: "pending",
      claimCode: normalizeClaimCode(newClaimCode())!,
      expiresAt: expiresAt.toISOString(),
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      claimedAt: null,
    };
    const link = toLink(record, settings.publicUrl);
    const op = kv.atomic()
      .check({ key: linkKey(record.id), versionstamp: null })
      .check({ key: claimCodeKey(record.claimCode), versionstamp: null })
      .set(linkKey(record.id), record)
      .set(linksByOwnerKey(owner.id, record.id), record.id)
      .set(linksByExpiryKey(expiresAt.getTime(), record.id), record.id)
      // The code index outlives the link's expiry by a day, so a late or
      // repeated claim is told "expired" or "used" instead of "not found".
      .set(claimCodeKey(record.claimCode), record.id, {
        expireIn: ttlMs + DAY_MS,
      });
    if (idempotency && prior) {
      const stored: IdempotencyRecord = {
        requestHash: idempotency.requestHash,
        linkId: record.id,
        response: link,
        createdAt: now.toISOString(),
      };
      op.check(prior.entry).set(prior.entry.key, stored, { expireIn: DAY_MS });
    }
    if ((await op.commit()).ok) return { link, replayed: false };
    // A concurrent request with the same Idempotency-Key won, or (vanishingly
    // rarely) the claim code collided: read again and retry.
  }
  throw new PassageError(
    "write_conflict",
    "Could not create the link; try again",
  );
}

async function readOwned(kv: Deno.Kv, owner: ApiKeyInfo, linkId: string) {
  const entry = await kv.get<LinkRecord>(linkKey(linkId));
  // Another key's link answers exactly as a missing one.
  if (!entry.value || entry.value.ownerKeyId !== owner.id) {
    throw new PassageError("link_not_found", `No link with id "${linkId}"`, {
      param: "id",
    });
  }
  return entry as Deno.KvEntry<LinkRecord>;
}

/**
 * Moves a link to `to` if the move is allowed, applying `patch`, in one atomic
 * commit checked against the version read. Returns the stored record.
 */
export async function transitionLink(
  kv: Deno.Kv,
  linkId: string,
  to: LinkStatus,
  options: {
    patch?: Partial<LinkRecord>;
    extra?: (op: Deno.AtomicOperation) => void;
  } = {},
): Promise<LinkRecord> {
  for (;;) {
    const entry = await kv.get<LinkRecord>(linkKey(linkId));
    const current = entry.value;
    if (!current) {
      throw new PassageError("link_not_found", `No link with id "${linkId}"`);
    }
    if (!canTransition(current.status, to)) {
      throw new PassageError(
        "invalid_status_transition",
        `Link ${linkId} is ${current.status} and cannot become ${to}`,
      );
    }
    const next: LinkRecord = {
      ...current,
      ...options.patch,
      status: to,
      updatedAt: new Date().toISOString(),
    };
    const op = kv.atomic().check(entry).set(entry.key, next);
    if (current.status === "pending") {
      op.delete(linksByExpiryKey(Date.parse(current.expiresAt), current.id));
    }
    options.extra?.(op);
    if ((await op.commit()).ok) return next;
  }
}

/** Marks a pending link expired if its stored expiry has passed. */
async function settleExpiry(
  kv: Deno.Kv,
  record: LinkRecord,
): Promise<LinkRecord> {
  if (!isDue(record, Date.now())) return record;
  try {
    return await transitionLink(kv, record.id, "expired");
  } catch (err) {
    // Someone else moved it first (claimed just in time, or cancelled): reread.
    if (
      err instanceof PassageError && err.code === "invalid_status_transition"
    ) {
      return (await kv.get<LinkRecord>(linkKey(record.id))).value!;
    }
    throw err;
  }
}

/** A link of `owner`'s, with its expiry applied. */
export async function getLink(
  kv: Deno.Kv,
  owner: ApiKeyInfo,
  linkId: string,
  settings: Pick<LinkSettings, "publicUrl">,
): Promise<Link> {
  const entry = await readOwned(kv, owner, linkId);
  return toLink(await settleExpiry(kv, entry.value), settings.publicUrl);
}

function encodeCursor(linkId: string): string {
  return btoa(linkId).replace(/=+$/, "").replace(/\+/g, "-").replace(
    /\//g,
    "_",
  );
}

function decodeCursor(cursor: string): string {
  try {
    const id = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    if (/^link_[0-9A-Z]{26}$/.test(id)) return id;
  } catch { /* fall through */ }
  throw new PassageError(
    "invalid_cursor",
    "cursor is not one this API handed out",
    {
      param: "cursor",
    },
  );
}

/** One page of `owner`'s links, newest first. */
export async function listLinks(
  kv: Deno.Kv,
  owner: ApiKeyInfo,
  query: { limit?: number; cursor?: string },
  settings: Pick<LinkSettings, "publicUrl">,
): Promise<LinkList> {
  const limit = query.limit ?? 20;
  const prefix = linksByOwnerPrefix(owner.id);
  const selector: Deno.KvListSelector = query.cursor
    ? { prefix, end: linksByOwnerKey(owner.id, decodeCursor(query.cursor)) }
    : { prefix };
  const ids: string[] = [];
  for await (
    const entry of kv.list<string>(selector, {
      reverse: true,
      limit: limit + 1,
    })
  ) {
    ids.push(entry.value);
  }
  const page = ids.slice(0, limit);
  const records = page.length ? await kv.getMany<LinkRecord[]>(page.map((id) => linkKey(id))) : [];
  const data: Link[] = [];
  for (const entry of records) {
    if (entry.value) {
      data.push(
        toLink(await settleExpiry(kv, entry.value), settings.publicUrl),
      );
    }
  }
  const hasMore = ids.length > limit;
  return {
    object: "list",
    data,
    hasMore,
    nextCursor: hasMore ? encodeCursor(page[page.length - 1]) : null,
  };
}

/** Cancels a link that has not finished. Cancelling a cancelled link is a no-op. */
export async function cancelLink(
  kv: Deno.Kv,
  owner: ApiKeyInfo,
  linkId: string,
  settings: Pick<LinkSettings, "publicUrl">,
): Promise<Link> {
  const entry = await readOwned(kv, owner, linkId);
  const record = await settleExpiry(kv, entry.value);
  if (record.status === "cancelled") return toLink(record, settings.publicUrl);
  return toLink(
    await transitionLink(kv, linkId, "cancelled"),
    settings.publicUrl,
  );
}

/** Counts a failed claim from `client`, refusing once the window's limit is reached. */
async function limitClaimAttempts(
  kv: Deno.Kv,
  client: string,
  settings: LinkSettings,
  record: boolean,
): Promise<void> {
  const windowMs = settings.claimAttemptWindowSeconds * 1000;
  const window = Math.floor(Date.now() / windowMs);
  const key = claimAttemptsKey(client, window);
  for (;;) {
    const entry = await kv.get<number>(key);
    const count = entry.value ?? 0;
    if (count >= settings.claimAttemptsPerWindow) {
      const retryAfter = Math.ceil(
        ((window + 1) * windowMs - Date.now()) / 1000,
      );
      throw new PassageError(
        "too_many_attempts",
        "Too many failed claim attempts; try later",
        {
          headers: { "Retry-After": String(Math.max(1, retryAfter)) },
        },
      );
    }
    if (!record) return;
    const res = await kv.atomic().check(entry).set(key, count + 1, {
      expireIn: windowMs,
    }).commit();
    if (res.ok) return;
  }
}

/**
 * Exchanges a claim code for a device token and moves its link to `claimed`.
 * One atomic commit checked against the link's version decides a race: of many
 * devices claiming one code, exactly one wins; the rest get 409.
 */
export async function claimLink(
  kv: Deno.Kv,
  input: string,
  client: string,
  settings: LinkSettings,
): Promise<{
  deviceToken: string;
  expiresAt: string;
  link: LinkRecord;
}> {
  await limitClaimAttempts(kv, client, settings, false);
  const code = normalizeClaimCode(input);
  const linkId = code ? (await kv.get<string>(claimCodeKey(code))).value : null;
  const entry = linkId ? await kv.get<LinkRecord>(linkKey(linkId)) : null;
  if (!code || !entry?.value) {
    await limitClaimAttempts(kv, client, settings, true);
    throw new PassageError(
      "claim_code_not_found",
      "That claim code does not exist",
      {
        param: "claimCode",
      },
    );
  }
  const link = entry.value;
  if (isDue(link, Date.now()) || link.status === "expired") {
    await settleExpiry(kv, link);
    throw new PassageError(
      "claim_code_expired",
      "That claim code has expired",
      {
        param: "claimCode",
      },
    );
  }
  if (link.status !== "pending") {
    throw new PassageError(
      "claim_code_used",
      `That claim code was already used (link is ${link.status})`,
      {
        param: "claimCode",
      },
    );
  }
  const token = `dt_${randomHex(32)}`;
  const ttlMs = settings.deviceTokenTtlSeconds * 1000;
  const now = new Date();
  const tokenRecord: DeviceTokenRecord = {
    linkId: link.id,
    expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
  };
  const next: LinkRecord = {
    ...link,
    status: "claimed",
    claimedAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  const res = await kv.atomic()
    .check(entry as Deno.KvEntry<LinkRecord>)
    .set(linkKey(link.id), next)
    .delete(linksByExpiryKey(Date.parse(link.expiresAt), link.id))
    .set(deviceTokenKey(await sha256Hex(token)), tokenRecord, {
      expireIn: ttlMs,
    })
    .commit();
  if (!res.ok) {
    throw new PassageError(
      "claim_code_used",
      "That claim code was already used",
      {
        param: "claimCode",
      },
    );
  }
  return { deviceToken: token, expiresAt: tokenRecord.expiresAt, link: next };
}

/** The link a device token was issued for, or a 401. */
export async function authenticateDevice(
  kv: Deno.Kv,
  token: string,
): Promise<LinkRecord> {
  const entry = /^dt_[0-9a-f]{64}$/.test(token)
    ? await kv.get<DeviceTokenRecord>(deviceTokenKey(await sha256Hex(token)))
    : null;
  // expireIn is only a lower bound on deletion: the stored time decides.
  if (!entry?.value || Date.parse(entry.value.expiresAt) <= Date.now()) {
    throw new PassageError(
      "invalid_device_token",
      "Device token is missing, unknown or expired",
    );
  }
  const link = (await kv.get<LinkRecord>(linkKey(entry.value.linkId))).value;
  if (!link) {
    throw new PassageError(
      "invalid_device_token",
      "Device token's link no longer exists",
    );
  }
  return link;
}

/** Marks every pending link whose expiry has passed as expired. Returns how many. */
export async function expireDueLinks(
  kv: Deno.Kv,
  now = Date.now(),
): Promise<number> {
  let count = 0;
  const end = [...linksByExpiryPrefix(), now + 1];
  for await (
    const entry of kv.list<string>({ start: linksByExpiryPrefix(), end })
  ) {
    const record = (await kv.get<LinkRecord>(linkKey(entry.value))).value;
    if (record && isDue(record, now)) {
      await settleExpiry(kv, record);
      count++;
    } else if (!record || record.status !== "pending") {
      await kv.delete(entry.key);
    }
  }
  return count;
}

/** The link a claim code belongs to, without claiming it (for the claim page). */
export async function findLinkByClaimCode(
  kv: Deno.Kv,
  input: string,
): Promise<LinkRecord | null> {
  const code = normalizeClaimCode(input);
  const linkId = code ? (await kv.get<string>(claimCodeKey(code))).value : null;
  const record = linkId ? (await kv.get<LinkRecord>(linkKey(linkId))).value : null;
  return record ? await settleExpiry(kv, record) : null;
}
