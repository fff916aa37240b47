/**
 * How the client talks to the API: one `send()` that adds the key, times each
 * attempt out, and retries what is safe to retry. Internal: the package
 * exports the errors, not this module.
 *
 * Retried: network failures and timeouts, `429` and `5xx` answers, with
 * exponential backoff and full jitter, or after the server's `Retry-After`
 * when that is at most {@linkcode MAX_RETRY_AFTER_MS}. Only a request that
 * cannot act twice is retried on anything but a 429 (which the server refused
 * before doing anything): a `GET`, or a `POST` with an `Idempotency-Key` to a
 * route that honours it ({@linkcode IDEMPOTENT_POSTS}: every POST that creates
 * or acts; the server replays the first answer to a repeat).
 *
 * @module
 */
import { PassageApiError, PassageConnectionError } from "./errors.ts";
import type { RequestOptions } from "./types.ts";

/** Longest `Retry-After` waited for; a longer one ends the retries. */
export const MAX_RETRY_AFTER_MS = 60_000;
/** The first backoff; each retry doubles it, up to {@linkcode MAX_BACKOFF_MS}. */
const BASE_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 8_000;

/** What the HTTP layer needs from the client's options. */
export interface HttpConfig {
  apiKey: string;
  baseUrl: string;
  fetch?: typeof fetch;
  timeout: number;
  maxRetries: number;
}

/** One API call, as the resources make it. */
export interface Call {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
}

/**
 * The POST routes that honour `Idempotency-Key`, as the server's OpenAPI
 * document marks them (`tests/openapi_test.ts` holds the two equal).
 */
export const IDEMPOTENT_POSTS: readonly RegExp[] = [
  /^\/v1\/links$/,
  /^\/v1\/links\/[^/]+\/cancel$/,
  /^\/v1\/links\/[^/]+\/webhooks\/redeliver$/,
  /^\/v1\/sessions$/,
  /^\/v1\/sessions\/[^/]+\/end$/,
  /^\/v1\/webhooks\/test$/,
];

/** Whether the server replays a repeat of `call` that carries an `Idempotency-Key`. */
function honoursIdempotency(call: Call): boolean {
  const path = call.path.split("?")[0];
  return call.method === "POST" && IDEMPOTENT_POSTS.some((route) => route.test(path));
}

/** The delay before retry number `retry` (from 1): exponential, with full jitter. */
export function backoff(retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (retry - 1));
  return ceiling / 2 + random() * ceiling / 2;
}

/** Milliseconds a `Retry-After` value (seconds or an HTTP date) asks to wait, or null. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Sends `call` with the retries and timeouts of `config` and `options`; resolves with the JSON body. */
export async function send<T>(
  config: HttpConfig,
  call: Call,
  options: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${config.apiKey}` };
  if (call.body !== undefined) headers["content-type"] = "application/json";
  // Every POST the server deduplicates gets a key (the caller's, or one made
  // here for this call), so its retries are safe; other POSTs are never retried.
  const idempotent = honoursIdempotency(call);
  const key = options.idempotencyKey ?? (idempotent ? crypto.randomUUID() : undefined);
  if (key) headers["idempotency-key"] = key;
  const safe = call.method === "GET" || (idempotent && key !== undefined);
  const maxRetries = options.maxRetries ?? config.maxRetries;
  const timeout = options.timeout ?? config.timeout;
  const doFetch = config.fetch ?? fetch;
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  const what = `${call.method} ${call.path}`;

  for (let attempt = 1;; attempt++) {
    // A timer cleared after each attempt: no timer outlives the call.
    const timer = new AbortController();
    const clock = setTimeout(
      () => timer.abort(new DOMException("attempt timed out", "TimeoutError")),
      timeout,
    );
    const signal = options.signal ? AbortSignal.any([options.signal, timer.signal]) : timer.signal;
    let res: Response;
    let text: string;
    try {
      res = await doFetch(`${config.baseUrl}${call.path}`, {
        method: call.method,
        headers,
        body,
        signal,
      });
      text = await res.text();
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      const timedOut = timer.signal.aborted;
      if (safe && attempt <= maxRetries) {
        await sleep(backoff(attempt), options.signal);
        continue;
      }
      throw new PassageConnectionError(
        timedOut ? "timeout" : "network_error",
        timedOut
          ? `${what} took longer than ${timeout} ms (${attempt} attempt${attempt > 1 ? "s" : ""})`
          : `${what} could not reach ${config.baseUrl} (${attempt} attempt${
            attempt > 1 ? "s" : ""
          })`,
        attempt,
        { cause: err },
      );
    } finally {
      clearTimeout(clock);
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok) return json as T;

    const retryable = res.status === 429 || (safe && res.status >= 500);
    const after = retryAfterMs(res.headers.get("retry-after"));
    if (retryable && attempt <= maxRetries && (after === null || after <= MAX_RETRY_AFTER_MS)) {
      await sleep(after ?? backoff(attempt), options.signal);
      continue;
    }
    const error = (json as { error?: { type: string; code: string; message: string } })?.error;
    throw new PassageApiError(
      res.status,
      typeof error?.code === "string" ? error : {
        type: "api_error",
        code: "unexpected_response",
        message: `${what} answered ${res.status}`,
      },
      res.headers.get("request-id"),
    );
  }
}
