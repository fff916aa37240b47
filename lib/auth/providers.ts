/**
 * Who may sign in to the console: one small config per identity provider,
 * read from environment variables. Any OpenID Connect issuer
 * (`PASSAGE_OIDC_*`), and GitHub (`PASSAGE_GITHUB_*`, OAuth 2 with its
 * verified-email API).
 */

/** One identity provider the console offers. */
export interface SignInProvider {
  /** In URLs: `/console/sign-in/{id}`, `/console/callback/{id}`. */
  id: "oidc" | "github";
  /** On the sign-in button: "Sign in with {label}". */
  label: string;
  kind: "oidc" | "github";
  /** The OpenID issuer (discovery at `/.well-known/openid-configuration`); GitHub: its fixed URL. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  scope: string;
}

/** An OpenID Connect provider from `PASSAGE_OIDC_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET` (and `_NAME`), or null. */
export function createOidcConfig(env: Record<string, string | undefined>): SignInProvider | null {
  const issuer = env.PASSAGE_OIDC_ISSUER?.trim();
  const clientId = env.PASSAGE_OIDC_CLIENT_ID?.trim();
  if (!issuer && !clientId) return null;
  if (!issuer || !clientId) {
    throw new Error("PASSAGE_OIDC_ISSUER and PASSAGE_OIDC_CLIENT_ID must be set together");
  }
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new Error(`PASSAGE_OIDC_ISSUER must be an absolute URL, got "${issuer}"`);
  }
  if (url.protocol !== "https:" && !isLoopback(url.hostname)) {
    throw new Error(`PASSAGE_OIDC_ISSUER must be https (or loopback), got "${issuer}"`);
  }
  return {
    id: "oidc",
    label: env.PASSAGE_OIDC_NAME?.trim() || url.hostname,
    kind: "oidc",
    issuer,
    clientId,
    clientSecret: env.PASSAGE_OIDC_CLIENT_SECRET ?? "",
    scope: "openid email profile",
  };
}

/** GitHub from `PASSAGE_GITHUB_CLIENT_ID` and `PASSAGE_GITHUB_CLIENT_SECRET`, or null. */
export function createGithubConfig(env: Record<string, string | undefined>): SignInProvider | null {
  const clientId = env.PASSAGE_GITHUB_CLIENT_ID?.trim();
  const clientSecret = env.PASSAGE_GITHUB_CLIENT_SECRET?.trim();
  if (!clientId && !clientSecret) return null;
  if (!clientId || !clientSecret) {
    throw new Error(
      "PASSAGE_GITHUB_CLIENT_ID and PASSAGE_GITHUB_CLIENT_SECRET must be set together",
    );
  }
  return {
    id: "github",
    label: "GitHub",
    kind: "github",
    issuer: "https://github.com",
    clientId,
    clientSecret,
    scope: "read:user user:email",
  };
}

/** Every provider the environment configures. */
export function readSignInProviders(env: Record<string, string | undefined>): SignInProvider[] {
  return [createOidcConfig(env), createGithubConfig(env)].filter((p) => p !== null);
}

/** Whether `hostname` is a loopback name or address. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
