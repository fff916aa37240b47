/**
 * Verifying Passage webhooks on your server: `verifyWebhook(req, options)`,
 * with a fetch `Request` or a raw body and headers (Express, Node's `http`).
 *
 * Every webhook carries a `Passage-Verification` header: a JWT signed with
 * ES256 whose claims are `iat`, `request_body_sha256` (the hex SHA-256 of
 * the exact body bytes), `aud` (the id of the account that owns the link,
 * `acct_…`) and `livemode`. Each account has its own signing keys, published
 * at `/v1/accounts/{aud}/jwks.json` on the Passage server. The verifier reads
 * the raw body once, checks the JWT with `jose` against the key set of the
 * account it is addressed to (fetched once and cached, and fetched again for
 * an unknown `kid` at most once per cool-down), so a `kid` from another
 * account's set does not verify; it checks the age, the audience and mode you
 * require, and the body hash, and only then parses the body.
 *
 * @module
 */
import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  errors,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import { z } from "zod";
import type { OperationResults } from "./results.ts";
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
 * @example
 * ```ts
 * import type { WebhookVerificationErrorCode } from "@passage/connect";
 * const retryLater: WebhookVerificationErrorCode[] = ["unknown_key"];
 * ```
 *
 * - `missing_signature`: no `Passage-Verification` header.
 * - `malformed_signature`: the header is not a well-formed JWT with `kid`, `iat` and `request_body_sha256`.
 * - `unsupported_algorithm`: the JWT is not ES256 (`none`, `HS256`, …) or its `typ` is not `JWT`.
 * - `unknown_key`: the `kid` is not in the key set of the account the JWT is addressed to (another account's, expired, or forged), or the key set could not be fetched.
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
 *       jwksUrl: "https://passage.example.com/.well-known/jwks.json",
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

  /**
   * Makes an error for the check `code` that failed, with a message saying why.
   *
   * @example
   * ```ts
   * import { WebhookVerificationError } from "@passage/connect";
   * const err = new WebhookVerificationError("body_mismatch", "The body was changed");
   * ```
   */
  constructor(code: WebhookVerificationErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WebhookVerificationError";
    this.code = code;
  }
}

/**
 * The body of a Passage webhook about a link, once verified.
 *
 * @example
 * ```ts
 * import type { LinkWebhookPayload } from "@passage/connect";
 * function billOf(event: LinkWebhookPayload): string | undefined {
 *   return event.results?.["mobileBillingStatement:read"]?.amountDue;
 * }
 * ```
 */
export interface LinkWebhookPayload {
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
   * through unchecked. Only the link's operations are there: narrow with
   * `?.` or check `link.operations`.
   */
  results?: Partial<OperationResults>;
  /** Why the link failed, on `link.failed`. */
  error?: { code: string; message: string };
  /** On `link.event`: what happened on the user's side (never a typed value). */
  event?: ClientEvent;
}

/**
 * The body of the signed test event `POST /v1/webhooks/test` sends (from the
 * SDK, `passage.webhooks.sendTest()`): no link, nothing to act on; answer it
 * with a 2xx once it verifies.
 *
 * @example
 * ```ts
 * import type { WebhookPayload } from "@passage/connect";
 * function handle(event: WebhookPayload) {
 *   if (event.type === "webhook.test") return; // your receiver works
 *   console.log(event.linkId, event.status);
 * }
 * ```
 */
export interface WebhookTestPayload {
  /** The test event's id (`evt_…`). */
  id: string;
  /** Always `"webhook.test"`. */
  type: "webhook.test";
  /** True when sent with a live key. */
  livemode: boolean;
  /** When it was sent (ISO 8601). */
  createdAt: string;
  /** A test event is about no link. */
  linkId?: undefined;
  /** A test event is about no link. */
  status?: undefined;
  /** A test event is about no link. */
  provider?: undefined;
  /** A test event has no device. */
  device?: undefined;
  /** A test event has no results. */
  results?: undefined;
  /** A test event has no error. */
  error?: undefined;
  /** A test event has no client event. */
  event?: undefined;
}

