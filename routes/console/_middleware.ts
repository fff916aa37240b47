/**
 * The one guard of the whole `/console` folder: a signed-in member (a live
 * console session whose account still lists them), and, on every POST, the
 * session's CSRF token in the form (`_csrf`) and an Origin of this server
 * (hono's `csrf`). The sign-in routes are the only ones outside it.
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { accountForMember } from "../../lib/accounts.ts";
import { checkCsrfToken, getConsoleSession } from "../../lib/auth/console_sessions.ts";
import { getSessionId } from "../../lib/auth/get_session_id.ts";
import { PassageError } from "../../lib/errors.ts";
import type { AppEnv } from "../../lib/http.ts";

/** Paths under `/console` that need no session. */
const PUBLIC = /^\/console\/(sign-in(\/[a-z]+)?|callback\/[a-z]+|dev-sign-in)$/;

/** The guard: options factory returning the named middleware. */
export function consoleGuard(): MiddlewareHandler<AppEnv> {
  const origin = csrf({
    origin: (origin, c) =>
      origin === new URL(c.var.config.publicUrl).origin || origin === new URL(c.req.url).origin,
  });
  return async function consoleGuard(c: Context<AppEnv>, next: Next) {
    const path = new URL(c.req.url).pathname;
    if (PUBLIC.test(path)) return await next();
    const session = await getConsoleSession(c.var.kv, getSessionId(c.req.raw, c.var.config));
    if (!session) {
      if (c.req.method !== "GET") {
        throw new PassageError("sign_in_failed", "You are signed out; sign in again");
      }
      return c.redirect("/console/sign-in", 303);
    }
    const account = await accountForMember(c.var.kv, session.accountId, session.email)
      .catch(() => null);
    if (!account) throw new PassageError("account_not_found", "Your account is no longer here");
    c.set("consoleSession", session);
    c.set("account", account);
    if (c.req.method === "POST") {
      const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
      if (!checkCsrfToken(session, form["_csrf"])) {
        throw new PassageError(
          "invalid_csrf_token",
          "This form is missing its security token or it is stale; reload the page and try again",
        );
      }
      try {
        return await origin(c, next);
      } catch (err) {
        if (err instanceof HTTPException) {
          throw new PassageError("invalid_csrf_token", "This form was posted from another site");
        }
        throw err;
      }
    }
    await next();
  };
}
