/**
 * Verifying Passage webhooks on your server: `verifyWebhook(req, options)`.
 *
 * Every webhook carries a `Passage-Verification` header: a JWT signed with
 * ES256 whose claims are `iat`, `request_body_sha256` (the hex SHA-256 of
 * the exact body bytes), `aud` (the id of the account that owns the link,
 * `acct_…`) and `livemode`. The verifier reads the raw body once, checks the
 * header, fetches the public key by its `kid` (cached), checks the signature,
 * the age, the audience and mode you require, and the body hash, and only
 * then parses the body.
 *
 * @module
 */
import { z } from "zod";
import { resultSchemas } from "./results.ts";
import {
  type ClientEvent,
  clientEventSchema,
  LINK_STATUSES,
  type LinkDevice,
  linkDeviceSchema,
  type LinkStatus,
  OPERATION_TYPES,
} from "./schemas.ts";

/**
 * Why a webhook was refused: each check has its own code.
 *
 * - `missing_signature`: no `Passage-Verification` header.
 * - `malformed_signature`: the header is not a well-formed JWT with `kid`, `iat` and `request_body_sha256`.
 * - `unsupported_algorithm`: the JWT is not ES256 (`none`, `HS256`, …) or its `typ` is not `JWT`.
 * - `unknown_key`: Passage does not know the `kid` (or it has expired), or the key could not be fetched.
 * - `invalid_signature`: the signature does not match the key.
 * - `stale_signature`: `iat` is older than `maxAgeSeconds`, or more than a minute in the future.
 * - `wrong_audience`: `audience` was given and the JWT's `aud` is none of it (another developer's event, or a signature without `aud`).
 * - `wrong_mode`: `livemode` was given and the JWT's `livemode` differs (a test event at a live receiver, or the reverse).
 * - `body_mismatch`: the body is not the one that was signed (re-serialised JSON included).
 * - `invalid_payload`: the signed body is not a Passage webhook payload.
 */
export type WebhookVerificationErrorCode =
  | "missing_signature"
  | "malformed_signature"
  | "unsupported_algorithm"
  | "unknown_key"
  | "invalid_signature"
  | "stale_signature"
  | "wrong_audience"
  | "wrong_mode"
  | "body_mismatch"
  | "invalid_payload";

/**
 * A webhook that did not verify. Answer it with a 4xx and do not act on it.
 *
 * @example
 * ```ts
 * import { verifyWebhook, WebhookVerificationError } from "@passage/connect";
 * async function handle(req: Request): Promise<Response> {
 *   try {
 *     const event = await verifyWebhook(req, {
 *       publicKeyUrl: "https://passage.example.com/webhook_verification_key/get",
 *     });
 *     console.log(event.type, event.linkId);
 *     return new Response(null, { status: 204 });
 *   } catch (err) {
 *     if (err instanceof WebhookVerificationError) {
 *       return new Response(err.code, { status: 400 });
 *     }
 *     throw err;
 *   }
 * }
 * ```
 */
export class WebhookVerificationError extends Error {
  /** Which check failed. */
  readonly code: WebhookVerificationErrorCode;

  /** Makes an error for the check `code` that failed, with a message saying why. */
  constructor(code: WebhookVerificationErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WebhookVerificationError";
    this.code = code;
  }
}

/** The body of a Passage webhook, once verified. */
export interface WebhookPayload {
  /** The event id (`evt_…`): the same on every retry, so use it to ignore repeats. */
  id: string;
  /**
   * `link.completed` when the link's operations all succeeded, `link.failed`
   * when it failed; `link.event` for one client event (`event`), sent only to
   * links created with `webhookEvents: ["client"]`.
   */
  type: "link.completed" | "link.failed" | "link.event";
  /** The link. */
  linkId: string;
  /**
   * The link's final status (`complete` or `failed`); on `link.event`, its
   * status when the event happened.
   */
  status: LinkStatus;
  /** Provider id, such as `"tmobile"`. */
  provider: string;
  /** True for a link created with a live key; absent on events from older servers. */
  livemode?: boolean;
  /**
   * The device that ran the link: its self-declared `kind` and its
   * `attestation`, which is always `"none"` today (nothing proves what
   * software the device runs). Null when no device connected; absent on
   * events from older servers.
   */
  device?: LinkDevice | null;
  /** When the event was created (ISO 8601). */
  createdAt: string;
  /**
   * The results by operation type, on `link.completed`. Each one has been
   * checked with its schema from `@passage/connect/results` (type it with
   * `OperationResults`); keys of operation types newer than this SDK pass
   * through unchecked.
   */
  results?: Record<string, unknown>;
  /** Why the link failed, on `link.failed`. */
  error?: { code: string; message: string };
  /** On `link.event`: what happened on the user's side (never a typed value). */
  event?: ClientEvent;
}

