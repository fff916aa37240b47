/**
 * The one error type of the API. Every failure a client can see is a
 * `PassageError` with a stable `code`; `app.onError` turns it into
 * `{"error": {"type", "code", "message", "param"?}}` with its HTTP status.
 */
import { API_ERRORS } from "@passage/connect/errors";

/**
 * When the API answers each code, in a sentence (for the OpenAPI document).
 * The status and family come from the SDK's `API_ERRORS`, so the two cannot drift.
 */
const DESCRIPTIONS = {
  invalid_json: "The request body is empty or not valid JSON",
  invalid_request: "A field, query parameter or header is missing or invalid; `param` names it",
  unsupported_provider: "No provider has this id",
  unsupported_operation: "The provider does not support one of the operations asked for",
  invalid_cursor: "The `cursor` is not one this list handed out",
  sign_in_failed: "The console's sign-in with the identity provider did not complete",
  missing_api_key: "No `Authorization: Bearer sk_…` header",
  invalid_api_key: "The API key is malformed or unknown",
  revoked_api_key: "The API key was revoked",
  invalid_device_token: "The device token is unknown or expired",
  invalid_csrf_token: "The console form's CSRF token is missing or wrong",
  admin_required: "Only an admin of the account may do this",
  dev_sign_in_disabled: "Development sign-in is turned off on this server",
  email_not_verified: "The identity provider has not verified this email address",
  not_found: "No route or page at this path",
  link_not_found: "No link with this id belongs to your account",
  claim_code_not_found: "No link or session has this claim code",
  session_not_found: "No session with this id belongs to your account",
  webhook_key_not_found:
    "No webhook verification key with this id (unknown, or expired after a rotation)",
  account_not_found: "No account with this id",
  api_key_not_found: "No API key with this id belongs to your account",
  ios_app_not_configured: "This server has no iOS app configured",
  android_app_not_configured: "This server has no Android app configured",
  extension_not_built: "The browser extension has not been built on this server",
  upgrade_required: "This endpoint only accepts WebSocket upgrades",
  claim_code_used: "The claim code was already used by a device",
  invalid_status_transition: "The link or session is no longer in a state that allows this",
  session_ended: "The session has ended",
  write_conflict: "A concurrent change won; retry the request",
  no_webhook_event: "The link has no webhook event to redeliver",
  webhook_delivery_in_progress: "The event is being delivered right now; retry shortly",
  claim_code_expired: "The claim code has expired",
  payload_too_large: "The request body exceeds 64 KiB",
  unsupported_media_type: "The request body is not sent as `application/json`",
  idempotency_key_reused: "The Idempotency-Key was used before with a different body",
  too_many_attempts: "Too many attempts; wait for the time `Retry-After` gives",
  internal_error: "Something failed on Passage's side",
} as const satisfies { [code in keyof typeof API_ERRORS]: string };

/** A stable, machine-readable error code. */
export type ErrorCode = keyof typeof DESCRIPTIONS;

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
    ({ status: this.status, type: this.type } = API_ERRORS[code]);
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
  return Object.entries(DESCRIPTIONS).map(([code, description]) => ({
    ...API_ERRORS[code as ErrorCode],
    code: code as ErrorCode,
    description,
  }));
}
