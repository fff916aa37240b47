/**
 * The one error type of the API. Every failure a client can see is a
 * `PassageError` with a stable `code`; `app.onError` turns it into
 * `{"error": {"type", "code", "message", "param"?}}` with its HTTP status.
 */

const CODES = {
  // 400
  invalid_json: [400, "invalid_request_error", "The request body is empty or not valid JSON"],
  invalid_request: [
    400,
    "invalid_request_error",
    "A field, query parameter or header is missing or invalid; `param` names it",
  ],
  unsupported_provider: [400, "invalid_request_error", "No provider has this id"],
  unsupported_operation: [
    400,
    "invalid_request_error",
    "The provider does not support one of the operations asked for",
  ],
  invalid_cursor: [400, "invalid_request_error", "The `cursor` is not one this list handed out"],
  sign_in_failed: [
    400,
    "invalid_request_error",
    "The console's sign-in with the identity provider did not complete",
  ],
  // 401
  missing_api_key: [401, "authentication_error", "No `Authorization: Bearer sk_…` header"],
  invalid_api_key: [401, "authentication_error", "The API key is malformed or unknown"],
  revoked_api_key: [401, "authentication_error", "The API key was revoked"],
  invalid_device_token: [401, "authentication_error", "The device token is unknown or expired"],
  // 403
  invalid_csrf_token: [
    403,
    "permission_error",
    "The console form's CSRF token is missing or wrong",
  ],
  admin_required: [
    403,
    "permission_error",
    "Only an admin of the account may do this",
  ],
  dev_sign_in_disabled: [
    403,
    "permission_error",
    "Development sign-in is turned off on this server",
  ],
  email_not_verified: [
    403,
    "permission_error",
    "The identity provider has not verified this email address",
  ],
  // 404
  not_found: [404, "not_found_error", "No route or page at this path"],
  link_not_found: [404, "not_found_error", "No link with this id belongs to your account"],
  claim_code_not_found: [404, "not_found_error", "No link or session has this claim code"],
  session_not_found: [404, "not_found_error", "No session with this id belongs to your account"],
  webhook_key_not_found: [
    404,
    "not_found_error",
    "No webhook verification key with this id (unknown, or expired after a rotation)",
  ],
  account_not_found: [404, "not_found_error", "No account with this id"],
  api_key_not_found: [404, "not_found_error", "No API key with this id belongs to your account"],
  ios_app_not_configured: [404, "not_found_error", "This server has no iOS app configured"],
  android_app_not_configured: [404, "not_found_error", "This server has no Android app configured"],
  extension_not_built: [
    404,
    "not_found_error",
    "The browser extension has not been built on this server",
  ],
  // 426
  upgrade_required: [426, "invalid_request_error", "This endpoint only accepts WebSocket upgrades"],
  // 409
  claim_code_used: [409, "conflict_error", "The claim code was already used by a device"],
  invalid_status_transition: [
    409,
    "conflict_error",
    "The link or session is no longer in a state that allows this",
  ],
  session_ended: [409, "conflict_error", "The session has ended"],
  write_conflict: [409, "conflict_error", "A concurrent change won; retry the request"],
  no_webhook_event: [409, "conflict_error", "The link has no webhook event to redeliver"],
  webhook_delivery_in_progress: [
    409,
    "conflict_error",
    "The event is being delivered right now; retry shortly",
  ],
  // 410
  claim_code_expired: [410, "invalid_request_error", "The claim code has expired"],
  // 413
  payload_too_large: [413, "invalid_request_error", "The request body exceeds 64 KiB"],
  // 415
  unsupported_media_type: [
    415,
    "invalid_request_error",
    "The request body is not sent as `application/json`",
  ],
  // 422
  idempotency_key_reused: [
    422,
    "idempotency_error",
    "The Idempotency-Key was used before with a different body",
  ],
  // 429
  too_many_attempts: [
    429,
    "rate_limit_error",
    "Too many attempts; wait for the time `Retry-After` gives",
  ],
  // 500
  internal_error: [500, "api_error", "Something failed on Passage's side"],
} as const satisfies Record<string, readonly [status: number, type: string, description: string]>;

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
  return errorCatalog().map(({ code, status }) => [code, status]);
}

/** One error code as the OpenAPI document describes it. */
export interface ErrorCodeInfo {
  code: ErrorCode;
  status: number;
  /** The error family, the body's `error.type` (`not_found_error`, …). */
  type: string;
  /** When the API answers with it, in a sentence. */
  description: string;
}

/** Every code with its status, family and description, in declaration order. */
export function errorCatalog(): ErrorCodeInfo[] {
  return Object.entries(CODES).map(([code, [status, type, description]]) => ({
    code: code as ErrorCode,
    status,
    type,
    description,
  }));
}
