/**
 * The login every provider shares: open the site's login page, hand the
 * browser to the user with one `yieldToUser`, and tell from which condition
 * fired whether they got in, typed a wrong password, or hit a locked account.
 *
 * @module
 */
import { BrowserCommandError } from "@passage/connect";
import type { YieldCondition } from "@passage/connect";
import { type AutomationContext, AutomationError, toAutomationError } from "./types.ts";

/** How long the user has to log in when the context does not say. */
export const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60_000;

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
  /** An element of the MFA step, to tell an MFA timeout from an abandoned login. */
  mfaSelector: string;
}

/** The login every sandbox site has, and the live automations assume until checked against their sites. */
const STANDARD_LOGIN: Omit<LoginSpec, "displayName"> = {
  loginPath: "/login",
  formSelector: "#username",
  accountApiPath: "/api/account",
  wrongPasswordSelector: "#login-error",
  lockedSelector: "#account-locked",
  mfaSelector: "#mfa-code",
};

const SUCCESS = 0;
const WRONG_PASSWORD = 1;
const LOCKED = 2;

/**
 * Runs the login: `STANDARD_LOGIN` unless `site` says otherwise. Resolves once
 * the site has loaded the account API after a login; throws an
 * `AutomationError` otherwise. A wrong MFA code is not an outcome: the site
 * lets the user try again within the same yield.
 */
export async function handOffLogin(
  ctx: AutomationContext,
  site: Pick<LoginSpec, "displayName"> & Partial<LoginSpec>,
): Promise<void> {
  const spec: LoginSpec = { ...STANDARD_LOGIN, ...site };
  const { browser } = ctx;
  const loginUrl = `${ctx.baseUrl}${spec.loginPath}`;
  try {
    await browser.navigate({ url: loginUrl });
  } catch (error) {
    throw toAutomationError(error, `opening the ${spec.displayName} login page`);
  }
  if (!await exists(ctx, spec.formSelector, "checking the login page")) {
    throw new AutomationError(
      "site_changed",
      `The ${spec.displayName} login page has no ${spec.formSelector}`,
    );
  }

  const conditions: YieldCondition[] = [];
  conditions[SUCCESS] = {
    type: "networkRequest",
    urlContains: `${ctx.baseUrl}${spec.accountApiPath}`,
  };
  conditions[WRONG_PASSWORD] = { type: "selector", selector: spec.wrongPasswordSelector };
  conditions[LOCKED] = { type: "selector", selector: spec.lockedSelector };
  const timeout = ctx.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;

  let outcome;
  try {
    outcome = await browser.yieldToUser({
      status: {
        heading: `Log in to ${spec.displayName}`,
        subheading: "Your password and codes stay on this device",
      },
      conditions,
      timeout,
    });
  } catch (error) {
    if (error instanceof BrowserCommandError && error.code === "yield_timeout") {
      const onMfa = await exists(ctx, spec.mfaSelector, "checking where the login stopped");
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
      return;
    }
    case WRONG_PASSWORD:
      throw new AutomationError(
        "invalid_credentials",
        `${spec.displayName} refused the username or password`,
      );
    case LOCKED:
      throw new AutomationError("account_locked", `${spec.displayName} says the account is locked`);
    default:
      throw new AutomationError(
        "operation_failed",
        `yieldToUser ended on an unknown condition ${outcome.condition.index}`,
      );
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
