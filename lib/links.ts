/**
 * Links: the domain logic behind `/v1/links`. A link runs on a session (see
 * `sessions.ts`), created with it in one commit; its claim code opens that session. Routes,
 * automations and tests all call these functions; nothing here knows HTTP.
 */
import type { CreateLinkParams, Link, LinkList } from "@passage/connect/schemas";
import { getProvider, providerOrigins } from "../automations/catalog.ts";
import type { ApiKeyInfo, Owner } from "./api_keys.ts";
import { formatClaimCode, newClaimCode, normalizeClaimCode } from "./claim_codes.ts";
import { PassageError } from "./errors.ts";
import { newId } from "./ids.ts";
import { pageOf } from "./pagination.ts";
import { claimUrl, endSession, newSessionRecord, writeNewSession } from "./sessions.ts";
import { type BlobRef, loadJson, storeJson } from "./kv_blobs.ts";
import { type LifecycleServices, type LinkRecord, transitionLink } from "./lifecycle.ts";
import type { Services, SessionLogService } from "./services.ts";
import {
  linkKey,
  linkResultsKey,
  linksByAccountKey,
  linksByAccountPrefix,
  linksByExpiryKey,
  linksByExpiryPrefix,
} from "./kv_keys.ts";

export { canTransition, type LinkRecord, transitionLink } from "./lifecycle.ts";

/** The public view of a stored link. */
export function toLink(
  record: LinkRecord,
  publicUrl: string,
  results: Record<string, unknown> | null = null,
): Link {
  const pending = record.status === "pending";
  return {
    id: record.id,
    object: "link",
    status: record.status,
    provider: record.provider,
    operations: record.operations,
    error: record.error,
    results,
    completedAt: record.completedAt,
    webhookUrl: record.webhookUrl,
    metadata: record.metadata,
    claimCode: pending ? formatClaimCode(record.claimCode) : null,
    appClipUrl: pending ? claimUrl(publicUrl, record.claimCode) : null,
    expiresAt: record.expiresAt,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    claimedAt: record.claimedAt,
    livemode: record.livemode,
    sessionId: record.sessionId,
    device: record.device ?? null,
    appName: record.appName ?? null,
    events: record.events ?? [],
    webhookEvents: record.webhookEvents ?? [],
  };
}

function isDue(record: LinkRecord, now: number): boolean {
  return record.status === "pending" && Date.parse(record.expiresAt) <= now;
}

/**
 * Creates a pending link with a fresh claim code (`Idempotency-Key` is the
 * route's: `lib/idempotency.ts`).
 */
