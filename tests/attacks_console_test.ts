/**
 * Round-two attacks by a hostile developer on console membership (invites,
 * removal, sign-out, expiry) and the API keys members make. Each test's
 * comment says the attack, its impact and the design that closes it; its
 * name states the property defended. docs/SECURITY.md is the threat model
 * they hold the product to. (The round's listen-stream and idempotency
 * attacks live beside the code they exercise.)
 *
 * Everything is real: the server on a loopback port over real Deno KV, a
 * real OpenID provider on loopback for console sign-ins (`_oidc.ts`), the
 * console's own forms with their CSRF tokens, real SSE streams and WebSockets.
 * The device side is played by a raw protocol client (`_relay_helpers.ts`),
 * as a third-party device would; no test here needs a browser.
 */
import assert from "node:assert/strict";
import { accountsOfMember } from "../lib/accounts.ts";
import { createApiKey } from "../lib/api_keys.ts";
import { openSse, type SseStream } from "./_sse.ts";
import { request, startServer, type TestServer } from "./_harness.ts";
import { CookieJar, signInWithOidc, startServerWithIdp } from "./_oidc.ts";
import { claimedSession, connectDevice, consoleEvent } from "./_relay_helpers.ts";

// ---------------------------------------------------------------------------
// Helpers: a console member driven through the console's own forms.

/** A signed-in console member: their cookie jar, and the console's pages and forms. */
interface Member {
  email: string;
  jar: CookieJar;
  /** GETs a console page (status and HTML). */
  get(path: string): Promise<{ status: number; html: string }>;
  /** Posts a console form with this session's CSRF token and this server's Origin. */
  post(path: string, fields: Record<string, string>): Promise<{ status: number; html: string }>;
  /** The id of the account the console shows this member now. */
  accountShown(): Promise<string>;
  /** Accepts the pending invitation to `accountId` with the console's form. */
  accept(accountId: string): Promise<void>;
}

async function signIn(server: TestServer, email: string): Promise<Member> {
  const { jar, url, html } = await signInWithOidc(server, email);
  assert.equal(new URL(url).pathname, "/console", `${email} did not get in: ${html.slice(0, 300)}`);
  const get = async (path: string) => {
    const res = await jar.fetch(server.url + path);
    return { status: res.status, html: await res.text() };
  };
  const member: Member = {
    email,
    jar,
    get,
    async post(path, fields) {
      const page = await get("/console/account");
      const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(page.html)?.[1];
      assert.ok(csrf, `no CSRF token on ${email}'s account page (status ${page.status})`);
      const res = await jar.fetch(server.url + path, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url },
        body: new URLSearchParams({ ...fields, _csrf: csrf }),
      });
      return { status: res.status, html: await res.text() };
    },
    async accountShown() {
      const page = await get("/console/account");
      const id = /Id <code>(acct_[0-9A-Z]+)<\/code>/.exec(page.html)?.[1];
      assert.ok(id, `no account id on ${email}'s account page (status ${page.status})`);
      return id;
    },
    async accept(accountId) {
      const invitations = await get("/console/invitations");
      assert.match(invitations.html, new RegExp(`name="accountId" value="${accountId}"`));
      const res = await member.post("/console/invitations/accept", { accountId });
      assert.equal(res.status, 303, res.html.slice(0, 300));
    },
  };
  return member;
}

/** The (only) account `email` administers, by the account's own member list. */
async function accountOf(server: TestServer, email: string): Promise<string> {
  const accounts = await accountsOfMember(server.kv, email);
  assert.equal(accounts.length, 1, `${email} belongs to ${accounts.length} accounts`);
  return accounts[0].id;
}

/** Whether `promise` settles within `ms` (for something that must happen: a stream's end). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// 1. Invites need no consent, and a sign-in lands in the oldest account.

/**
 * The attack: Mallory signs up, renames her account to the name Passage gives
 * a new account ("alice's account") and adds alice@victim.example as an admin.
 * Alice has never used Passage. If adding made her a member, her first
 * sign-in would land in Mallory's account, which looks exactly like a fresh
 * one of hers, and every key she made and every link her users completed
 * there (their bills and payment methods) would belong to an account Mallory
 * administers. The design: an invite is an offer, never membership; a
 * sign-in starts in an account the person made or explicitly joined, and
 * pending invitations are shown for an answer.
 */
