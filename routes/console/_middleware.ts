/**
 * The one guard of the whole `/console` folder: a signed-in member (a live
 * console session whose account still lists them), and, on every POST, a body
 * of at most 1 MB, the session's CSRF token in the form (`_csrf`) and an
 * Origin of this server (hono's `csrf`). The sign-in routes are the only ones
 * outside it. It sets the session, the account it shows and every account of
 * its member (for the account switcher) and how many invitations wait for
 * their answer; `requireAdmin` guards admin actions.
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import { bodyLimit } from "hono/body-limit";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import {
  type AccountRecord,
  accountsOfMember,
  countInvitations,
  requireAdmin,
} from "../../lib/accounts.ts";
import { checkCsrfToken, getConsoleSession } from "../../lib/auth/console_sessions.ts";
import { getSessionId } from "../../lib/auth/get_session_id.ts";
import { PassageError } from "../../lib/errors.ts";
import type { AppEnv } from "../../lib/http.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** Every account the signed-in member belongs to, oldest first. */
    memberAccounts: AccountRecord[];
    /** How many invitations to other accounts wait for the member's answer. */
    pendingInvitations: number;
  }
}

/** Largest console form, in bytes (a logo is at most 256 KB). */
const MAX_FORM_BYTES = 1024 * 1024;

/** Throws the 403 page unless the signed-in member is an admin of the account shown. */
export function requireConsoleAdmin(c: Context<AppEnv>, what: string): void {
  requireAdmin(c.var.account, c.var.consoleSession.email, what);
}

/** Paths under `/console` that need no session. */
const PUBLIC = /^\/console\/(sign-in(\/[a-z]+)?|callback\/[a-z]+|dev-sign-in)$/;

/** The guard: options factory returning the named middleware. */
export function consoleGuard(): MiddlewareHandler<AppEnv> {
  const origin = csrf({
    origin: (origin, c) =>
      origin === new URL(c.var.services.config.publicUrl).origin ||
      origin === new URL(c.req.url).origin,
  });
  const limit = bodyLimit({
    maxSize: MAX_FORM_BYTES,
    onError: () => {
      throw new PassageError(
        "payload_too_large",
        `This form is larger than ${MAX_FORM_BYTES / 1024 / 1024} MB`,
      );
    },
  });
  return async function consoleGuard(c: Context<AppEnv>, next: Next) {
    const path = new URL(c.req.url).pathname;
    if (PUBLIC.test(path)) return await next();
    const session = await getConsoleSession(
      c.var.services.kv,
      getSessionId(c.req.raw, c.var.services.config),
    );
    if (!session) {
      if (c.req.method !== "GET") {
        throw new PassageError("sign_in_failed", "You are signed out; sign in again");
      }
      return c.redirect("/console/sign-in", 303);
    }
    // Each listed account still names them as a member (checked by `accountsOfMember`).
    const [accounts, invitations] = await Promise.all([
      accountsOfMember(c.var.services.kv, session.email),
      countInvitations(c.var.services.kv, session.email),
    ]);
    const account = accounts.find((a) => a.id === session.accountId);
    if (!account) {
      throw new PassageError(
        "account_not_found",
        "You are no longer a member of this account; sign in again",
      );
    }
    c.set("consoleSession", session);
    c.set("account", account);
    c.set("memberAccounts", accounts);
    c.set("pendingInvitations", invitations);
    if (c.req.method === "POST") return await limit(c, () => checkForm(c, next));
    await next();
  };

  async function checkForm(c: Context<AppEnv>, next: Next): Promise<void> {
    const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
    if (!checkCsrfToken(c.var.consoleSession, form["_csrf"])) {
      throw new PassageError(
        "invalid_csrf_token",
        "This form is missing its security token or it is stale; reload the page and try again",
      );
    }
    try {
      await origin(c, next);
    } catch (err) {
      if (err instanceof HTTPException) {
        throw new PassageError("invalid_csrf_token", "This form was posted from another site");
      }
      throw err;
    }
  }
}
