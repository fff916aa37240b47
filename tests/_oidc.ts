/**
 * A real OpenID provider on loopback for sign-in tests: panva's
 * `oidc-provider` (certified), started in the test process with one client
 * registered for the test server's callback, its development login and
 * consent pages answering any email. `signInWithOidc` scripts that login with
 * `fetch` and a small cookie jar, as a browser would.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";
import { createOidcConfig, type SignInProvider } from "../lib/auth/providers.ts";
import { type Config, loadConfig } from "../lib/config.ts";
import { startServer, type TestServer } from "./_harness.ts";

export interface TestIdp extends AsyncDisposable {
  issuer: string;
  /** The sign-in provider a Passage configuration names to use it. */
  signInProvider: SignInProvider;
  close(): Promise<void>;
}

/**
 * Starts a test server (with `overrides`) whose console signs in with a fresh
 * provider; closing the server closes the provider too.
 */
export async function startServerWithIdp(
  overrides: Partial<Config> = {},
): Promise<TestServer & { idp: TestIdp }> {
  let idp: TestIdp | undefined;
  const server = await startServer(async (url) => {
    idp = await startIdp(url);
    const signIn = overrides.signIn ?? loadConfig({ PASSAGE_KV_PATH: ":memory:" }).signIn;
    return { ...overrides, signIn: { ...signIn, providers: [idp.signInProvider] } };
  });
  const close = async () => {
    await server.close();
    await idp!.close();
  };
  return { ...server, idp: idp!, close, [Symbol.asyncDispose]: close };
}

/** Starts the provider, with one client: the console of the Passage server at `passageUrl`. */
export async function startIdp(passageUrl: string): Promise<TestIdp> {
  let handler: ReturnType<Provider["callback"]> | null = null;
  const http = createServer((req, res) => handler!(req, res));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: "passage-console",
      client_secret: "test-secret-of-the-console-client",
      redirect_uris: [`${passageUrl}/console/callback/oidc`],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
    }],
    // The dev login page takes any login: here, the email to sign in as.
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, email: id, email_verified: !id.startsWith("unverified") }),
    }),
    claims: { openid: ["sub"], email: ["email", "email_verified"] },
    pkce: { required: () => true },
    // Scope claims (email) in the ID token itself, as most providers send them.
    conformIdTokenClaims: false,
    cookies: { keys: ["a-key-for-the-test-idp-cookies"] },
  });
  handler = provider.callback();
  const signInProvider = createOidcConfig({
    PASSAGE_OIDC_ISSUER: issuer,
    PASSAGE_OIDC_CLIENT_ID: "passage-console",
    PASSAGE_OIDC_CLIENT_SECRET: "test-secret-of-the-console-client",
    PASSAGE_OIDC_NAME: "Test IdP",
  })!;
  const close = () =>
    new Promise<void>((resolve) => {
      http.closeAllConnections();
      http.close(() => resolve());
    });
  return { issuer, signInProvider, close, [Symbol.asyncDispose]: close };
}

/** A browser's cookies, by host, enough for one scripted sign-in. */
export class CookieJar {
  #cookies = new Map<string, Map<string, string>>();
  /** Every Set-Cookie the responses carried, as sent. */
  readonly setCookies: string[] = [];

  store(url: string, res: Response): void {
    const host = new URL(url).host;
    for (const line of res.headers.getSetCookie()) {
      this.setCookies.push(line);
      const [pair] = line.split(";");
      const eq = pair.indexOf("=");
      const jar = this.#cookies.get(host) ?? new Map();
      const value = pair.slice(eq + 1);
      if (/max-age=0\b/i.test(line) || value === "") jar.delete(pair.slice(0, eq));
      else jar.set(pair.slice(0, eq), value);
      this.#cookies.set(host, jar);
    }
  }

  header(url: string): string {
    return [...(this.#cookies.get(new URL(url).host) ?? [])].map(([k, v]) => `${k}=${v}`).join(
      "; ",
    );
  }

  /** `fetch` with this jar, not following redirects. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.header(url);
    if (cookie) headers.set("cookie", cookie);
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    this.store(url, res);
    return res;
  }
}

/** Follows redirects from `url` with the jar; returns the first non-redirect response and its URL. */
async function follow(jar: CookieJar, url: string, init: RequestInit = {}) {
  let res = await jar.fetch(url, init);
  while (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    url = new URL(res.headers.get("location")!, url).href;
    res = await jar.fetch(url);
  }
  return { res, url };
}

/** Posts the dev interaction page's form at `url` (`html` is its page) with `fields`. */
async function submit(jar: CookieJar, url: string, html: string, fields: Record<string, string>) {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  assert.ok(action, `no form on ${url}: ${html.slice(0, 400)}`);
  const hidden: Record<string, string> = {};
  for (
    const m of html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)
  ) {
    hidden[m[1]] = m[2];
  }
  return await follow(jar, new URL(action.replaceAll("&amp;", "&"), url).href, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ ...hidden, ...fields }),
  });
}

/**
 * Signs in to the console at `server` as `email` through the provider's
 * login and consent pages; returns the jar (holding the console cookie) and
 * the last response (the console page, or an error page).
 */
export async function signInWithOidc(
  server: TestServer,
  email: string,
  jar = new CookieJar(),
): Promise<{ jar: CookieJar; res: Response; url: string; html: string }> {
  let { res, url } = await follow(jar, `${server.url}/console/sign-in/oidc`);
  let html = await res.text();
  ({ res, url } = await submit(jar, url, html, { login: email, password: "any" }));
  html = await res.text();
  if (url.includes("/interaction/")) {
    ({ res, url } = await submit(jar, url, html, {}));
    html = await res.text();
  }
  return { jar, res, url, html };
}