Deno.test("an invite is an offer: a stranger's first sign-in lands in an account of their own", async () => {
  await using server = await startServerWithIdp();
  const mallory = await signIn(server, "mallory@attacker.example");
  const trap = await accountOf(server, mallory.email);
  assert.equal(
    (await mallory.post("/console/account", { name: "alice's account", appName: "" })).status,
    303,
  );
  assert.equal(
    (await mallory.post("/console/account/members", {
      email: "alice@victim.example",
      role: "admin",
    })).status,
    303,
  );

  const alice = await signIn(server, "alice@victim.example");
  const shown = await alice.accountShown();
  assert.notEqual(
    shown,
    trap,
    `alice's first sign-in put her in ${trap}, mallory's account named “alice's account”: ` +
      "whatever she builds there, mallory administers",
  );
  assert.deepEqual(
    (await accountsOfMember(server.kv, alice.email)).map((a) => a.id),
    [shown],
    "being invited made alice a member of nothing",
  );
  // She is told, and can see who is asking.
  const overview = await alice.get("/console");
  assert.match(overview.html, /href="\/console\/invitations"/);
  const invitations = await alice.get("/console/invitations");
  assert.match(invitations.html, /mallory@attacker\.example/);
  assert.match(invitations.html, new RegExp(`value="${trap}"`));
  // Declining takes the offer back; the account never listed her.
  assert.equal((await alice.post("/console/invitations/decline", { accountId: trap })).status, 303);
  assert.doesNotMatch((await alice.get("/console/invitations")).html, new RegExp(trap));
  assert.equal((await alice.post("/console/invitations/accept", { accountId: trap })).status, 404);
  assert.equal(await accountOf(server, mallory.email), trap);
  assert.deepEqual(
    (await accountsOfMember(server.kv, alice.email)).map((a) => a.id),
    [shown],
  );
});

/**
 * The same with a victim who has an account: account ids are time-ordered and
 * `accountsOfMember` lists oldest first, so if the oldest account were the
 * default, an attacker whose account is older than Alice's would become her
 * default at her next sign-in just by adding her. The design: a sign-in never
 * moves anyone into an account they did not accept, and it opens the account
 * last used (kept per member), not the oldest.
 */
Deno.test("a sign-in opens the account last used, never an older one that invited you", async () => {
  await using server = await startServerWithIdp();
  const mallory = await signIn(server, "mallory@attacker.example");
  const trap = await accountOf(server, mallory.email);
  const first = await signIn(server, "alice@victim.example");
  const own = await first.accountShown();
  assert.notEqual(own, trap);
  await mallory.post("/console/account", { name: "alice's account", appName: "" });
  await mallory.post("/console/account/members", { email: "alice@victim.example", role: "admin" });

  const again = await signIn(server, "alice@victim.example");
  assert.equal(
    await again.accountShown(),
    own,
    `alice's next sign-in opened ${trap} (mallory's, renamed “alice's account”) instead of ${own}`,
  );
  // Had she accepted, that account would be where she left off, and so where she returns.
  await again.accept(trap);
  assert.equal(await again.accountShown(), trap);
  const later = await signIn(server, "alice@victim.example");
  assert.equal(await later.accountShown(), trap, "the account last used");
  await later.post("/console/switch", { accountId: own });
  const last = await signIn(server, "alice@victim.example");
  assert.equal(await last.accountShown(), own, "the account last switched to");
});

// ---------------------------------------------------------------------------
// 2. A console live stream outlives the membership and the session behind it.

