/**
 * `Idempotency-Key` for every POST that creates or acts: the routes flagged
 * `idempotent: true` in `lib/http.ts` run through `idempotent()`, so a retry
 * after a lost answer gets the first answer again instead of acting twice.
 *
 * - Scope: the account and mode of the API key (two keys of one account share
 *   keys, as they share the account's links), and the operation (`links.create`).
 * - The first success answer (2xx) is stored for 24 hours with the hash of its
 *   request (method, path and canonical body); the same key and request get it
 *   back with `Idempotent-Replayed: true`; the same key with another request
 *   is a 422 `idempotency_key_reused`.
 * - An error answer is not stored: an error means nothing was done, so the
 *   retry runs again (a request rejected for its body does not use up its key).
 * - Two requests with one key at once: the first to commit a `running` lease
 *   runs; the others wait for its answer (polling the one key, which works
 *   across instances) and replay it. One still running after `WAIT_MS` is a
 *   409 `write_conflict` with `Retry-After`. A lease whose holder died runs out
 *   after `LEASE_MS` and the next request runs.
 *
 * The answer is stored after the handler's own commit, not in it: an instance
 * that dies between the two leaves the request to be run again once the lease
 * runs out. That is the price of one layer for every route instead of one
 * per domain function.
 *
 * @module
 */
import type { Owner } from "./api_keys.ts";
import { PassageError } from "./errors.ts";
import { sha256Hex } from "./ids.ts";
import { type BlobRef, loadBytes, storeBytes } from "./kv_blobs.ts";
import { idempotencyKey } from "./kv_keys.ts";

/** How long an answer is kept for replays. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** How long a request holds its key while it runs; a longer one may be run again. */
const LEASE_MS = 60_000;
/** How long a request waits for a concurrent one with its key before a 409. */
const WAIT_MS = 20_000;
/** The header of a replayed answer. */
export const REPLAYED_HEADER = "Idempotent-Replayed";

type Stored =
  | { state: "running"; requestHash: string; until: number }
  | {
    state: "done";
    requestHash: string;
    createdAt: number;
    status: number;
    contentType: string | null;
    body: Uint8Array | BlobRef;
  };

/** Stable JSON of a parsed body, keys sorted, for comparing repeated requests. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The hash a repeated request must match: its method, path and body (fields in any order). */
export function requestHash(method: string, path: string, body: unknown): Promise<string> {
  return sha256Hex(canonicalJson({ method, path, body }));
}

/** Reads and checks an `Idempotency-Key` header: absent is undefined, 1–255 characters is kept. */
export function readIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (header.length < 1 || header.length > 255) {
    throw new PassageError("invalid_request", "Idempotency-Key must be 1 to 255 characters", {
      param: "Idempotency-Key",
    });
  }
  return header;
}

/** What is still in force of a stored record at `now`. */
function live(stored: Stored | null, now: number): Stored | null {
  if (!stored) return null;
  if (stored.state === "running") return stored.until > now ? stored : null;
  return stored.createdAt + IDEMPOTENCY_TTL_MS > now ? stored : null;
}

/**
 * Runs `run` once for `owner`'s `key` on `operation`: the first answer that
 * succeeds is stored and replayed to every repeat of the same request.
 */
export async function idempotent(
  kv: Deno.Kv,
  scope: { owner: Owner; operation: string; key: string; requestHash: string },
  run: () => Promise<Response>,
): Promise<Response> {
  const { owner, operation, key, requestHash } = scope;
  const kvKey = idempotencyKey(owner.accountId, owner.mode, operation, key);
  const deadline = Date.now() + WAIT_MS;
  for (let delay = 10;; delay = Math.min(delay * 2, 250)) {
    const entry = await kv.get<Stored>(kvKey);
    const now = Date.now();
    let stored = live(entry.value, now);
    if (stored && stored.requestHash !== requestHash) {
      throw new PassageError(
        "idempotency_key_reused",
        `Idempotency-Key "${key}" was already used with a different request`,
      );
    }
    if (stored?.state === "done") {
      const body = await loadBytes(kv, stored.body);
      if (body) return replay(stored, body);
      stored = null; // its body's chunks are gone: as if never answered
    }
    if (!stored) {
      const lease: Stored = { state: "running", requestHash, until: now + LEASE_MS };
      const claimed = await kv.atomic().check(entry).set(kvKey, lease, {
        expireIn: IDEMPOTENCY_TTL_MS,
      }).commit();
      if (claimed.ok) return await runOnce(kv, kvKey, claimed.versionstamp, requestHash, run);
      continue; // another request took the key first: read what it left
    } else if (now >= deadline) {
      throw new PassageError(
        "write_conflict",
        `A request with Idempotency-Key "${key}" is still running; retry shortly`,
        { headers: { "Retry-After": "1" } },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

async function runOnce(
  kv: Deno.Kv,
  kvKey: Deno.KvKey,
  versionstamp: string,
  requestHash: string,
  run: () => Promise<Response>,
): Promise<Response> {
  const release = () =>
    kv.atomic().check({ key: kvKey, versionstamp }).delete(kvKey).commit().catch(() => {});
  let res: Response;
  try {
    res = await run();
  } catch (err) {
    await release();
    throw err;
  }
  if (!res.ok) {
    await release();
    return res;
  }
  const body = new Uint8Array(await res.arrayBuffer());
  const done: Stored = {
    state: "done",
    requestHash,
    createdAt: Date.now(),
    status: res.status,
    contentType: res.headers.get("content-type"),
    body: await storeBytes(kv, body, IDEMPOTENCY_TTL_MS),
  };
  // Checked against our own lease: one that ran out and was taken keeps the newer answer.
  await kv.atomic().check({ key: kvKey, versionstamp }).set(kvKey, done, {
    expireIn: IDEMPOTENCY_TTL_MS,
  }).commit();
  return new Response(body, { status: res.status, headers: res.headers });
}

function replay(stored: Extract<Stored, { state: "done" }>, body: Uint8Array): Response {
  const headers = new Headers({ [REPLAYED_HEADER]: "true" });
  if (stored.contentType) headers.set("content-type", stored.contentType);
  return new Response(body as Uint8Array<ArrayBuffer>, { status: stored.status, headers });
}
