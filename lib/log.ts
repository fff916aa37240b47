/**
 * Structured logs: one JSON object per line on stdout, `{"time", "level",
 * "event", …fields}`. Fields are scalars only (ids, statuses, counts), so a
 * body, a header map or a claim object cannot be logged by accident; callers
 * pass ids, never claim codes, tokens, secrets or URLs with a query.
 *
 * The level is `PASSAGE_LOG` (`silent`, `info`, `debug`; `main.ts` starts at
 * `info`). Imported anywhere else (tests, CLIs) the log stays silent unless
 * `PASSAGE_LOG` says otherwise, so test output stays readable.
 *
 * ```ts
 * log.info("link.status", { link_id: "link_01…", from: "pending", to: "claimed" });
 * ```
 */
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";

/** A log line's severity; `silent` turns everything off. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** What a line may carry besides its event name: scalars only. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

const RANK: Record<LogLevel | "silent", number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: Infinity,
};

function readLevel(raw: string | undefined, fallback: LogLevel | "silent"): LogLevel | "silent" {
  if (raw === undefined || raw === "") return fallback;
  if (raw in RANK) return raw as LogLevel | "silent";
  throw new Error(`PASSAGE_LOG must be silent, error, warn, info or debug, got "${raw}"`);
}

function envLevel(): string | undefined {
  try {
    return Deno.env.get("PASSAGE_LOG");
  } catch {
    return undefined; // no --allow-env: stay with the default
  }
}

let threshold = RANK[readLevel(envLevel(), "silent")];

/**
 * Sets the level: `PASSAGE_LOG` when set, else `fallback`. `main.ts` calls
 * it with `info` when it serves.
 */
export function configureLog(fallback: LogLevel | "silent"): void {
  threshold = RANK[readLevel(envLevel(), fallback)];
}

function write(level: LogLevel, event: string, fields: LogFields): void {
  if (RANK[level] < threshold) return;
  const line: Record<string, unknown> = { time: new Date().toISOString(), level, event };
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) line[name] = value;
  }
  console.log(JSON.stringify(line));
}

/** The server's log: `log.info("event.name", { id_field: "…" })`. */
export const log = {
  debug: (event: string, fields: LogFields = {}): void => write("debug", event, fields),
  info: (event: string, fields: LogFields = {}): void => write("info", event, fields),
  warn: (event: string, fields: LogFields = {}): void => write("warn", event, fields),
  error: (event: string, fields: LogFields = {}): void => write("error", event, fields),
};

/** The log's type, for `Services.log` (`lib/services.ts`). */
export type Log = typeof log;

/** The response header that carries the request id; a client's own, sent in it, is only logged. */
export const REQUEST_ID_HEADER = "Request-Id";
/** What a client's own request id may be to be logged (`client_request_id`). */
const CLIENT_REQUEST_ID = /^[\w=.:-]{1,128}$/;

const ID_FIELDS: Record<string, string> = {
  link: "link_id",
  sess: "session_id",
  acct: "account_id",
  evt: "event_id",
  key: "key_id",
};
const PASSAGE_ID = /^(link|sess|acct|evt|key)_[0-9A-HJKMNP-TV-Z]{26}$/;

/**
 * Gives every request an id of ours, a fresh UUID, and answers it in the
 * `Request-Id` header: unique per answer, so the id a developer quotes to
 * support names one answer and cannot be chosen to look like another's. A
 * `Request-Id` the client sent is logged beside it (`client_request_id`, when
 * it is up to 128 of `A-Za-z0-9_=.:-`), so support can find a request by the
 * client's own id too. Logs one `request` line when the answer is ready:
 * method, route pattern (never the URL, whose path or query may hold a claim
 * code or a token), status, latency, and the ids the route named or the API
 * key belongs to.
 */
export function requestLog(): MiddlewareHandler {
  return async function requestLog(c, next) {
    const started = performance.now();
    const id = crypto.randomUUID();
    c.set("requestId", id);
    c.header(REQUEST_ID_HEADER, id);
    const client = c.req.header(REQUEST_ID_HEADER);
    await next();
    // A handler's own Response (not built through `c`) may lack the header.
    if (!c.res.headers.has(REQUEST_ID_HEADER)) {
      try {
        c.res.headers.set(REQUEST_ID_HEADER, id);
      } catch {
        // Immutable headers (a WebSocket's 101): the id is still logged.
      }
    }
    const fields: LogFields = {
      request_id: id,
      client_request_id: client && CLIENT_REQUEST_ID.test(client) ? client : undefined,
      method: c.req.method,
      // The pattern of the route that answered (middleware is registered for ALL).
      route: matchedRoutes(c).findLast((r) => r.method !== "ALL")?.path ?? null,
      status: c.res.status,
      latency_ms: Math.round(performance.now() - started),
    };
    for (const value of Object.values(c.req.param() as Record<string, string>)) {
      const match = PASSAGE_ID.exec(value);
      if (match) fields[ID_FIELDS[match[1]]] = value;
    }
    const apiKey = c.get("apiKey") as { accountId?: string; id?: string } | undefined;
    if (apiKey?.accountId) fields.account_id ??= apiKey.accountId;
    log.info("request", fields);
  };
}

declare module "hono" {
  interface ContextVariableMap {
    /** This answer's `Request-Id`, set by `requestLog()`. */
    requestId: string;
  }
}
