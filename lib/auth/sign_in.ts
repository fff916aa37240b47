/**
 * `signIn`: starts a sign-in with a provider. Makes a state, a PKCE verifier
 * and a nonce, keeps them in KV for 10 minutes under the state
 * (`oauthStateKey`), binds the state to this browser with a short-lived
 * cookie, and redirects to the provider's authorization endpoint.
 */
import * as oauth from "oauth4webapi";
import { oauthStateKey } from "../kv_keys.ts";
import { authorizationServer, redirectUri } from "./_oauth.ts";
import { cookiePolicy, serializeCookie } from "./cookies.ts";
import type { SignInProvider } from "./providers.ts";

/** A sign-in in progress, as stored. */
export interface OAuthState {
  providerId: string;
  codeVerifier: string;
  nonce: string;
  expiresAt: string;
}

/** How long a sign-in may take, from the redirect to the callback. */
export const SIGN_IN_TTL_SECONDS = 600;

/** Answers the redirect that starts signing in with `provider`. */
export async function signIn(
  kv: Deno.Kv,
  provider: SignInProvider,
  options: { publicUrl: string },
): Promise<Response> {
  const as = await authorizationServer(provider);
  const state = oauth.generateRandomState();
  const stored: OAuthState = {
    providerId: provider.id,
    codeVerifier: oauth.generateRandomCodeVerifier(),
    nonce: oauth.generateRandomNonce(),
    expiresAt: new Date(Date.now() + SIGN_IN_TTL_SECONDS * 1000).toISOString(),
  };
  await kv.set(oauthStateKey(state), stored, { expireIn: SIGN_IN_TTL_SECONDS * 1000 });
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set("client_id", provider.clientId);
  url.searchParams.set("redirect_uri", redirectUri(options.publicUrl, provider));
  url.searchParams.set("response_type", "code");
  url.searchParams.set("scope", provider.scope);
  url.searchParams.set("state", state);
  url.searchParams.set(
    "code_challenge",
    await oauth.calculatePKCECodeChallenge(stored.codeVerifier),
  );
  url.searchParams.set("code_challenge_method", "S256");
  if (provider.kind === "oidc") url.searchParams.set("nonce", stored.nonce);
  const policy = cookiePolicy(options.publicUrl);
  return new Response(null, {
    status: 302,
    headers: {
      location: url.href,
      "set-cookie": serializeCookie(policy, policy.oauth, state, SIGN_IN_TTL_SECONDS),
      "cache-control": "no-store",
    },
  });
}
