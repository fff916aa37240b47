/**
 * Console sign-in against a real OpenID provider on loopback (`oidc-provider`):
 * the full code flow with state, PKCE and nonce kept in KV, the session
 * cookie's flags, single-use state, CSRF on every form, sign-out, and the dev
 * sign-in link refused outside `--dev`.
 */
import assert from "node:assert/strict";
import { accountsOfMember } from "../lib/accounts.ts";
import {
  createDevSignInLink,
  DEV_EMAIL,
  devSignInAllowed,
  redeemDevSignIn,
} from "../lib/auth/dev_sign_in.ts";
import type { PassageError } from "../lib/errors.ts";
import { CookieJar, signInWithOidc, startServerWithIdp } from "./_oidc.ts";
import { request, startServer } from "./_harness.ts";

Deno.test("signing in through a real OpenID provider lands on the console with a __Host- session cookie", async () => {
  await using server = await startServerWithIdp();
  const { jar, res, url, html } = await signInWithOidc(server, "ada@example.com");
  assert.equal(res.status, 200, html.slice(0, 500));
  assert.equal(new URL(url).pathname, "/console");
  assert.match(html, /ada@example\.com/);
  const cookie = jar.setCookies.find((c) => c.startsWith("__Host-passage_console=cs_"));
  assert.ok(cookie, jar.setCookies.join("\n"));
  const flags = cookie.split(";").map((s) => s.trim().toLowerCase());
  assert.ok(flags.includes("httponly"));
  assert.ok(flags.includes("samesite=lax"));
  assert.ok(flags.includes("path=/"));
  assert.ok(flags.includes("secure"), "Secure on loopback, which browsers treat as secure");
  assert.ok(!flags.some((f) => f.startsWith("domain=")));
  // The state cookie is cleared after use.
  assert.ok(jar.setCookies.some((c) => /^__Host-passage_oauth=;.*Max-Age=0/.test(c)));
  // A first sign-in made an account with them as its only member.
  const [account] = await accountsOfMember(server.kv, "ada@example.com");
  assert.deepEqual(account.members, ["ada@example.com"]);
  // Only a hash of the cookie is stored.
  const id = cookie.split(";")[0].split("=")[1];
  for await (const entry of server.kv.list({ prefix: ["console_sessions"] })) {
    assert.ok(!JSON.stringify(entry).includes(id));
  }
  const page = await jar.fetch(`${server.url}/console`);
  assert.equal(page.status, 200);
  const csp = page.headers.get("content-security-policy")!;
  assert.match(csp, /script-src 'nonce-[^']+'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.match(csp, /form-action 'self'/);
  await page.body?.cancel();
});

Deno.test("a callback whose state is replayed, or not this browser's, is refused with a clear page", async () => {
  await using server = await startServerWithIdp();
  // Capture the callback URL instead of following it.
  const jar = new CookieJar();
  const start = await jar.fetch(`${server.url}/console/sign-in/oidc`);
  const auth = new URL(start.headers.get("location")!);
  assert.equal(auth.searchParams.get("code_challenge_method"), "S256");
  assert.ok(auth.searchParams.get("nonce"));
  assert.ok(auth.searchParams.get("state"));
  const stateKeys: unknown[] = [];
  for await (const e of server.kv.list({ prefix: ["oauth_states"] })) stateKeys.push(e.key);
  assert.equal(stateKeys.length, 1, "state, verifier and nonce are kept in KV");
  // Another browser (no state cookie) presenting this state is refused.
  const stranger = await request(
    `${server.url}/console/callback/oidc?state=${auth.searchParams.get("state")}&code=x`,
  );
  assert.equal(stranger.status, 400);
  assert.match(stranger.text, /sign_in_failed/);
  assert.match(stranger.headers.get("content-type")!, /text\/html/);

  const { jar: signedIn } = await signInWithOidc(server, "bob@example.com");
  // The same callback again (state already used) is refused.
  const replay = await signedIn.fetch(
    `${server.url}/console/callback/oidc?state=${auth.searchParams.get("state")}&code=x`,
  );
  assert.equal(replay.status, 400);
  await replay.body?.cancel();
});