/** Options for {@linkcode verifyWebhook}. */
export interface VerifyWebhookOptions {
  /**
   * Passage's key endpoint, `POST {key_id}`:
   * `https://<your Passage server>/webhook_verification_key/get`.
   */
  publicKeyUrl: string;
  /** A `fetch` to use instead of the global one (to fetch keys). */
  fetch?: typeof fetch;
  /** The oldest signature accepted, in seconds (default 300). */
  maxAgeSeconds?: number;
  /** The current time in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /**
   * Accept only events whose signed `aud` is this owner id (or one of these):
   * the id of the account that owns the links, `acct_…`, shown in the
   * console. Rotating API keys does not change it. Without it, an event
   * signed for any Passage developer on the same server verifies.
   *
   * @example
   * ```ts
   * import { verifyWebhook } from "@passage/connect";
   * async function handle(req: Request) {
   *   return await verifyWebhook(req, {
   *     publicKeyUrl: "https://passage.example.com/webhook_verification_key/get",
   *     audience: "acct_01KBXYZ",
   *     livemode: true,
   *   });
   * }
   * ```
   */
  audience?: string | readonly string[];
  /**
   * Accept only live events (`true`) or only test events (`false`), as
   * signed in the `livemode` claim. Without it, both verify.
   */
  livemode?: boolean;
}

const resultsSchema: z.ZodType<Record<string, unknown>> = z.looseObject(
  Object.fromEntries(OPERATION_TYPES.map((type) => [type, resultSchemas[type].optional()])),
);

const payloadSchema: z.ZodType<WebhookPayload> = z.object({
  id: z.string().min(1),
  type: z.enum(["link.completed", "link.failed", "link.event"]),
  linkId: z.string().min(1),
  status: z.enum(LINK_STATUSES as [LinkStatus, ...LinkStatus[]]),
  provider: z.string(),
  livemode: z.boolean().optional(),
  device: linkDeviceSchema.nullable().optional(),
  createdAt: z.string(),
  results: resultsSchema.optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  event: clientEventSchema.optional(),
}).refine(
  (p) =>
    p.type === "link.event"
      ? p.event !== undefined
      : p.status === "complete" || p.status === "failed",
  "a link.event payload carries an event; a finished link's status is complete or failed",
);

const keyResponseSchema = z.object({
  key: z.object({
    kty: z.literal("EC"),
    crv: z.literal("P-256"),
    kid: z.string(),
    x: z.string(),
    y: z.string(),
    alg: z.literal("ES256").optional(),
    expired_at: z.number().nullable().optional(),
  }),
});

/** Future `iat` tolerated for clock skew, in seconds. */
const MAX_FUTURE_SECONDS = 60;
/** A cached key is refetched after this long (ms), to learn of a rotation's `expired_at`. */
const KEY_CACHE_MS = 60 * 60 * 1000;
/** Cached keys kept at most (only keys Passage served are ever cached). */
const KEY_CACHE_SIZE = 100;

interface CachedKey {
  key: CryptoKey;
  /** When the entry stops being used (ms since epoch). */
  until: number;
}

// Keys by server and kid. Misses are never cached: an unknown kid is fetched
// each time (a rotation's new key must be found at once).
const keyCache = new Map<string, CachedKey>();
const inFlight = new Map<string, Promise<CachedKey | null>>();

function fail(code: WebhookVerificationErrorCode, message: string, cause?: unknown): never {
  throw new WebhookVerificationError(code, message, cause === undefined ? undefined : { cause });
}

function base64urlDecode(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

function decodeJsonPart(part: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(base64urlDecode(part)),
    );
    if (value && typeof value === "object" && !Array.isArray(value)) return value;
  } catch (err) {
    fail("malformed_signature", `Passage-Verification ${what} is not base64url JSON`, err);
  }
  fail("malformed_signature", `Passage-Verification ${what} is not a JSON object`);
}

async function fetchKey(
  kid: string,
  options: VerifyWebhookOptions,
  now: number,
): Promise<CachedKey | null> {
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(options.publicKeyUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key_id: kid }),
    });
  } catch (err) {
    fail("unknown_key", `Could not fetch key "${kid}" from ${options.publicKeyUrl}`, err);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) {
    await res.body?.cancel();
    fail(
      "unknown_key",
      `Fetching key "${kid}" from ${options.publicKeyUrl} answered ${res.status}`,
    );
  }
  const parsed = keyResponseSchema.safeParse(await res.json().catch(() => null));
  if (!parsed.success || parsed.data.key.kid !== kid) {
    fail("unknown_key", `${options.publicKeyUrl} did not answer a P-256 key for "${kid}"`);
  }
  const { x, y, expired_at } = parsed.data.key;
  if (typeof expired_at === "number" && expired_at * 1000 <= now) return null;
  const key = await crypto.subtle.importKey(
    "jwk",
    { kty: "EC", crv: "P-256", x, y, ext: true },
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["verify"],
  ).catch((err) => fail("unknown_key", `Key "${kid}" is not a valid P-256 public key`, err));
  const until = Math.min(
    now + KEY_CACHE_MS,
    typeof expired_at === "number" ? expired_at * 1000 : Infinity,
  );
  return { key, until };
}