/** An account with admin Ada and member Bob, a session with a device, and Bob's live inspector on it. */
async function inspectedSession(server: TestServer) {
  const ada = await signIn(server, "ada@acme.example");
  const accountId = await accountOf(server, ada.email);
  assert.equal(
    (await ada.post("/console/account/members", { email: "bob@acme.example", role: "member" }))
      .status,
    303,
  );
  const bob = await signIn(server, "bob@acme.example");
  await bob.accept(accountId);
  assert.equal(await bob.accountShown(), accountId);
  const { secret } = await createApiKey(server.kv, { name: "acme", mode: "test", accountId });
  const { id, token } = await claimedSession(server.url, secret);
  const device = await connectDevice(server.url, token);
  const stream = await openSse(`${server.url}/console/sessions/${id}/events`, {
    cookie: bob.jar.header(server.url),
  });
  assert.equal(stream.status, 200);
  device.send({ type: "telemetry", seq: 1, event: consoleEvent("while bob is a member") });
  await stream.next((m) => m.event === "telemetry" && m.data.includes("while bob is a member"));
  return { ada, bob, device, stream, accountId };
}

/** The `error` event a stream ends with, and that it then ends within `ms`. */
async function endsWith(stream: SseStream, ms: number): Promise<string> {
  const error = await stream.next((m) => m.event === "error", ms);
  assert.ok(await settlesWithin(stream.ended, 2_000), "the stream ends after its error event");
  return JSON.parse(error.data).error.code;
}

/**
 * Shows what the stream still carries when it did not end: the device's next
 * telemetry, sent after Bob lost access, reaching him.
 */
async function leakAfter(
  device: Awaited<ReturnType<typeof connectDevice>>,
  stream: SseStream,
  what: string,
): Promise<string> {
  device.send({ type: "telemetry", seq: 2, event: consoleEvent(`after ${what}`) });
  const leaked = await stream.next((m) => m.data.includes(`after ${what}`)).catch(() => null);
  return leaked ? `, and still delivered ${leaked.data}` : "";
}

/**
 * The attack: Bob, a member, keeps a session's live inspector open
 * (`/console/sessions/:id/events`), and is removed from the account. New
 * console requests refuse him, but the guard runs once, when the stream
 * opens: unless something else ends it, the stream goes on carrying the
 * session's live telemetry (navigation, console, network, screenshots of the
 * user's screen) for as long as the session lives. The design: a console
 * stream is held to its console session and membership the way a key's
 * streams are held to the key (`lib/credentials.ts`, the relay's
 * `watchCredential`): removing a member, signing out and the session's expiry
 * end it.
 */
Deno.test("removing a member ends their live inspector within seconds", async () => {
  await using server = await startServerWithIdp({ revocationCheckMs: 200 });
  const { ada, bob, device, stream } = await inspectedSession(server);
  await using _stream = stream;
  await using _device = device;

  assert.equal(
    (await ada.post("/console/account/members/remove", { email: bob.email })).status,
    303,
  );
  const page = await bob.get("/console");
  assert.notEqual(page.status, 200, "the guard refuses Bob's new requests");

  const ended = await settlesWithin(stream.ended, 5_000);
  assert.ok(
    ended,
    `bob's stream was still open 5 s after his removal${await leakAfter(
      device,
      stream,
      "removal",
    )}`,
  );
});

/** The same when Bob signs out: the console session is gone, and so is the stream. */
Deno.test("signing out ends the console session's live inspector", async () => {
  await using server = await startServerWithIdp({ revocationCheckMs: 200 });
  const { bob, device, stream } = await inspectedSession(server);
  await using _stream = stream;
  await using _device = device;

  assert.equal((await bob.post("/console/sign-out", {})).status, 303);
  const ended = await settlesWithin(stream.ended, 5_000);
  assert.ok(
    ended,
    `bob's stream was still open 5 s after he signed out${await leakAfter(
      device,
      stream,
      "sign-out",
    )}`,
  );
});

/** The error event says why, so the inspector can say so: removal and sign-out, each its code. */
Deno.test("a console stream ends with an error event naming why", async () => {
  await using server = await startServerWithIdp({ revocationCheckMs: 200 });
  const { ada, bob, device, stream } = await inspectedSession(server);
  await using _stream = stream;
  await using _device = device;
  await ada.post("/console/account/members/remove", { email: bob.email });
  assert.equal(await endsWith(stream, 5_000), "account_not_found");
});