/**
 * What {@linkcode verifyWebhook} returns: an event about a link, or a test
 * event. Switch on `type`.
 *
 * @example
 * ```ts
 * import type { WebhookPayload } from "@passage/connect";
 * function describe(event: WebhookPayload): string {
 *   switch (event.type) {
 *     case "link.completed": return `${event.linkId} complete`;
 *     case "link.failed": return `${event.linkId} failed: ${event.error?.code}`;
 *     case "link.event": return `${event.linkId}: ${event.event?.type}`;
 *     case "webhook.test": return "test";
 *   }
 * }
 * ```
 */
export type WebhookPayload = LinkWebhookPayload | WebhookTestPayload;

/**
 * A webhook as a server framework hands it over: the raw body bytes (not
 * parsed JSON) and the headers. With Express, use `express.raw()` and pass
 * `{ body: req.body, headers: req.headers }`.
 *
 * @example
 * ```ts
 * import { type RawWebhook, verifyWebhook } from "@passage/connect";
 * async function onWebhook(raw: RawWebhook) {
 *   return await verifyWebhook(raw, { jwksUrl: "https://passage.example.com/.well-known/jwks.json" });
 * }
 * ```
 */
export interface RawWebhook {
  /** The exact bytes received (a Node `Buffer` is a `Uint8Array`), or their text. */
  body: Uint8Array | ArrayBuffer | string;
  /** The request headers: a `Headers`, or Node's `req.headers` object. */
  headers: Headers | Record<string, string | string[] | undefined>;
}

/**
 * Options for {@linkcode verifyWebhook}. Say which Passage server sent the
 * webhook with `baseUrl` (or the older `jwksUrl` or `publicKeyUrl`, whose
 * server is used the same way), and whose events you accept with
 * `audience`: the keys are then your account's key set on that server. The
 * server's URL is always yours to give: a webhook cannot say where its own
 * keys are, or anyone could sign one and point at their keys.
 *
 * @example
 * ```ts
 * import { verifyWebhook, type VerifyWebhookOptions } from "@passage/connect";
 * const options: VerifyWebhookOptions = {
 *   baseUrl: "https://passage.example.com",
 *   audience: "acct_01KBXYZ",
 *   livemode: false,
 * };
 * const handle = (req: Request) => verifyWebhook(req, options);
 * ```
 */