async function verificationKey(
  kid: string,
  options: VerifyWebhookOptions,
  now: number,
): Promise<CryptoKey> {
  const cacheKey = `${options.publicKeyUrl}\n${kid}`;
  const cached = keyCache.get(cacheKey);
  if (cached && cached.until > now) return cached.key;
  keyCache.delete(cacheKey);
  let pending = inFlight.get(cacheKey);
  if (!pending) {
    pending = fetchKey(kid, options, now).finally(() => inFlight.delete(cacheKey));
    inFlight.set(cacheKey, pending);
  }
  const found = await pending;
  if (!found) fail("unknown_key", `Passage has no valid webhook key "${kid}"`);
  if (keyCache.size >= KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value!);
  keyCache.set(cacheKey, found);
  return found.key;
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Equal strings compare in time that depends only on their length. */
function timingSafeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  }
  return diff === 0;
}

/**
 * Verifies a Passage webhook and returns its payload. Pass the incoming
 * `Request` untouched: the body is read here, once, as raw bytes (parse the
 * returned payload, never a re-serialised body). Throws a
 * {@linkcode WebhookVerificationError} whose `code` says which check failed.
 *
 * Public keys are fetched by `kid` from `publicKeyUrl` and cached per key; an
 * unknown `kid` (after a key rotation) is fetched again, never cached as missing.
 *
 * @example
 * ```ts
 * import { verifyWebhook } from "@passage/connect";
 * Deno.serve(async (req) => {
 *   const event = await verifyWebhook(req, {
 *     publicKeyUrl: "https://passage.example.com/webhook_verification_key/get",
 *   });
 *   if (event.type === "link.completed") console.log(event.linkId, event.results);
 *   return new Response(null, { status: 204 });
 * });
 * ```
 */
export async function verifyWebhook(
  req: Request,
  options: VerifyWebhookOptions,
): Promise<WebhookPayload> {
  const clock = options.now ?? Date.now;
  const maxAge = options.maxAgeSeconds ?? 300;
  if (req.bodyUsed) {
    fail("invalid_payload", "The request body was already read; pass the request untouched");
  }
  const body = new Uint8Array(await req.arrayBuffer());

  const token = req.headers.get("passage-verification");
  if (!token) fail("missing_signature", "The request has no Passage-Verification header");
  const parts = token.trim().split(".");
  if (parts.length !== 3) {
    fail("malformed_signature", "Passage-Verification is not a JWT (header.payload.signature)");
  }
  const header = decodeJsonPart(parts[0], "header");
  if (header.alg !== "ES256") {
    fail("unsupported_algorithm", `JWT alg must be ES256, got ${JSON.stringify(header.alg)}`);
  }
  if (header.typ !== "JWT") {
    fail("unsupported_algorithm", `JWT typ must be JWT, got ${JSON.stringify(header.typ)}`);
  }
  if (typeof header.kid !== "string" || header.kid === "") {
    fail("malformed_signature", "JWT header has no kid");
  }
  const claims = decodeJsonPart(parts[1], "payload");
  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = base64urlDecode(parts[2]);
  } catch (err) {
    fail("malformed_signature", "JWT signature is not base64url", err);
  }

  const now = clock();
  const key = await verificationKey(header.kid, options, now);
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  const valid = signature.byteLength === 64 &&
    await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, signed);
  if (!valid) fail("invalid_signature", `The signature does not match key "${header.kid}"`);

  const { iat, request_body_sha256: bodyHash } = claims;
  if (typeof iat !== "number" || !Number.isFinite(iat)) {
    fail("malformed_signature", "JWT has no numeric iat claim");
  }
  if (typeof bodyHash !== "string") {
    fail("malformed_signature", "JWT has no request_body_sha256 claim");
  }
  const age = now / 1000 - iat;
  if (age > maxAge) fail("stale_signature", `Signed ${Math.round(age)} s ago; at most ${maxAge} s`);
  if (age < -MAX_FUTURE_SECONDS) {
    fail("stale_signature", `Signed ${Math.round(-age)} s in the future; check your clock`);
  }
  if (options.audience !== undefined) {
    const wanted = typeof options.audience === "string" ? [options.audience] : options.audience;
    if (typeof claims.aud !== "string" || !wanted.includes(claims.aud)) {
      fail(
        "wrong_audience",
        `JWT aud ${JSON.stringify(claims.aud ?? null)} is not ${
          wanted.map((a) => JSON.stringify(a)).join(" or ")
        }: the event is not addressed to you`,
      );
    }
  }
  if (options.livemode !== undefined && claims.livemode !== options.livemode) {
    const mode = (v: unknown) => v === true ? "live" : v === false ? "test" : "unmarked";
    fail(
      "wrong_mode",
      `The event is ${mode(claims.livemode)}; this receiver accepts ${
        mode(options.livemode)
      } events only`,
    );
  }
  if (!timingSafeEqual(await sha256Hex(body), bodyHash.toLowerCase())) {
    fail("body_mismatch", "The body's SHA-256 differs from request_body_sha256: use the raw bytes");
  }

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (err) {
    fail("invalid_payload", "The signed body is not JSON", err);
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(
      "invalid_payload",
      `Invalid webhook payload field "${issue.path.join(".")}": ${issue.message}`,
    );
  }
  return parsed.data;
}
