/**
 * The login every provider shares: open the site's login page, hand the
 * browser to the user with `yieldToUser`, and tell from which condition fired
 * whether they got in, typed a wrong password or code, or hit a locked
 * account. A wrong password or code gives the login back to the user (a fresh
 * page, and a status saying how many attempts are left) until the provider's
 * `loginAttempts` are used up; a locked account fails at once.
 *
 * `stillLoggedIn` tells a run taken over from another instance whether the
 * device's browser still has the session, so it can go on without a new login.
 *
 * @module
 */
import { BrowserCommandError } from "@passage/connect";
import type { YieldCondition } from "@passage/connect";
import {
  type AutomationContext,
  AutomationError,
  type LoginEvent,
  toAutomationError,
} from "./types.ts";

/** How long the user has to log in when the context does not say. */
export const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60_000;

/** How many wrong passwords or codes a login allows when neither context nor provider says. */
export const DEFAULT_LOGIN_ATTEMPTS = 3;

/** The shortest yield a retry gets, even when the login's deadline is nearer. */
const MIN_YIELD_MS = 1_000;

/** Where a site's login lives and what it shows for each outcome. */
export interface LoginSpec {
  /** The name the user sees in the device's prompt. */
  displayName: string;
  /** Path of the login page under the base URL: `"/login"`. */
  loginPath: string;
  /** An element only the login page has, to know the page is still what we expect. */
  formSelector: string;
  /** Path of the JSON request the site makes once logged in: `"/api/account"`. */
  accountApiPath: string;
  /** What the site shows after a wrong username or password. */
  wrongPasswordSelector: string;
  /** What the site shows for a locked account. */
  lockedSelector: string;
  /** Path of the MFA step's page: `"/mfa"` (reached after the password; reloaded for a retry). */
  mfaPath: string;
  /** An element of the MFA step, to tell an MFA timeout from an abandoned login. */
  mfaSelector: string;
  /** What the site shows after a wrong verification code. */
  wrongCodeSelector: string;
}

/** The login every sandbox site has, and the live automations assume until checked against their sites. */
const STANDARD_LOGIN: Omit<LoginSpec, "displayName"> = {
  loginPath: "/login",
  formSelector: "#username",
  accountApiPath: "/api/account",
  wrongPasswordSelector: "#login-error",
  lockedSelector: "#account-locked",
  mfaPath: "/mfa",
  mfaSelector: "#mfa-code",
  wrongCodeSelector: "#mfa-error",
};

const SUCCESS = 0;
const WRONG_PASSWORD = 1;
const LOCKED = 2;
const WRONG_CODE = 3;

type Step = "password" | "mfa";

const attemptsLeft = (n: number) => `${n} attempt${n === 1 ? "" : "s"} left`;

/** What the device shows the user while they have control. */
function statusFor(spec: LoginSpec, step: Step, retry: { left: number } | null) {
  if (step === "mfa") {
    return {
      heading: `Enter your ${spec.displayName} verification code`,
      subheading: retry
        ? `${spec.displayName} did not accept that code. Try again: ${attemptsLeft(retry.left)}`
        : "Your password and codes stay on this device",
    };
  }
  return {
    heading: `Log in to ${spec.displayName}`,
    subheading: retry
      ? `${spec.displayName} did not accept that username or password. Try again: ${
        attemptsLeft(retry.left)
      }`
      : "Your password and codes stay on this device",
  };
}

/**
 * Runs the login: `STANDARD_LOGIN` unless `site` says otherwise. Resolves once
 * the site has loaded the account API after a login; throws an
 * `AutomationError` otherwise. `ctx.loginTimeoutMs` bounds the whole login,
 * retries included; `ctx.loginAttempts` (default 3) is how many wrong
 * passwords and codes, in all, the user may enter: the last one fails the
 * login with `invalid_credentials` or `invalid_mfa_code`. Each step is told to
 * `ctx.onEvent`.
 */
