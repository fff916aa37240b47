/**
 * The errors the Passage API answers, as unions the compiler can check:
 * `PassageApiError.code` is an {@linkcode ApiErrorCode} and `.type` an
 * {@linkcode ApiErrorType}. The list mirrors the server's (`lib/errors.ts`);
 * a test keeps the two equal. `PassageConnectionError` is for a request
 * that got no answer.
 *
 * @module
 */

/**
 * Every error the API can answer: its HTTP status and its family (`type`).
 *
 * @example
 * ```ts
 * import { API_ERRORS } from "@passage/connect";
 * API_ERRORS.link_not_found; // { status: 404, type: "not_found_error" }
 * ```
 */
export const API_ERRORS = {
  invalid_json: { status: 400, type: "invalid_request_error" },
  invalid_request: { status: 400, type: "invalid_request_error" },
  unsupported_provider: { status: 400, type: "invalid_request_error" },
  unsupported_operation: { status: 400, type: "invalid_request_error" },
  invalid_cursor: { status: 400, type: "invalid_request_error" },
  sign_in_failed: { status: 400, type: "invalid_request_error" },
  missing_api_key: { status: 401, type: "authentication_error" },
  invalid_api_key: { status: 401, type: "authentication_error" },
  revoked_api_key: { status: 401, type: "authentication_error" },
  invalid_device_token: { status: 401, type: "authentication_error" },
  invalid_csrf_token: { status: 403, type: "permission_error" },
  dev_sign_in_disabled: { status: 403, type: "permission_error" },
  email_not_verified: { status: 403, type: "permission_error" },
  admin_required: { status: 403, type: "permission_error" },
  not_found: { status: 404, type: "not_found_error" },
  link_not_found: { status: 404, type: "not_found_error" },
  claim_code_not_found: { status: 404, type: "not_found_error" },
  session_not_found: { status: 404, type: "not_found_error" },
  webhook_key_not_found: { status: 404, type: "not_found_error" },
  account_not_found: { status: 404, type: "not_found_error" },
  api_key_not_found: { status: 404, type: "not_found_error" },
  ios_app_not_configured: { status: 404, type: "not_found_error" },
  android_app_not_configured: { status: 404, type: "not_found_error" },
  extension_not_built: { status: 404, type: "not_found_error" },
  upgrade_required: { status: 426, type: "invalid_request_error" },
  claim_code_used: { status: 409, type: "conflict_error" },
  invalid_status_transition: { status: 409, type: "conflict_error" },
  session_ended: { status: 409, type: "conflict_error" },
  write_conflict: { status: 409, type: "conflict_error" },
  no_webhook_event: { status: 409, type: "conflict_error" },
  webhook_delivery_in_progress: { status: 409, type: "conflict_error" },
  claim_code_expired: { status: 410, type: "invalid_request_error" },
  payload_too_large: { status: 413, type: "invalid_request_error" },
  unsupported_media_type: { status: 415, type: "invalid_request_error" },
  idempotency_key_reused: { status: 422, type: "idempotency_error" },
  too_many_attempts: { status: 429, type: "rate_limit_error" },
  internal_error: { status: 500, type: "api_error" },
} as const;

/**
 * A stable, machine-readable error code the server answers, such as
 * `"link_not_found"`; plus `"unexpected_response"`, which this SDK reports
 * when an answer is not a Passage error body (a proxy's 502 page, say).
 *
 * @example
 * ```ts
 * import type { ApiErrorCode } from "@passage/connect";
 * const retryable: ApiErrorCode[] = ["too_many_attempts", "internal_error"];
 * ```
 */
export type ApiErrorCode = keyof typeof API_ERRORS | "unexpected_response";

/**
 * The family of an API error: `invalid_request_error`, `authentication_error`,
 * `permission_error`, `not_found_error`, `conflict_error`,
 * `idempotency_error`, `rate_limit_error` or `api_error`.
 *
 * @example
 * ```ts
 * import type { ApiErrorType } from "@passage/connect";
 * const mine = (type: ApiErrorType) => type === "invalid_request_error";
 * ```
 */
export type ApiErrorType = typeof API_ERRORS[keyof typeof API_ERRORS]["type"];

/**
 * An error answered by the Passage API, with its stable `code`, family
 * `type` and HTTP `status`.
 *
 * @example
 * ```ts
 * import { Passage, PassageApiError } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * try {
 *   await passage.links.get("link_missing");
 * } catch (err) {
 *   if (err instanceof PassageApiError && err.code === "link_not_found") console.log("gone");
 * }
 * ```
 */
export class PassageApiError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** A stable machine-readable code, such as `"link_not_found"`. */
  readonly code: ApiErrorCode;
  /** The error family, such as `"invalid_request_error"`. */
  readonly type: ApiErrorType;
  /** The request field at fault, when there is one. */
  readonly param?: string;
  /** The server's `Request-Id` for this answer, to quote to support; null when it sent none. */
  readonly requestId: string | null;

  /**
   * Makes the error from an HTTP status and the `error` object of the response body.
   *
   * @example
   * ```ts
   * import { PassageApiError } from "@passage/connect";
   * // as the client throws it for a 404, to test your own error handling
   * const err = new PassageApiError(404, {
   *   type: "not_found_error",
   *   code: "link_not_found",
   *   message: "No link link_123",
   * }, "req_123");
   * err.code; // "link_not_found"
   * ```
   */
  constructor(
    status: number,
    body: { type: string; code: string; message: string; param?: string },
    requestId: string | null = null,
  ) {
    super(body.message);
    this.name = "PassageApiError";
    this.status = status;
    this.code = body.code as ApiErrorCode;
    this.type = body.type as ApiErrorType;
    this.param = body.param;
    this.requestId = requestId;
  }
}

/**
 * The API could not be reached: `timeout` when an attempt took longer than
 * the client's `timeout`, `network_error` when the connection failed. Thrown
 * once the retries (if the request was safe to retry) are spent; `cause` is
 * the last failure.
 *
 * @example
 * ```ts
 * import { Passage, PassageConnectionError } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000", timeout: 5000 });
 * try {
 *   await passage.links.list();
 * } catch (err) {
 *   if (err instanceof PassageConnectionError) console.log(err.code, err.attempts);
 * }
 * ```
 */
export class PassageConnectionError extends Error {
  /** `timeout` or `network_error`. */
  readonly code: "timeout" | "network_error";
  /** How many attempts were made. */
  readonly attempts: number;

  /**
   * Makes the error for the last of `attempts` failures, `cause`.
   *
   * @example
   * ```ts
   * import { PassageConnectionError } from "@passage/connect";
   * const err = new PassageConnectionError(
   *   "timeout",
   *   "GET /v1/links took longer than 30000 ms (3 attempts)",
   *   3,
   * );
   * ```
   */
  constructor(
    code: "timeout" | "network_error",
    message: string,
    attempts: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "PassageConnectionError";
    this.code = code;
    this.attempts = attempts;
  }
}
