/**
 * The client's own types: links typed by the operations they asked for,
 * pages, and the webhook routes' answers.
 *
 * A link created with `operations: [{ type: "mobileBillingStatement:read" }]`
 * is a `TypedLink<"mobileBillingStatement:read">`, whose `results` has exactly
 * that key, typed as a `MobileBillingStatement`.
 *
 * @module
 */
import type { CreateLinkParams, Link, OperationStatus, OperationType } from "./schemas.ts";
import type { OperationResults } from "./results.ts";

/**
 * The results of a link that asked for the operations `Ops`: exactly those
 * keys, each with its result type. When `Ops` is not known (any
 * `OperationType`), every key is optional.
 *
 * @example
 * ```ts
 * import type { ResultsOf } from "@passage/connect";
 * function amountDue(results: ResultsOf<"mobileBillingStatement:read">): string {
 *   return results["mobileBillingStatement:read"].amountDue;
 * }
 * ```
 */
export type ResultsOf<Ops extends OperationType> = OperationType extends Ops
  ? Partial<OperationResults>
  : Pick<OperationResults, Ops>;

/**
 * A link whose `results` are typed by the operations it asked for, `Ops`.
 * What `passage.links.create()` returns; `get`, `cancel` and `list` return it
 * too (with every operation possible unless you name them).
 *
 * @example
 * ```ts
 * import { Passage, type TypedLink } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const link: TypedLink<"paymentMethod:read"> = await passage.links.create({
 *   provider: "tmobile",
 *   operations: [{ type: "paymentMethod:read" }],
 * });
 * const done = await passage.links.get(link); // still TypedLink<"paymentMethod:read">
 * for (const card of done.results?.["paymentMethod:read"].paymentMethods ?? []) {
 *   console.log(card.brand, card.last4);
 * }
 * ```
 */
export interface TypedLink<Ops extends OperationType = OperationType>
  extends Omit<Link, "operations" | "results"> {
  /** The operations asked for, in order, each with where it is. */
  operations: Array<{ type: Ops; status: OperationStatus }>;
  /**
   * The validated results by operation type, once `complete` (also sent in the
   * webhook); null before, and after the retention period.
   */
  results: ResultsOf<Ops> | null;
}

/**
 * The body of `POST /v1/links`, with the operation types kept as literals so
 * the link that comes back is typed by them.
 *
 * @example
 * ```ts
 * import type { CreateLinkInput } from "@passage/connect";
 * const params: CreateLinkInput<"orderHistory:read"> = {
 *   provider: "doordash",
 *   operations: [{ type: "orderHistory:read" }],
 *   webhookUrl: "https://api.yourapp.com/passage/webhook",
 * };
 * ```
 */
export interface CreateLinkInput<Ops extends OperationType = OperationType>
  extends Omit<CreateLinkParams, "operations"> {
  /** Operations to run after the user's single login, in order (1 to 10, no type twice). */
  operations: ReadonlyArray<{ readonly type: Ops }>;
}

/**
 * One page of a list, newest first.
 *
 * @example
 * ```ts
 * import { Passage, type Page, type TypedLink } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const page: Page<TypedLink> = await passage.links.list({ limit: 10 });
 * if (page.hasMore) await passage.links.list({ cursor: page.nextCursor! });
 * ```
 */
export interface Page<T> {
  /** Always `"list"`. */
  object: "list";
  /** The items of this page. */
  data: T[];
  /** Whether more items follow this page (absent on lists that are never paged). */
  hasMore?: boolean;
  /** Pass as `cursor` to get the next page; null or absent on the last page. */
  nextCursor?: string | null;
}

/**
 * One attempt to deliver a webhook event.
 *
 * @example
 * ```ts
 * import type { WebhookAttempt } from "@passage/connect";
 * const failed = (a: WebhookAttempt) => a.error !== null;
 * ```
 */
export interface WebhookAttempt {
  /** The attempt's number, from 1. */
  number: number;
  /** When it was made (ISO 8601). */
  at: string;
  /** What the receiver answered; null when nothing came back. */
  statusCode: number | null;
  /** Null on a 2xx; else why: `timeout`, `http_error`, `blocked_address`, `rate_limited`, … */
  error: string | null;
  /** How long it took. */
  durationMs: number;
  /** `automatic` from the retry schedule, `manual` from a redelivery. */
  trigger: "automatic" | "manual";
}