export async function createLink(
  svc: Pick<Services, "kv" | "config" | "clock" | "log">,
  owner: ApiKeyInfo,
  params: CreateLinkParams,
): Promise<Link> {
  const { kv, config: settings } = svc;
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
  if (params.webhookEvents?.length && params.webhookUrl === undefined) {
    throw new PassageError(
      "invalid_request",
      "webhookEvents needs a webhookUrl to send them to",
      { param: "webhookEvents" },
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
    const now = new Date(svc.clock.now());
    const claimCode = normalizeClaimCode(newClaimCode())!;
    const linkId = newId("link");
    const sessionParams = { expiresIn: params.expiresIn, appName: params.appName };
    const session = newSessionRecord(owner, sessionParams, settings, {
      linkId,
      claimCode,
      now,
      allowedOrigins: providerOrigins(
        provider,
        { livemode: owner.mode === "live" },
        settings.publicUrl,
      ),
    });
    const record: LinkRecord = {
      id: linkId,
      accountId: owner.accountId,
      ownerKeyId: owner.id,
      livemode: owner.mode === "live",
      provider: provider.id,
      operations: params.operations.map((op) => ({ type: op.type, status: "pending" })),
      error: null,
      completedAt: null,
      webhookUrl: params.webhookUrl ?? null,
      metadata: params.metadata ?? {},
      status: "pending",
      claimCode,
      expiresAt: session.expiresAt,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      claimedAt: null,
      sessionId: session.id,
      appName: params.appName ?? null,
      events: [],
      webhookEvents: [...new Set(params.webhookEvents ?? [])],
    };
    const link = toLink(record, settings.publicUrl);
    const op = kv.atomic()
      .check({ key: linkKey(record.id), versionstamp: null })
      .set(linkKey(record.id), record)
      .set(linksByAccountKey(owner.accountId, owner.mode, record.id), record.id)
      .set(linksByExpiryKey(Date.parse(record.expiresAt), record.id), record.id);
    writeNewSession(op, session);
    if ((await op.commit()).ok) {
      svc.log.info("link.created", {
        link_id: linkId,
        account_id: owner.accountId,
        provider: provider.id,
      });
      return link;
    }
    // The claim code collided (vanishingly rarely): try another.
  }
  throw new PassageError(
    "write_conflict",
    "Could not create the link; try again",
  );
}

/** Whether `owner` (an account in one mode) owns `link`. */
export function ownsLink(owner: Owner, link: LinkRecord): boolean {
  return link.accountId === owner.accountId && link.livemode === (owner.mode === "live");
}

async function readOwned(kv: Deno.Kv, owner: Owner, linkId: string) {
  const entry = await kv.get<LinkRecord>(linkKey(linkId));
  // Another account's (or mode's) link answers exactly as a missing one.
  if (!entry.value || !ownsLink(owner, entry.value)) {
    throw new PassageError("link_not_found", `No link with id "${linkId}"`, {
      param: "id",
    });
  }
  return entry as Deno.KvEntry<LinkRecord>;
}

/** Marks a pending link expired if its stored expiry has passed. */
async function settleExpiry(svc: LifecycleServices, record: LinkRecord): Promise<LinkRecord> {
  if (!isDue(record, svc.clock.now())) return record;
  try {
    // A pending link was never claimed: no device ever connected to it.
    return await transitionLink(svc, record.id, "expired", {
      patch: {
        error: {
          code: "device_never_connected",
          message: "No device opened the link before it expired",
        },
      },
    });
  } catch (err) {
    // Someone else moved it first (claimed just in time, or cancelled): reread.
    if (
      err instanceof PassageError && err.code === "invalid_status_transition"
    ) {
      return (await svc.kv.get<LinkRecord>(linkKey(record.id))).value!;
    }
    throw err;
  }
}

/** A link of `owner`'s, with its expiry applied. */
export async function getLink(
  svc: LifecycleServices & Pick<Services, "config">,
  owner: Owner,
  linkId: string,
): Promise<Link> {
  const entry = await readOwned(svc.kv, owner, linkId);
  const record = await settleExpiry(svc, entry.value);
  return toLink(record, svc.config.publicUrl, await readResults(svc, record));
}

/** One page of `owner`'s links, newest first. */
export async function listLinks(
  svc: LifecycleServices & Pick<Services, "config">,
  owner: Owner,
  query: { limit?: number; cursor?: string },
): Promise<LinkList> {
  const page = await pageOf<LinkRecord>(
    svc.kv,
    linksByAccountPrefix(owner.accountId, owner.mode),
    "link",
    query,
    linkKey,
  );
  const data: Link[] = [];
  for (const record of page.records) {
    data.push(toLink(await settleExpiry(svc, record), svc.config.publicUrl));
  }
  return { object: "list", data, hasMore: page.hasMore, nextCursor: page.nextCursor };
}

/** Cancels a link that has not finished. Cancelling a cancelled link is a no-op. */
export async function cancelLink(
  svc: LifecycleServices & Pick<Services, "config"> & SessionLogService,
  owner: Owner,
  linkId: string,
): Promise<Link> {
  const { kv, config } = svc;
  const entry = await readOwned(kv, owner, linkId);
  const record = await settleExpiry(svc, entry.value);
  if (record.status === "cancelled") return toLink(record, config.publicUrl);
  const cancelled = await transitionLink(svc, linkId, "cancelled");
  await endSession(svc, cancelled.sessionId, "cancelled");
  return toLink(cancelled, config.publicUrl);
}

/** Marks every pending link whose expiry has passed as expired. Returns how many. */
export async function expireDueLinks(svc: LifecycleServices): Promise<number> {
  const { kv } = svc;
  const now = svc.clock.now();
  let count = 0;
  const end = [...linksByExpiryPrefix(), now + 1];
  for await (
    const entry of kv.list<string>({ start: linksByExpiryPrefix(), end })
  ) {
    const record = (await kv.get<LinkRecord>(linkKey(entry.value))).value;
    if (record && isDue(record, now)) {
      await settleExpiry(svc, record);
      count++;
    } else if (!record || record.status !== "pending") {
      await kv.delete(entry.key);
    }
  }
  return count;
}

/** Results as stored: inline or chunked, with the time they stop being served. */
export interface StoredResults {
  results: Record<string, unknown> | BlobRef;
  expiresAt: string;
}

/**
 * The writes that keep a link's results for `retentionMs` (chunks first). The
 * engine keeps a running link's results here as each operation completes,
 * and all of them when the link finishes: one key, one retention, and only a
 * complete link's are ever served (`readResults`).
 */
export async function prepareResults(
  svc: Pick<Services, "kv" | "clock">,
  linkId: string,
  results: Record<string, unknown>,
  retentionMs: number,
): Promise<(op: Deno.AtomicOperation) => void> {
  const stored: StoredResults = {
    results: await storeJson(svc.kv, results, retentionMs),
    expiresAt: new Date(svc.clock.now() + retentionMs).toISOString(),
  };
  return (op) => op.set(linkResultsKey(linkId), stored, { expireIn: retentionMs });
}

/** The results kept for a link (all, or a running link's so far), or null once their retention has passed. */
export async function readKeptResults(
  svc: Pick<Services, "kv" | "clock">,
  linkId: string,
): Promise<Record<string, unknown> | null> {
  const stored = (await svc.kv.get<StoredResults>(linkResultsKey(linkId))).value;
  // expireIn is a lower bound on deletion: the stored time decides.
  if (!stored || Date.parse(stored.expiresAt) <= svc.clock.now()) return null;
  return await loadJson(svc.kv, stored.results);
}

/** A complete link's results, or null once their retention has passed. */
function readResults(
  svc: Pick<Services, "kv" | "clock">,
  record: LinkRecord,
): Promise<Record<string, unknown> | null> {
  return record.status === "complete" ? readKeptResults(svc, record.id) : Promise.resolve(null);
}