export interface VerifyWebhookOptions {
  /**
   * Your Passage server, as given to `new Passage({ baseUrl })`: keys come
   * from `<baseUrl>/v1/accounts/<aud>/jwks.json`, the key set of the
   * account the webhook is addressed to.
   */
  baseUrl?: string;
  /**
   * A key set URL. `https://<your Passage server>/.well-known/jwks.json` (as
   * documented before keys were per account) means that server, as
   * `baseUrl` does. Any other URL, such as one account's
   * `…/v1/accounts/acct_…/jwks.json`, is used as it is, for every webhook.
   */
  jwksUrl?: string;
  /**
   * Passage's key endpoint, `https://<your Passage server>/webhook_verification_key/get`:
   * means that server, as `baseUrl` does. Prefer `baseUrl`.
   */
  publicKeyUrl?: string;
  /**
   * A `fetch` to use instead of the global one (to fetch keys). Keys are
   * cached per `fetch` function, so pass the same one each time.
   */
  fetch?: typeof fetch;
  /** The oldest signature accepted, in seconds (default 300). */
  maxAgeSeconds?: number;
  /** The current time in milliseconds since the epoch, for the age check (default `Date.now`). */
  now?: () => number;
  /**
   * The least seconds between two fetches of the key set caused by a `kid`
   * it does not hold (default 60): a burst of forged `kid`s fetches at most
   * once per cool-down. After a key rotation, a receiver that fetched within
   * the cool-down answers `unknown_key` until it ends, and Passage retries.
   */
  keyCooldownSeconds?: number;
  /**
   * Accept only events whose signed `aud` is this owner id (or one of these):
   * the id of the account that owns the links, `acct_…`, shown in the
   * console. Rotating API keys does not change it. The keys are that
   * account's key set, fetched only for these ids. Without it, an event
   * signed for any Passage developer on the same server verifies (against
   * the key set of the account its `aud` names, and a new account's set is
   * fetched at most once per `keyCooldownSeconds`).
   *
   * @example
   * ```ts
   * import { verifyWebhook } from "@passage/connect";
   * async function handle(req: Request) {
   *   return await verifyWebhook(req, {
   *     baseUrl: "https://passage.example.com",
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

const resultsSchema: z.ZodType<Partial<OperationResults>> = z.looseObject(
  Object.fromEntries(OPERATION_TYPES.map((type) => [type, resultSchemas[type].optional()])),
) as z.ZodType<Partial<OperationResults>>;

const linkPayloadSchema: z.ZodType<LinkWebhookPayload> = z.object({
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

const testPayloadSchema: z.ZodType<WebhookTestPayload> = z.object({
  id: z.string().min(1),
  type: z.literal("webhook.test"),
  livemode: z.boolean(),
  createdAt: z.string(),
});

/** Future `iat` tolerated for clock skew, in seconds. */
const MAX_FUTURE_SECONDS = 60;
/** Key sets kept at most (one per account, server and `fetch`), the least recently used dropped. */
const KEY_SETS_SIZE = 100;
const WELL_KNOWN = "/.well-known/jwks.json";
const KEY_ENDPOINT = /\/webhook_verification_key\/get\/?$/;

// Key sets by fetch function, then by URL and cool-down: jose's remote key
// set caches the keys (refetching after 10 minutes) and refetches for an
// unknown kid at most once per cool-down. `discoveredAt`: when a JWT's own
// `aud` (no `audience` given) last made a new key set, by server and
// cool-down, so forged `aud`s fetch at most once per cool-down too.
const DEFAULT_FETCH = {};
const caches = new WeakMap<
  object,
  { sets: Map<string, JWTVerifyGetKey>; discoveredAt: Map<string, number> }
>();

function fail(code: WebhookVerificationErrorCode, message: string, cause?: unknown): never {
  throw new WebhookVerificationError(code, message, cause === undefined ? undefined : { cause });
}

/** Where keys come from: one fixed key set, or a server's key set per account. */
type KeySource = { fixed: URL } | { server: URL };

function keySourceOf(options: VerifyWebhookOptions): KeySource {
  if (options.jwksUrl !== undefined) {
    const url = new URL(options.jwksUrl);
    if (!url.pathname.endsWith(WELL_KNOWN)) return { fixed: url };
    return { server: new URL(url.pathname.slice(0, -WELL_KNOWN.length) + "/", url) };
  }
  const given = options.baseUrl ?? options.publicKeyUrl;
  if (given === undefined) {
    throw new TypeError("verifyWebhook needs options.baseUrl, your Passage server's URL");
  }
  const url = new URL(given);
  const path = options.baseUrl !== undefined
    ? url.pathname
    : KEY_ENDPOINT.test(url.pathname)
    ? url.pathname.replace(KEY_ENDPOINT, "")
    : "";
  return { server: new URL(path.replace(/\/*$/, "/"), url) };
}

/** The key set for a JWT addressed to `aud`: the account's, or the server-wide one without `aud`. */
function keySetUrl(source: KeySource, aud: string | undefined): URL {
  if ("fixed" in source) return source.fixed;
  return aud === undefined
    ? new URL(WELL_KNOWN.slice(1), source.server)
    : new URL(`v1/accounts/${encodeURIComponent(aud)}/jwks.json`, source.server);
}

function keySet(options: VerifyWebhookOptions, url: URL, discovery?: URL): JWTVerifyGetKey {
  const cooldown = (options.keyCooldownSeconds ?? 60) * 1000;
  const byFetch = options.fetch ?? DEFAULT_FETCH;
  let cache = caches.get(byFetch);
  if (!cache) caches.set(byFetch, cache = { sets: new Map(), discoveredAt: new Map() });
  const key = `${url.href} ${cooldown}`;
  let set = cache.sets.get(key);
  if (set) {
    cache.sets.delete(key); // most recently used last
  } else {
    if (discovery) {
      const server = `${discovery.href} ${cooldown}`;
      const last = cache.discoveredAt.get(server) ?? -Infinity;
      if (Date.now() - last < cooldown) {
        fail(
          "unknown_key",
          `Not fetching ${url.href}: a new account's key set was fetched less than ${
            cooldown / 1000
          } s ago. Pass audience (your account id) to fetch only yours`,
        );
      }
      cache.discoveredAt.delete(server);
      if (cache.discoveredAt.size >= KEY_SETS_SIZE) {
        cache.discoveredAt.delete(cache.discoveredAt.keys().next().value!);
      }
      cache.discoveredAt.set(server, Date.now());
    }
    set = createRemoteJWKSet(url, {
      cooldownDuration: cooldown,
      ...(options.fetch ? { [customFetch]: options.fetch } : {}),
    });
    if (cache.sets.size >= KEY_SETS_SIZE) cache.sets.delete(cache.sets.keys().next().value!);
  }
  cache.sets.set(key, set);
  return set;
}

function wrongAudience(aud: unknown, wanted: readonly string[], cause?: unknown): never {
  fail(
    "wrong_audience",
    `JWT aud ${JSON.stringify(aud ?? null)} is not ${
      wanted.map((a) => JSON.stringify(a)).join(" or ")
    }: the event is not addressed to you`,
    cause,
  );
}

/** Turns what jose threw into the check that failed. */
function joseFailure(
  err: unknown,
  kid: unknown,
  options: VerifyWebhookOptions,
  where: string,
): never {
  if (err instanceof WebhookVerificationError) throw err;
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    fail("unsupported_algorithm", `JWT alg must be ES256: ${err.message}`, err);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    fail("invalid_signature", `The signature does not match key "${kid}"`, err);
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    fail("unknown_key", `Passage has no valid webhook key "${kid}" at ${where}`, err);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "typ") fail("unsupported_algorithm", "JWT typ must be JWT", err);
    if (err.claim === "aud") wrongAudience(err.payload.aud, [options.audience ?? []].flat(), err);
    fail("malformed_signature", `Passage-Verification claims: ${err.message}`, err);
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    fail("malformed_signature", `Passage-Verification is not a valid JWT: ${err.message}`, err);
  }
  // The key set could not be fetched (network, timeout, not 200, not a key set).
  fail("unknown_key", `Could not fetch the webhook keys from ${where}`, err);
}

function header(headers: RawWebhook["headers"], name: string): string | null {
  if (headers instanceof Headers) return headers.get(name);
  const value = headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)
    ?.[1];
  return Array.isArray(value) ? value[0] ?? null : value ?? null;
}

function rawBytes(body: RawWebhook["body"]): Uint8Array<ArrayBuffer> {
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof Uint8Array) return new Uint8Array(body); // a copy: a Buffer may be pooled
  return fail(
    "invalid_payload",
    "The body must be the raw bytes (a Uint8Array, Buffer, ArrayBuffer or string), not parsed JSON: use express.raw()",
  );
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Verifies a Passage webhook and returns its payload. Pass the incoming
 * `Request` untouched (its body is read here, once, as raw bytes), or the
 * raw body and headers as your framework has them: `{ body: req.body,
 * headers: req.headers }` after Express's `express.raw()`. Parse the
 * returned payload, never a re-serialised body. Throws a
 * {@linkcode WebhookVerificationError} whose `code` says which check failed.
 *
 * Keys come from the key set of the account the webhook is addressed to
 * (`<baseUrl>/v1/accounts/<aud>/jwks.json`, fetched only for an `audience`
 * you accept), cached; a `kid` the cached set lacks (after a key rotation,
 * or forged) fetches the set again at most once per `keyCooldownSeconds`.
 * Another account's rotation fetches nothing.
 *
 * @example
 * ```ts
 * import { verifyWebhook } from "@passage/connect";
 * Deno.serve(async (req) => {
 *   const event = await verifyWebhook(req, {
 *     baseUrl: "https://passage.example.com",
 *     audience: "acct_01KBXYZ",
 *   });
 *   if (event.type === "link.completed") console.log(event.linkId, event.results);
 *   return new Response(null, { status: 204 });
 * });
 * ```
 *
 * @example Express
 * ```ts ignore
 * import express from "express";
 * import { verifyWebhook } from "@passage/connect";
 * const app = express();
 * app.post("/passage/webhook", express.raw({ type: "application/json" }), async (req, res) => {
 *   const event = await verifyWebhook({ body: req.body, headers: req.headers }, {
 *     baseUrl: "https://passage.example.com",
 *     audience: "acct_01KBXYZ",
 *   });
 *   res.sendStatus(204);
 * });
 * ```
 */
export async function verifyWebhook(
  req: Request | RawWebhook,
  options: VerifyWebhookOptions,
): Promise<WebhookPayload> {
  const clock = options.now ?? Date.now;
  const maxAge = options.maxAgeSeconds ?? 300;
  let body: Uint8Array<ArrayBuffer>;
  let token: string | null;
  if (req instanceof Request) {
    if (req.bodyUsed) {
      fail("invalid_payload", "The request body was already read; pass the request untouched");
    }
    body = new Uint8Array(await req.arrayBuffer());
    token = req.headers.get("passage-verification");
  } else {
    body = rawBytes(req.body);
    token = header(req.headers, "passage-verification");
  }
  if (!token) fail("missing_signature", "The request has no Passage-Verification header");

  const source = keySourceOf(options);
  const wanted = options.audience === undefined ? undefined : [options.audience].flat();
  let kid: unknown;
  let claims: Record<string, unknown>;
  let where = keySetUrl(source, undefined).href;
  const now = clock();
  try {
    // The addressee picks the key set, so read (not yet trust) `aud` first.
    const { aud } = decodeJwt(token.trim());
    const addressee = typeof aud === "string" ? aud : undefined;
    if (wanted && (addressee === undefined || !wanted.includes(addressee))) {
      wrongAudience(aud, wanted);
    }
    const url = keySetUrl(source, addressee);
    where = url.href;
    const byToken = wanted === undefined && addressee !== undefined && "server" in source;
    const keys = keySet(options, url, byToken ? source.server : undefined);
    ({ payload: claims } = await jwtVerify(token.trim(), (protectedHeader, jws) => {
      kid = protectedHeader.kid;
      if (typeof kid !== "string" || kid === "") {
        fail("malformed_signature", "JWT header has no kid");
      }
      return keys(protectedHeader, jws);
    }, {
      algorithms: ["ES256"],
      typ: "JWT",
      audience: options.audience === undefined ? undefined : [options.audience].flat(),
      requiredClaims: ["iat", "request_body_sha256"],
      currentDate: new Date(now),
    }));
  } catch (err) {
    joseFailure(err, kid, options, where);
  }

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
  if (options.livemode !== undefined && claims.livemode !== options.livemode) {
    const mode = (v: unknown) => v === true ? "live" : v === false ? "test" : "unmarked";
    fail(
      "wrong_mode",
      `The event is ${mode(claims.livemode)}; this receiver accepts ${
        mode(options.livemode)
      } events only`,
    );
  }
  // A plain compare: both sides are public (the signed claim and the hash of
  // the bytes received), so its timing tells an attacker nothing.
  if ((await sha256Hex(body)) !== bodyHash.toLowerCase()) {
    fail("body_mismatch", "The body's SHA-256 differs from request_body_sha256: use the raw bytes");
  }

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (err) {
    fail("invalid_payload", "The signed body is not JSON", err);
  }
  const schema: z.ZodType<WebhookPayload> =
    (json as { type?: unknown } | null)?.type === "webhook.test"
      ? testPayloadSchema
      : linkPayloadSchema;
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(
      "invalid_payload",
      `Invalid webhook payload field "${issue.path.join(".")}": ${issue.message}`,
    );
  }
  return parsed.data;
}
