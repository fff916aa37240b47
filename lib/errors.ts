/**
 * The one error type of the API. Every failure a client can see is a
 * `PassageError` with a stable `code`; `app.onError` turns it into
 * `{"error": {"type", "code", "message", "param"?}}` with its HTTP status.
 */

const CODES = {
  // 400
  invalid_json: [400, "invalid_request_error"],
  invalid_request: [400, "invalid_request_error"],
  unsupported_provider: [400, "invalid_request_error"],
  unsupported_operation: [400, "invalid_request_error"],
  invalid_cursor: [400, "invalid_request_error"],
  sign_in_failed: [400, "invalid_request_error"],
  // 401
  missing_api_key: [401, "authentication_error"],
  invalid_api_key: [401, "authentication_error"],
  revoked_api_key: [401, "authentication_error"],
  invalid_device_token: [401, "authentication_error"],
  // 403
  invalid_csrf_token: [403, "permission_error"],
  admin_required: [403, "permission_error"],
  dev_sign_in_disabled: [403, "permission_error"],
  email_not_verified: [403, "permission_error"],
  // 404
  not_found: [404, "not_found_error"],
  link_not_found: [404, "not_found_error"],
  claim_code_not_found: [404, "not_found_error"],
  session_not_found: [404, "not_found_error"],
  webhook_key_not_found: [404, "not_found_error"],
  account_not_found: [404, "not_found_error"],
  api_key_not_found: [404, "not_found_error"],
  ios_app_not_configured: [404, "not_found_error"],
  android_app_not_configured: [404, "not_found_error"],
  extension_not_built: [404, "not_found_error"],
  // 426
  upgrade_required: [426, "invalid_request_error"],
  // 409
  claim_code_used: [409, "conflict_error"],
  invalid_status_transition: [409, "conflict_error"],
  session_ended: [409, "conflict_error"],
  write_conflict: [409, "conflict_error"],
  no_webhook_event: [409, "conflict_error"],
  webhook_delivery_in_progress: [409, "conflict_error"],
  // 410
  claim_code_expired: [410, "invalid_request_error"],
  // 413
  payload_too_large: [413, "invalid_request_error"],
  // 415
  unsupported_media_type: [415, "invalid_request_error"],
  // 422
  idempotency_key_reused: [422, "idempotency_error"],
  // 429
  too_many_attempts: [429, "rate_limit_error"],
  // 500
  internal_error: [500, "api_error"],
} as const satisfies Record<string, readonly [number, string]>;

/** A stable, machine-readable error code. */
export type ErrorCode = keyof typeof CODES;

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { type: string; code: ErrorCode; message: string; param?: string };
}

export class PassageError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  /** The request field at fault, as a dotted path (`operations.0.type`). */
  readonly param?: string;
  /** Extra response headers, such as `Retry-After`. */
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { param?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "PassageError";
    this.code = code;
    [this.status, this.type] = CODES[code];
    this.param = options.param;
    this.headers = options.headers ?? {};
  }

  toJSON(): ErrorBody {
    const error: ErrorBody["error"] = {
      type: this.type,
      code: this.code,
      message: this.message,
    };
    if (this.param !== undefined) error.param = this.param;
    return { error };
  }
}

/** Every code with its status, for the OpenAPI document. */
export function errorCodes(): Array<[ErrorCode, number]> {
  return Object.entries(CODES).map((
    [code, [status]],
  ) => [code as ErrorCode, status]);
}
