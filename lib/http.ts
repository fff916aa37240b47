/**
 * The HTTP edge: one `Api` object registers a route on Hono and records its
 * spec, from which `lib/openapi.ts` builds the OpenAPI document with the same
 * zod schemas that validate the request, so the document cannot drift from
 * what the server accepts. A route flagged `idempotent` honours
 * `Idempotency-Key` (`lib/idempotency.ts`) without a line of its own.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import { type ApiKeyInfo, authenticate } from "./api_keys.ts";
import type { Relay } from "../relay/relay.ts";
import type { Services, SessionLogService } from "./services.ts";
import type { ConsoleSession } from "./auth/console_sessions.ts";
import type { AccountRecord } from "./accounts.ts";
import { type ErrorCode, PassageError } from "./errors.ts";
import { idempotent, readIdempotencyKey, requestHash } from "./idempotency.ts";

/**
 * What a request reaches as `c.var.services`: the `Services` (`lib/services.ts`),
 * the relay behind the sockets and its session log.
 */
export interface AppServices extends Services, SessionLogService {
  readonly relay: Relay;
}

/** What every handler can reach through `c.var`. */
export interface AppEnv {
  Variables: {
    /** Set once for every request by the app's middleware (`main.ts`). */
    services: AppServices;
    /** Set on routes with `auth: "apiKey"`. */
    apiKey: ApiKeyInfo;
    /** Set under `/console` by its middleware: the signed-in member's session. */
    consoleSession: ConsoleSession;
    /** Set under `/console` by its middleware: the account the console shows. */
    account: AccountRecord;
  };
}

/** Largest JSON body accepted, in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

type Method = "get" | "post" | "delete";

/** A route: how it is called, what it accepts and what it answers. */
export interface RouteSpec<
  B extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
> {
  method: Method;
  /** OpenAPI-style path: `/v1/links/{id}`. */
  path: string;
  /** The SDK method it reads as: `links.create`, `links.webhooks.list`. Unique. */
  operationId: string;
  /** A few words: `Create a link`. */
  summary: string;
  /** What it does, in full (Markdown). */
  description: string;
  tag: string;
  auth: "apiKey" | "none";
  /** A description of each path parameter, by name. */
  params?: Record<string, string>;
  body?: B;
  query?: Q;
  /**
   * A POST that creates or acts: it honours `Idempotency-Key` (`lib/idempotency.ts`),
   * and the OpenAPI document says so. Needs `auth: "apiKey"` (keys are kept per account).
   */
  idempotent?: boolean;
  responses: Record<number, RouteResponse>;
  /** The error codes this route can answer with, beyond auth and bad input. */
  errors?: ErrorCode[];
}

/** One answer of a route, for the OpenAPI document. */
export interface RouteResponse {
  description: string;
  schema?: z.ZodType;
  /** The body's media type when it is not `application/json`. */
  mediaType?: string;
  /** Response headers worth documenting, as OpenAPI header objects by name. */
  headers?: Record<string, { description: string; schema: { type: string; enum?: string[] } }>;
}

type Infer<T> = T extends z.ZodType ? z.output<T> : undefined;

/** Reads a JSON body with a size cap; malformed or oversized input is a 4xx. */
export async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header("content-type");
  if (type && !/^application\/([\w.+-]*\+)?json\b/i.test(type)) {
    throw new PassageError(
      "unsupported_media_type",
      `Content-Type "${type}" is not supported; send JSON with Content-Type: application/json`,
    );
  }
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (c.req.raw.body) {
    for await (const chunk of c.req.raw.body) {
      size += chunk.byteLength;
      if (size > MAX_BODY_BYTES) throw tooLarge();
      chunks.push(chunk);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") {
    throw new PassageError(
      "invalid_json",
      "Request body is empty; expected a JSON object",
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PassageError(
      "invalid_json",
      `Request body is not valid JSON: ${(err as Error).message}`,
    );
  }
}

function tooLarge() {
  return new PassageError(
    "payload_too_large",
    `Request body exceeds ${MAX_BODY_BYTES} bytes`,
  );
}

/** Parses `value` with `schema`, turning the first issue into a 400 naming the field. */
export function parseInput<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: string,
): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") path.push(issue.keys[0]);
  const param = path.join(".");
  const message = issue.code === "unrecognized_keys"
    ? `Unknown ${where} field "${param}"`
    : param
    ? `Invalid ${where} field "${param}": ${issue.message}`
    : `Invalid ${where}: ${issue.message}`;
  throw new PassageError("invalid_request", message, param ? { param } : {});
}

/** Registers routes on a Hono app and keeps their OpenAPI descriptions. */
export class Api {
  readonly #app: Hono<AppEnv>;
  readonly #specs: RouteSpec<z.ZodType | undefined, z.ZodType | undefined>[] = [];

  constructor(app: Hono<AppEnv>) {
    this.#app = app;
  }

  /** Adds a route whose handler receives the validated body and query. */
  route<
    B extends z.ZodType | undefined = undefined,
    Q extends z.ZodType | undefined = undefined,
  >(
    spec: RouteSpec<B, Q>,
    handler: (
      c: Context<AppEnv>,
      input: { body: Infer<B>; query: Infer<Q> },
    ) => Response | Promise<Response>,
  ): void {
    if (spec.idempotent && (spec.method !== "post" || spec.auth !== "apiKey")) {
      throw new Error(`${spec.operationId}: only a POST with an API key can be idempotent`);
    }
    this.#specs.push(spec);
    const honoPath = spec.path.replace(/\{(\w+)\}/g, ":$1");
    this.#app.on(spec.method.toUpperCase(), honoPath, async (c) => {
      if (spec.auth === "apiKey") c.set("apiKey", await authenticateRequest(c));
      const key = spec.idempotent ? readIdempotencyKey(c.req.header("idempotency-key")) : undefined;
      const query = spec.query ? parseInput(spec.query, c.req.query(), "query") : undefined;
      const rawBody = spec.body ? await readJson(c) : undefined;
      const body = spec.body ? parseInput(spec.body, rawBody, "body") : undefined;
      const run = async () =>
        await handler(c, { body: body as Infer<B>, query: query as Infer<Q> });
      if (key === undefined) return await run();
      // Bad input was refused above: it does not use up the key.
      return await idempotent(c.var.services.kv, {
        owner: c.var.apiKey,
        operation: spec.operationId,
        key,
        requestHash: await requestHash(c.req.method, c.req.path, rawBody),
      }, run);
    });
  }

  /** Every registered route's spec, for `lib/openapi.ts` to build the document from. */
  get specs(): readonly RouteSpec<z.ZodType | undefined, z.ZodType | undefined>[] {
    return this.#specs;
  }
}

async function authenticateRequest(c: Context<AppEnv>): Promise<ApiKeyInfo> {
  const header = c.req.header("authorization");
  if (!header) {
    throw new PassageError(
      "missing_api_key",
      "Send your API key as Authorization: Bearer sk_…",
    );
  }
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) {
    throw new PassageError(
      "invalid_api_key",
      'Authorization header must be "Bearer <API key>"',
    );
  }
  return await authenticate(c.var.services.kv, match[1]);
}

/** Upgrades the request to a WebSocket handed to `take`; anything else is a 426. */
export function acceptWebSocket(c: Context, take: (socket: WebSocket) => void): Response {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new PassageError("upgrade_required", "This endpoint only accepts WebSocket upgrades");
  }
  const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
  take(socket);
  return response;
}
