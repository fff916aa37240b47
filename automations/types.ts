/**
 * What a provider automation is: how it logs the user in and how it reads
 * each operation's result, through the `Browser` on the user's device.
 *
 * @module
 */
import { type Browser, BrowserCommandError } from "@passage/connect";
import type { OperationResults } from "@passage/connect/results";
import type { ClientEvent, OperationType } from "@passage/connect/schemas";

/** What the login reports as it goes (the engine records them as client events). */
export type LoginEvent = Omit<ClientEvent, "at">;

/** What an automation runs against. */
export interface AutomationContext {
  /** The browser on the user's device. */
  browser: Browser;
  /** Base URL of the provider site: the sandbox for test links, the real site for live ones. */
  baseUrl: string;
  /** How long the user has to log in, in milliseconds (default 5 minutes), over every attempt. */
  loginTimeoutMs?: number;
  /**
   * How many wrong passwords or codes the user may enter before the login
   * fails (default: the provider's `loginAttempts`, else 3).
   */
  loginAttempts?: number;
  /** Told of each step of the login (`login_started`, `login_failed_attempt`, …); awaited. */
  onEvent?: (event: LoginEvent) => void | Promise<void>;
}

/** Reads one operation's result; it is validated with the operation's schema before it returns. */
export type OperationRunner<K extends OperationType> = (
  ctx: AutomationContext,
) => Promise<OperationResults[K]>;

/** One provider: its login and the operations it supports. */
export interface ProviderAutomation {
  /** Provider id as links name it: `"tmobile"`. */
  id: string;
  /** The name users see: `"T-Mobile"`. */
  displayName: string;
  /** Real site origin, for live links. */
  liveUrl: string;
  /**
   * Every origin a live link's device may load as the top page (the login
   * pages and the account pages, `liveUrl`'s origin among them). Test links
   * get the sandbox's origin instead (this server's public URL).
   */
  origins: readonly string[];
  /**
   * How many wrong passwords or verification codes the user may enter, in
   * all, before the link fails (`invalid_credentials` / `invalid_mfa_code`).
   * Default 3.
   */
  loginAttempts?: number;
  /** The operations this provider supports. */
  operations: { [K in OperationType]?: OperationRunner<K> };
  /** Navigate to the login page and hand control to the user until logged in; throws AutomationError on failure. */
  login(ctx: AutomationContext): Promise<void>;
  /**
   * Whether the device's browser is still logged in, asked by a run that
   * takes over a link whose login succeeded under another instance: true,
   * and the run goes on without a new login. Absent: it logs in again.
   */
  stillLoggedIn?(ctx: AutomationContext): Promise<boolean>;
}

/** Why an automation failed. */
export type AutomationErrorCode =
  /** The site refused the username or password, on every attempt the user had. */
  | "invalid_credentials"
  /** The site refused the verification code, on every attempt the user had. */
  | "invalid_mfa_code"
  /** The user reached the MFA step and did not finish it in time. */
  | "mfa_timeout"
  /** The site said the account is locked. */
  | "account_locked"
  /** The site no longer looks like the automation expects (page or data shape). */
  | "site_changed"
  /** The user did not log in in time. */
  | "user_abandoned"
  /** The user's device went away (or the session ended) before the automation finished. */
  | "device_lost"
  /** No device ever connected to the link before its session ended (set by the engine). */
  | "device_never_connected"
  /** Anything else: the site answered an error, a command failed. */
  | "operation_failed";

/** An automation's failure, with a stable code. Messages never hold what the user typed. */
export class AutomationError extends Error {
  /** A stable machine-readable reason. */
  readonly code: AutomationErrorCode;

  constructor(code: AutomationErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AutomationError";
    this.code = code;
  }
}

/**
 * Turns anything a command threw into an `AutomationError`: a lost device or
 * an ended session is `device_lost`, a missing element is `site_changed`, and
 * anything else `operation_failed`. An `AutomationError` passes through.
 */
export function toAutomationError(error: unknown, doing: string): AutomationError {
  if (error instanceof AutomationError) return error;
  if (error instanceof BrowserCommandError) {
    switch (error.code) {
      case "session_ended":
      case "connection_lost":
      case "device_lost":
        return new AutomationError(
          "device_lost",
          `The device went away while ${doing}: ${error.message}`,
          { cause: error },
        );
      case "selector_not_found":
        return new AutomationError(
          "site_changed",
          `The page changed: ${doing} failed: ${error.message}`,
          { cause: error },
        );
    }
    return new AutomationError("operation_failed", `${doing} failed: ${error.message}`, {
      cause: error,
    });
  }
  return new AutomationError(
    "operation_failed",
    `${doing} failed: ${error instanceof Error ? error.message : String(error)}`,
    { cause: error },
  );
}
