/**
 * oauth4webapi's view of a provider: its authorization server (discovered for
 * OpenID Connect, fixed for GitHub, cached per issuer), the client and how it
 * authenticates. Private to `lib/auth/`.
 */
import * as oauth from "oauth4webapi";
import { isLoopback, type SignInProvider } from "./providers.ts";

const discovered = new Map<string, Promise<oauth.AuthorizationServer>>();

/** oauth4webapi refuses http unless told: allowed for a loopback issuer (tests, local IdPs) only. */
export function requestOptions(
  provider: SignInProvider,
): { [oauth.allowInsecureRequests]?: boolean } {
  const url = new URL(provider.issuer);
  return url.protocol === "http:" && isLoopback(url.hostname)
    ? { [oauth.allowInsecureRequests]: true }
    : {};
}

/** The provider's authorization server metadata. */
export function authorizationServer(provider: SignInProvider): Promise<oauth.AuthorizationServer> {
  if (provider.kind === "github") {
    return Promise.resolve({
      issuer: "https://github.com",
      authorization_endpoint: "https://github.com/login/oauth/authorize",
      token_endpoint: "https://github.com/login/oauth/access_token",
    });
  }
  const key = `${provider.issuer} ${provider.clientId}`;
  let found = discovered.get(key);
  if (!found) {
    const issuer = new URL(provider.issuer);
    found = oauth.discoveryRequest(issuer, { algorithm: "oidc", ...requestOptions(provider) })
      .then((res) => oauth.processDiscoveryResponse(issuer, res));
    found.catch(() => discovered.delete(key));
    discovered.set(key, found);
  }
  return found;
}

/** The client as oauth4webapi wants it. */
export function client(provider: SignInProvider): oauth.Client {
  return { client_id: provider.clientId };
}

/** How the client authenticates at the token endpoint. */
export function clientAuth(provider: SignInProvider): oauth.ClientAuth {
  return provider.clientSecret ? oauth.ClientSecretPost(provider.clientSecret) : oauth.None();
}

/** Where the provider sends the browser back. */
export function redirectUri(publicUrl: string, provider: SignInProvider): string {
  return `${publicUrl}/console/callback/${provider.id}`;
}