Deno.test("an email the provider has not verified cannot sign in", async () => {
  await using server = await startServerWithIdp();
  const { res, html } = await signInWithOidc(server, "unverified@example.com");
  assert.equal(res.status, 403);
  assert.match(html, /email_not_verified/);
});

Deno.test("a console form posted without its CSRF token, or from another origin, is refused; sign-out ends the session", async () => {
  await using server = await startServerWithIdp();
  const { jar, html } = await signInWithOidc(server, "eve@example.com");
  const token = /name="_csrf" value="([0-9a-f]+)"/.exec(html)?.[1];
  assert.ok(token);
  const form = (fields: Record<string, string>) => ({
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url },
    body: new URLSearchParams(fields),
  });
  const none = await jar.fetch(`${server.url}/console/sign-out`, form({}));
  assert.equal(none.status, 403);
  assert.match(await none.text(), /invalid_csrf_token/);
  const wrong = await jar.fetch(`${server.url}/console/sign-out`, form({ _csrf: "0".repeat(64) }));
  assert.equal(wrong.status, 403);
  await wrong.body?.cancel();
  const foreign = await jar.fetch(`${server.url}/console/sign-out`, {
    ...form({ _csrf: token }),
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: "https://evil.example",
    },
  });
  assert.equal(foreign.status, 403);
  await foreign.body?.cancel();
  assert.equal((await jar.fetch(`${server.url}/console`)).status, 200, "still signed in");
  const out = await jar.fetch(`${server.url}/console/sign-out`, form({ _csrf: token }));
  assert.equal(out.status, 303);
  const after = await jar.fetch(`${server.url}/console`);
  assert.equal(after.status, 303);
  assert.equal(after.headers.get("location"), "/console/sign-in");
});

Deno.test("the dev sign-in exists only with --dev off Deno Deploy, and its link works once", async () => {
  assert.equal(devSignInAllowed(["--dev"], {}), true);
  assert.equal(devSignInAllowed([], {}), false);
  assert.equal(devSignInAllowed(["--dev"], { DENO_DEPLOYMENT_ID: "abc" }), false);
  await using server = await startServer();
  // Not in dev (the default): no link can be made, and the route refuses.
  await assert.rejects(
    createDevSignInLink(server.kv, server.config),
    (err: PassageError) => err.code === "dev_sign_in_disabled",
  );
  const refused = await request(`${server.url}/console/dev-sign-in?token=dev_${"0".repeat(64)}`);
  assert.equal(refused.status, 403);
  assert.match(refused.text, /dev_sign_in_disabled/);
  const page = await request(`${server.url}/console/sign-in`);
  assert.doesNotMatch(page.text, /printed in its terminal/);

  await using dev = await startServer({ signIn: { ...server.config.signIn, devSignIn: true } });
  const link = await createDevSignInLink(dev.kv, dev.config);
  const jar = new CookieJar();
  const first = await jar.fetch(link);
  assert.equal(first.status, 303);
  assert.ok(jar.setCookies.some((c) => c.startsWith("__Host-passage_console=cs_")));
  const console = await jar.fetch(`${dev.url}/console`);
  assert.match(await console.text(), new RegExp(DEV_EMAIL));
  const again = await fetch(link, { redirect: "manual" });
  assert.equal(again.status, 400, "single use");
  await again.body?.cancel();
  // On Deno Deploy it is refused even if the config says otherwise.
  Deno.env.set("DENO_DEPLOYMENT_ID", "test");
  try {
    await assert.rejects(
      redeemDevSignIn(dev.kv, "dev_" + "1".repeat(64), dev.config),
      (err: PassageError) => err.code === "dev_sign_in_disabled",
    );
  } finally {
    Deno.env.delete("DENO_DEPLOYMENT_ID");
  }
});