/**
 * Nobody announces an expiry: the relay's periodic check of every watched
 * credential sees the console session's stored expiry pass, as it sees a key
 * revoked in another process.
 */
Deno.test("a console session's expiry ends its live inspector", async () => {
  const base = await startServer();
  const signIn = { ...base.config.signIn, sessionSeconds: 6 };
  await base.close();
  await using server = await startServerWithIdp({ revocationCheckMs: 200, signIn });
  const { bob, device, stream } = await inspectedSession(server);
  await using _stream = stream;
  await using _device = device;
  assert.equal(await endsWith(stream, 10_000), "sign_in_failed");
  assert.notEqual((await bob.get("/console")).status, 200, "the session is over");
});

// ---------------------------------------------------------------------------
// 3. A member's API key outlives the member.

/**
 * The attack: Bob, a member, creates API keys on the console's keys page and
 * keeps the secrets. An admin removes him; the console refuses him, but if
 * the keys he made went on working he would keep the account's whole API
 * (every link's results, every session's telemetry, the listen stream) with
 * no end, and nothing would tell the admin which keys were his. The design:
 * a key records who created it; removing a member revokes the keys they made
 * (their sockets close as on any revocation); and live keys, which reach real
 * users, are an admin's to make.
 */
Deno.test("removing a member revokes the keys they made, and only admins make live keys", async () => {
  await using server = await startServerWithIdp();
  const ada = await signIn(server, "ada@acme.example");
  const accountId = await accountOf(server, ada.email);
  await ada.post("/console/account/members", { email: "bob@acme.example", role: "member" });
  const bob = await signIn(server, "bob@acme.example");
  await bob.accept(accountId);

  const refused = await bob.post("/console/keys", { name: "bob's live", mode: "live" });
  assert.equal(refused.status, 403, "a member may not create a live key");
  assert.match(refused.html, /admin_required/);
  const test = await bob.post("/console/keys", { name: "bob's laptop", mode: "test" });
  assert.equal(test.status, 201, "a member may create a test key");
  const testSecret = /sk_test_[0-9A-Za-z_]+/.exec(test.html)?.[0];
  assert.ok(testSecret, "the keys page shows the new secret once");
  assert.match(test.html, /bob@acme\.example/, "the keys page shows who made it");

  // Made an admin (he is a member already: the role changes), he may.
  assert.equal(
    (await ada.post("/console/account/members", { email: bob.email, role: "admin" })).status,
    303,
  );
  const live = await bob.post("/console/keys", { name: "bob's live", mode: "live" });
  assert.equal(live.status, 201, live.html.slice(0, 300));
  const secret = /sk_live_[0-9A-Za-z_]+/.exec(live.html)?.[0];
  assert.ok(secret);
  assert.equal((await request(`${server.url}/v1/links`, { apiKey: secret })).status, 200);
  const cli = await createApiKey(server.kv, { name: "deploy", mode: "live", accountId });
  assert.equal(cli.key.createdBy, "cli");

  // The account page says what removing him will revoke.
  const page = await ada.get("/console/account");
  assert.match(page.html, /bob&#39;s laptop \(test\), bob&#39;s live \(live\)/);
  const removed = await ada.post("/console/account/members/remove", { email: bob.email });
  assert.equal(removed.status, 303);
  assert.match(
    (await ada.get("/console/account?saved=member-removed&revoked=2")).html,
    /2 API keys/,
  );
  assert.notEqual((await bob.get("/console")).status, 200, "the console refuses Bob now");
  for (const made of [secret, testSecret]) {
    const after = await request(`${server.url}/v1/links`, { apiKey: made });
    assert.equal(after.status, 401, `a key Bob made answers ${after.status} after his removal`);
    assert.equal(after.body.error.code, "revoked_api_key");
  }
  assert.equal(
    (await request(`${server.url}/v1/links`, { apiKey: cli.secret })).status,
    200,
    "keys others made go on working",
  );
});