/**
 * A link's webhook event, with every delivery attempt.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * for await (const event of passage.webhooks.listEvents("link_…")) {
 *   console.log(event.type, event.status, event.attempts.length);
 * }
 * ```
 */
export interface WebhookEventSummary {
  /** The event id (`evt_…`), the same on every attempt. */
  id: string;
  /** `link.completed` or `link.failed`. */
  type: "link.completed" | "link.failed";
  /** `pending` while attempts remain, then `delivered`, `failed` or `disabled` (the receiver answered 410). */
  status: "pending" | "delivered" | "failed" | "disabled";
  /** When the event was created (ISO 8601). */
  createdAt: string;
  /** Every attempt, oldest first. */
  attempts: WebhookAttempt[];
  /** When the next automatic attempt is due (ISO 8601); null when none is. */
  nextAttemptAt: string | null;
}

/**
 * The attempt a redelivery made, whatever the receiver answered.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const attempt = await passage.webhooks.redeliver("link_…");
 * if (attempt.error) console.log(`${attempt.eventId}: ${attempt.error}`);
 * ```
 */
export interface RedeliveryAttempt extends WebhookAttempt {
  /** The event sent again (its id does not change). */
  eventId: string;
}

/**
 * What a test webhook's receiver answered.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const result = await passage.webhooks.sendTest({ url: "https://api.yourapp.com/passage/webhook" });
 * console.log(result.statusCode, result.error);
 * ```
 */
export interface WebhookTestResult {
  /** The test event's id (`evt_…`); a test event is not stored and never retried. */
  eventId: string;
  /** Where it was sent. */
  url: string;
  /** What the receiver answered; null when nothing came back. */
  statusCode: number | null;
  /** Null on a 2xx; else why (`blocked_address`, `timeout`, `http_error`, …). */
  error: string | null;
  /** How long it took. */
  durationMs: number;
}

/**
 * Per-request options, on every method that calls the API.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const link = await passage.links.get("link_…", {
 *   timeout: 5_000,
 *   maxRetries: 0,
 *   signal: AbortSignal.timeout(20_000),
 * });
 * ```
 */
export interface RequestOptions {
  /**
   * Makes a repeat of a POST that creates or acts return the first answer
   * instead of acting twice. Without one, the SDK makes a key for each such
   * call, so its own retries are safe; pass yours to make your retries safe too.
   */
  idempotencyKey?: string;
  /** Milliseconds each attempt may take (default: the client's `timeout`). */
  timeout?: number;
  /** Retries after the first attempt (default: the client's `maxRetries`). */
  maxRetries?: number;
  /** Aborts the request, and its retries, when it fires. */
  signal?: AbortSignal;
}

/**
 * A WebSocket class implementing the standard API (`onopen`, `onmessage`,
 * `onclose`, `send`, `close`, `readyState`, `addEventListener`): the global
 * one on Deno, browsers and Node 22+, or the `ws` package's on Node 20.
 *
 * @example
 * ```ts
 * import { Passage, type WebSocketConstructor } from "@passage/connect";
 * const WebSocket: WebSocketConstructor = globalThis.WebSocket;
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000", WebSocket });
 * ```
 */
export type WebSocketConstructor = new (url: string) => object;

/**
 * Options for `new Passage()`.
 *
 * @example
 * ```ts
 * import { Passage, type PassageOptions } from "@passage/connect";
 * const options: PassageOptions = {
 *   apiKey: "sk_test_…",
 *   baseUrl: "http://localhost:8000",
 *   timeout: 10_000,
 *   maxRetries: 3,
 * };
 * const passage = new Passage(options);
 * ```
 */
export interface PassageOptions {
  /** A secret key: `sk_test_…` or `sk_live_…`. */
  apiKey: string;
  /** The Passage server, such as `http://localhost:8000`. */
  baseUrl: string;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
  /**
   * The WebSocket class for `session.connect()` (default
   * `globalThis.WebSocket`); on Node 20 pass the `ws` package's.
   */
  WebSocket?: WebSocketConstructor;
  /** Milliseconds each attempt of a request may take (default 30000). */
  timeout?: number;
  /** Retries after a failed attempt, for requests safe to retry (default 2). */
  maxRetries?: number;
}
