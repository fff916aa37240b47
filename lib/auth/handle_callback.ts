/**
 * `handleCallback`: where the provider sends the browser back. Checks that the
 * state is the one this browser started with (its cookie) and takes it out of
 * KV (once: a replayed callback finds nothing), exchanges the code with the
 * PKCE verifier, validates the ID token with the nonce (OpenID Connect) or asks
 * GitHub for the verified primary email, then starts a console session and
 * redirects to the console with its cookie.
 */
import * as oauth from "oauth4webapi";
import { PassageError } from "../errors.ts";
import { oauthStateKey } from "../kv_keys.ts";
import { authorizationServer, client, clientAuth, redirectUri, requestOptions } from "./_oauth.ts";
import { type ConsoleSession, startConsoleSession } from "./console_sessions.ts";
import { cookiePolicy, readCookie, serializeCookie } from "./cookies.ts";
import type { SignInProvider } from "./providers.ts";
import type { OAuthState } from "./sign_in.ts";

function failed(message: string): PassageError {
  return new PassageError("sign_in_failed", message);
}

/** Finishes signing in; the response sets the session cookie and goes to `next`. */
export async function handleCallback(
  kv: Deno.Kv,
  request: Request,
  provider: SignInProvider,
  options: { publicUrl: string; sessionSeconds: number; next?: string },
): Promise<{ response: Response; session: ConsoleSession }> {
  const policy = cookiePolicy(options.publicUrl);
  const url = new URL(request.url);
  const state = url.searchParams.get("state");
  const cookieState = readCookie(request, policy.oauth);
  if (!state || !cookieState || state !== cookieState) {
    throw failed("This sign-in was not started in this browser, or it took too long; start again");
  }
  const entry = await kv.get<OAuthState>(oauthStateKey(state));
  const stored = entry.value;
  if (!stored || stored.providerId !== provider.id || Date.parse(stored.expiresAt) <= Date.now()) {
    throw failed("This sign-in has expired or was already used; start again");
  }
  // Single use: of two callbacks with one state, only one gets past here.
  if (!(await kv.atomic().check(entry).delete(entry.key).commit()).ok) {
    throw failed("This sign-in was already used; start again");
  }
  const as = await authorizationServer(provider);
  const c = client(provider);
  // The callback arrives at the public URL: validate against it, not the internal one.
  const current = new URL(redirectUri(options.publicUrl, provider));
  current.search = url.search;
  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(as, c, current, state);
  } catch (err) {
    throw failed(`The provider refused the sign-in: ${describe(err)}`);
  }
  let email: string;
  try {
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      c,
      clientAuth(provider),
      params,
      redirectUri(options.publicUrl, provider),
      stored.codeVerifier,
      requestOptions(provider),
    );
    if (provider.kind === "oidc") {
      const result = await oauth.processAuthorizationCodeResponse(as, c, response, {
        expectedNonce: stored.nonce,
        requireIdToken: true,
      });
      const claims = oauth.getValidatedIdTokenClaims(result)!;
      if (typeof claims.email !== "string" || claims.email_verified !== true) {
        throw new PassageError(
          "email_not_verified",
          "Your account at the identity provider has no verified email address",
        );
      }
      email = claims.email;
    } else {
      const result = await oauth.processAuthorizationCodeResponse(as, c, response);
      email = await githubEmail(result.access_token);
    }
  } catch (err) {
    if (err instanceof PassageError) throw err;
    throw failed(`Could not finish signing in: ${describe(err)}`);
  }
  const { id, session } = await startConsoleSession(kv, {
    email,
    via: provider.id,
    ttlSeconds: options.sessionSeconds,
  });
  const headers = new Headers({
    location: options.next ?? "/console",
    "cache-control": "no-store",
  });
  headers.append("set-cookie", serializeCookie(policy, policy.session, id, options.sessionSeconds));
  headers.append("set-cookie", serializeCookie(policy, policy.oauth, "", 0));
  return { response: new Response(null, { status: 303, headers }), session };
}

/** GitHub's verified primary email of the token's user. */
async function githubEmail(accessToken: string): Promise<string> {
  const res = await fetch("https://api.github.com/user/emails", {
    headers: {
      authorization: `Bearer ${accessToken}`,
      accept: "application/vnd.github+json",
      "user-agent": "Passage-Console",
    },
  });
  if (!res.ok) throw new Error(`GitHub answered ${res.status} for the user's emails`);
  const emails = await res.json() as Array<{ email: string; primary: boolean; verified: boolean }>;
  const primary = emails.find((e) => e.primary && e.verified);
  if (!primary) {
    throw new PassageError(
      "email_not_verified",
      "Your GitHub account has no verified primary email",
    );
  }
  return primary.email;
}

function describe(err: unknown): string {
  if (err instanceof oauth.AuthorizationResponseError) {
    return `${err.error}${err.error_description ? ` (${err.error_description})` : ""}`;
  }
  return err instanceof Error ? err.message : String(err);
}