export async function handOffLogin(
  ctx: AutomationContext,
  site: Pick<LoginSpec, "displayName"> & Partial<LoginSpec>,
): Promise<void> {
  const spec: LoginSpec = { ...STANDARD_LOGIN, ...site };
  const { browser } = ctx;
  const report = async (event: LoginEvent) => await ctx.onEvent?.(event);
  const loginUrl = `${ctx.baseUrl}${spec.loginPath}`;
  const mfaUrl = `${ctx.baseUrl}${spec.mfaPath}`;
  const mfaPathname = new URL(mfaUrl).pathname;
  const attempts = Math.max(1, Math.floor(ctx.loginAttempts ?? DEFAULT_LOGIN_ATTEMPTS));
  const timeout = ctx.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
  const deadline = Date.now() + timeout;

  const open = async (url: string, selector: string, what: string) => {
    try {
      await browser.navigate({ url });
    } catch (error) {
      throw toAutomationError(error, `opening the ${spec.displayName} ${what}`);
    }
    if (!await exists(ctx, selector, `checking the ${what}`)) {
      throw new AutomationError(
        "site_changed",
        `The ${spec.displayName} ${what} has no ${selector}`,
      );
    }
  };
  await open(loginUrl, spec.formSelector, "login page");

  const conditions: YieldCondition[] = [];
  conditions[SUCCESS] = {
    type: "networkRequest",
    urlContains: `${ctx.baseUrl}${spec.accountApiPath}`,
  };
  conditions[WRONG_PASSWORD] = { type: "selector", selector: spec.wrongPasswordSelector };
  conditions[LOCKED] = { type: "selector", selector: spec.lockedSelector };
  conditions[WRONG_CODE] = { type: "selector", selector: spec.wrongCodeSelector };

  let step: Step = "password";
  let failures = 0;
  let mfaReported = false;
  const reachedMfa = async () => {
    step = "mfa";
    if (mfaReported) return;
    mfaReported = true;
    await report({ type: "mfa_required" });
  };

  await report({ type: "login_started" });
  for (;;) {
    // The MFA step shows up within the same yield (the user goes on from the
    // password to the code without a pause): the device's navigation
    // telemetry says when it does.
    const noticed: Promise<void>[] = [];
    const unsubscribe = browser.onTelemetry((event) => {
      if (event.kind === "navigation" && pathnameOf(event.url) === mfaPathname) {
        noticed.push(reachedMfa());
      }
    });
    let outcome;
    try {
      outcome = await browser.yieldToUser({
        status: statusFor(spec, step, failures > 0 ? { left: attempts - failures } : null),
        conditions,
        timeout: Math.max(MIN_YIELD_MS, deadline - Date.now()),
      });
    } catch (error) {
      if (error instanceof BrowserCommandError && error.code === "yield_timeout") {
        const onMfa = step === "mfa" ||
          await exists(ctx, spec.mfaSelector, "checking where the login stopped");
        throw onMfa
          ? new AutomationError(
            "mfa_timeout",
            `The user did not enter the ${spec.displayName} verification code within ${timeout} ms`,
            { cause: error },
          )
          : new AutomationError(
            "user_abandoned",
            `The user did not log in to ${spec.displayName} within ${timeout} ms`,
            { cause: error },
          );
      }
      throw toAutomationError(error, `waiting for the user to log in to ${spec.displayName}`);
    } finally {
      unsubscribe();
      await Promise.all(noticed);
    }

    switch (outcome.condition.index) {
      case SUCCESS: {
        const status = outcome.networkCapture?.status;
        if (status !== undefined && (status < 200 || status > 299)) {
          throw new AutomationError(
            "site_changed",
            `${spec.displayName} answered ${status} for its account API right after the login`,
          );
        }
        await report({ type: "login_succeeded" });
        return;
      }
      case LOCKED:
        throw new AutomationError(
          "account_locked",
          `${spec.displayName} says the account is locked`,
        );
      case WRONG_PASSWORD:
      case WRONG_CODE: {
        const refused: Step = outcome.condition.index === WRONG_CODE ? "mfa" : "password";
        if (refused === "mfa") await reachedMfa();
        failures++;
        const left = attempts - failures;
        await report({
          type: "login_failed_attempt",
          attempt: failures,
          attemptsLeft: left,
          step: refused,
        });
        if (left <= 0) {
          throw refused === "mfa"
            ? new AutomationError(
              "invalid_mfa_code",
              `${spec.displayName} refused the verification code (${failures} attempts)`,
            )
            : new AutomationError(
              "invalid_credentials",
              `${spec.displayName} refused the username or password (${failures} attempts)`,
            );
        }
        // A fresh page for the next try: the error shown now would end the next yield at once.
        step = refused;
        if (refused === "mfa") await open(mfaUrl, spec.mfaSelector, "verification page");
        else await open(loginUrl, spec.formSelector, "login page");
        break;
      }
      default:
        throw new AutomationError(
          "operation_failed",
          `yieldToUser ended on an unknown condition ${outcome.condition.index}`,
        );
    }
  }
}

/**
 * Whether the device's browser is still logged in to the site: the account
 * API (`LoginSpec.accountApiPath`, the request the login waits for) answers
 * 2xx to a same-origin GET the device makes with the page's own cookies
 * (`fetch`). A page that is not on the site (or an answer that is not JSON)
 * brings the site's start page up first and asks once more. Only the status
 * is read here: the answer's body stays unused. A command failure (the device
 * went away) throws an `AutomationError`.
 */
export async function stillLoggedIn(
  ctx: AutomationContext,
  site: Pick<LoginSpec, "displayName"> & Partial<LoginSpec>,
): Promise<boolean> {
  const spec: LoginSpec = { ...STANDARD_LOGIN, ...site };
  const url = `${ctx.baseUrl}${spec.accountApiPath}`;
  const ask = async () => {
    try {
      const { status } = await ctx.browser.fetch({ url, accept: "application/json" });
      return status >= 200 && status <= 299;
    } catch (error) {
      if (error instanceof BrowserCommandError && error.code === "refused") return null;
      throw error;
    }
  };
  try {
    const first = await ask();
    if (first !== null) return first;
    await ctx.browser.navigate({ url: ctx.baseUrl });
    return await ask() ?? false;
  } catch (error) {
    throw toAutomationError(error, `checking the ${spec.displayName} login`);
  }
}

/** The path of a URL, or null when it is not one. */
function pathnameOf(url: string): string | null {
  try {
    return new URL(url).pathname;
  } catch {
    return null;
  }
}

/** Whether an element matching `selector` is in the page now. */
export async function exists(
  ctx: AutomationContext,
  selector: string,
  doing: string,
): Promise<boolean> {
  try {
    return await ctx.browser.evaluate<boolean>({
      expression: `document.querySelector(${JSON.stringify(selector)}) !== null`,
    });
  } catch (error) {
    throw toAutomationError(error, doing);
  }
}
