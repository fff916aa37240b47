/**
 * Accounts own keys, links, sessions and webhook events: a second key of the
 * same account sees what the first made, even after the first is revoked;
 * another account's answers 404; the claim page falls back to the account's app
 * name and its uploaded logo (served from this origin, refused unless it is a
 * PNG, JPEG or WebP of at most 256 KB); roles (the creator is the admin, the
 * last admin stays); invitations, which make nobody a member until accepted;
 * the account a sign-in opens; removing a member revokes the keys they made;
 * and the startup migration gives data stored before accounts an owner,
 * idempotently.
 */
import assert from "node:assert/strict";
import { migrateToAccounts } from "../lib/account_migration.ts";
import {
  acceptInvitation,
  type AccountRecord,
  accountsOfMember,
  addMember,
  createAccount,
  dropInvitation,
  getAccount,
  invitationsFor,
  inviteMember,
  removeMember,
  roleOf,
  updateAccount,
} from "../lib/accounts.ts";
import { startConsoleSession } from "../lib/auth/console_sessions.ts";
import { removeMemberAndTheirKeys } from "../lib/member_removal.ts";
import {
  MAX_LOGO_BYTES,
  readLogo,
  removeAccountLogo,
  setAccountLogo,
} from "../lib/account_logos.ts";
import { createApiKey, listAccountApiKeys, revokeApiKey } from "../lib/api_keys.ts";
import {
  accountKey,
  apiKeyKey,
  linkKey,
  linksByAccountPrefix,
  sessionKey,
  webhookEventKey,
} from "../lib/kv_keys.ts";
import type { LinkRecord } from "../lib/links.ts";
import type { SessionRecord } from "../lib/sessions.ts";
import type { WebhookEventRecord } from "../lib/webhooks.ts";
import type { PassageError } from "../lib/errors.ts";
import { assertError, createLinkViaApi, LINK_BODY, request, startServer } from "./_harness.ts";
import { finishLink, startReceiver } from "./_webhooks.ts";

Deno.test("a second key of the same account sees the first key's links and sessions after it is revoked", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  const session = await server.api("/v1/sessions", { method: "POST", json: {} });
  assert.equal(session.status, 201);
  const rotated = await createApiKey(server.kv, {
    name: "rotated",
    mode: "test",
    accountId: server.accountId,
  });
  await revokeApiKey(server.kv, server.keyId);
  const got = await server.api(`/v1/links/${link.id}`, { apiKey: rotated.secret });
  assert.equal(got.status, 200, got.text);
  const list = await server.api("/v1/links", { apiKey: rotated.secret });
  assert.deepEqual(list.body.data.map((l: { id: string }) => l.id), [link.id]);
  const sess = await server.api(`/v1/sessions/${session.body.id}`, { apiKey: rotated.secret });
  assert.equal(sess.status, 200, sess.text);
  const keys = await listAccountApiKeys(server.kv, server.accountId);
  assert.deepEqual(keys.map((k) => k.id).sort(), [server.keyId, rotated.key.id].sort());
  assert.ok(keys.find((k) => k.id === server.keyId)?.lastUsedAt, "the first key's last use");
});

Deno.test("another account's link and session answer 404, and a live key does not see test links", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  const other = await createApiKey(server.kv, { name: "other", mode: "test" });
  assert.notEqual(other.key.accountId, server.accountId);
  assertError(
    await server.api(`/v1/links/${link.id}`, { apiKey: other.secret }),
    404,
    "link_not_found",
  );
  const live = await createApiKey(server.kv, {
    name: "live",
    mode: "live",
    accountId: server.accountId,
  });
  assertError(
    await server.api(`/v1/links/${link.id}`, { apiKey: live.secret }),
    404,
    "link_not_found",
  );
  assert.deepEqual((await server.api("/v1/links", { apiKey: live.secret })).body.data, []);
});

Deno.test("the claim page shows the account's app name when the link has none", async () => {
  await using server = await startServer();
  await updateAccount(server.kv, server.accountId, {
    name: "Acme",
    appName: "Acme Budget",
  });
  const link = await createLinkViaApi(server);
  const page = await request(`${server.url}/c/${link.claimCode}`);
  assert.match(page.text, /Acme Budget/);
  const own = await createLinkViaApi(server, { ...LINK_BODY, appName: "Their Own" });
  assert.match((await request(`${server.url}/c/${own.claimCode}`)).text, /Their Own/);
});

Deno.test("members are indexed by email, case-insensitively", async () => {
  await using server = await startServer();
  await addMember(server.kv, server.accountId, "Dev@Example.com");
  const accounts = await accountsOfMember(server.kv, "dev@example.COM");
  assert.deepEqual(accounts.map((a) => a.id), [server.accountId]);
  await assert.rejects(
    addMember(server.kv, server.accountId, "not an email"),
    (err: PassageError) => err.code === "invalid_request" && err.param === "email",
  );
});

/** A 1×1 PNG. */
const PNG = Uint8Array.from(
  atob(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=",
  ),
  (ch) => ch.charCodeAt(0),
);

/** Every key in KV with its versionstamp: equal snapshots mean nothing was written. */
async function snapshot(kv: Deno.Kv): Promise<string[]> {
  const out: string[] = [];
  for await (const e of kv.list({ prefix: [] })) out.push(JSON.stringify([e.key, e.versionstamp]));
  return out;
}

Deno.test("the creator of an account is its admin, a migrated account's first member becomes one, and the last admin stays", async () => {
  await using server = await startServer();
  const made = await createAccount(server.kv, { name: "Acme", members: ["Owner@Acme.example"] });
  assert.equal(roleOf(made, "owner@acme.example"), "admin");
  const withMember = await addMember(server.kv, made.id, "dev@acme.example");
  assert.equal(roleOf(withMember, "dev@acme.example"), "member");
  assert.equal(roleOf(withMember, "stranger@acme.example"), null);
  await assert.rejects(
    removeMember(server.kv, made.id, "owner@acme.example"),
    (err: PassageError) => err.code === "invalid_request" && /last admin/.test(err.message),
  );
  await assert.rejects(
    addMember(server.kv, made.id, "owner@acme.example", "member"),
    (err: PassageError) => /last admin/.test(err.message),
  );
  const promoted = await addMember(server.kv, made.id, "dev@acme.example", "admin");
  assert.equal(roleOf(promoted, "dev@acme.example"), "admin");
  const removed = await removeMember(server.kv, made.id, "owner@acme.example");
  assert.deepEqual(removed.members, ["dev@acme.example"]);
  assert.deepEqual(await accountsOfMember(server.kv, "owner@acme.example"), []);
  // The test server's account has no members, as the migration makes them.
  const first = await addMember(server.kv, server.accountId, "first@example.com");
  assert.equal(roleOf(first, "first@example.com"), "admin");
  // A record from before roles: its first member is the admin.
  const { admins: _, ...legacy } = first;
  assert.equal(
    roleOf({ ...legacy, members: ["a@x.example", "b@x.example"] }, "a@x.example"),
    "admin",
  );
  assert.equal(
    roleOf({ ...legacy, members: ["a@x.example", "b@x.example"] }, "b@x.example"),
    "member",
  );
});

Deno.test("a logo that is SVG, not an image we take, or too large is refused and nothing stored changes", async () => {
  await using server = await startServer();
  await setAccountLogo(server.kv, server.accountId, PNG);
  const before = await snapshot(server.kv);
  const svg = new TextEncoder().encode(
    `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`,
  );
  await assert.rejects(
    setAccountLogo(server.kv, server.accountId, svg),
    (err: PassageError) =>
      err.code === "unsupported_media_type" && err.status === 415 && /SVG/.test(err.message),
  );
  const gif = new TextEncoder().encode("GIF89a\x01\x00\x01\x00");
  await assert.rejects(
    setAccountLogo(server.kv, server.accountId, gif),
    (err: PassageError) =>
      err.code === "unsupported_media_type" && /PNG, JPEG or WebP/.test(err.message),
  );
  const big = new Uint8Array(MAX_LOGO_BYTES + 1);
  big.set(PNG);
  await assert.rejects(
    setAccountLogo(server.kv, server.accountId, big),
    (err: PassageError) => err.code === "payload_too_large" && /256 KB/.test(err.message),
  );
  await assert.rejects(
    setAccountLogo(server.kv, server.accountId, new Uint8Array()),
    (err: PassageError) => err.code === "invalid_request" && err.param === "logo",
  );
  assert.deepEqual(await snapshot(server.kv), before);
});

Deno.test("an uploaded logo is served from this origin as an image only, shown on the claim page with the app name as alt, and replaced cleanly", async () => {
  await using server = await startServer();
  await updateAccount(server.kv, server.accountId, { name: "Acme", appName: "Acme Budget" });
  // Larger than one KV value: stored in chunks.
  const large = new Uint8Array(200_000);
  large.set(PNG);
  const first = await setAccountLogo(server.kv, server.accountId, large);
  assert.equal(first.logo?.type, "image/png");
  const link = await createLinkViaApi(server, { ...LINK_BODY, appName: "Their Own" });
  const page = await request(`${server.url}/c/${link.claimCode}`);
  const src = /<img class="app-logo" src="([^"]+)" alt="Acme Budget"/.exec(page.text)?.[1];
  assert.ok(src, page.text.slice(0, 2000));
  assert.match(src, /^\/logos\/[0-9a-f]{32}\.png$/);
  assert.match(page.headers.get("content-security-policy")!, /img-src 'self' data:/);
  const res = await fetch(server.url + src);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/png");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.match(res.headers.get("cache-control")!, /max-age=31536000, immutable/);
  assert.match(res.headers.get("content-security-policy")!, /sandbox/);
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), large);
  // A new logo gets a new address; the old one is gone with its chunks.
  const second = await setAccountLogo(server.kv, server.accountId, PNG);
  assert.notEqual(second.logo!.id, first.logo!.id);
  assert.equal(await readLogo(server.kv, first.logo!.id), null);
  const gone = await request(server.url + src);
  assert.equal(gone.status, 404);
  const chunks: unknown[] = [];
  for await (const e of server.kv.list({ prefix: ["blob_chunks"] })) chunks.push(e.key);
  assert.deepEqual(chunks, []);
  await removeAccountLogo(server.kv, server.accountId);
  assert.doesNotMatch(
    (await request(`${server.url}/c/${link.claimCode}`)).text,
    /<img class="app-logo"/,
  );
  assert.equal((await request(`${server.url}/logos/${"0".repeat(32)}.png`)).status, 404);
});

Deno.test("migrateToAccounts() gives pre-account keys an account and re-owns their links, sessions and events, idempotently", async () => {
  await using server = await startServer({ allowLoopbackWebhooks: true });
  await using receiver = startReceiver();
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  await finishLink(server, link.id, { status: "complete", results: {} });
  await receiver.waitFor(1);
  const sessionId = link.sessionId;
  // Rewind the store to what a server before accounts wrote: no accountId
  // anywhere, indexes by key id.
  const key = await server.kv.get<Record<string, unknown>>(apiKeyKey(server.keyId));
  const { accountId: _a, ...legacyKey } = key.value!;
  const linkRec = (await server.kv.get<LinkRecord>(linkKey(link.id))).value!;
  const sessRec = (await server.kv.get<SessionRecord>(sessionKey(sessionId))).value!;
  const eventIds: string[] = [];
  for await (const e of server.kv.list<string>({ prefix: ["webhook_events_by_link", link.id] })) {
    eventIds.push(e.value);
  }
  assert.equal(eventIds.length, 1);
  const event = (await server.kv.get<WebhookEventRecord>(webhookEventKey(eventIds[0]))).value!;
  const strip = <T extends { accountId?: string }>({ accountId: _, ...rest }: T) => rest;
  await server.kv.atomic()
    .set(apiKeyKey(server.keyId), legacyKey)
    .delete(["api_keys_by_account", server.accountId, server.keyId])
    .delete(["accounts", server.accountId])
    .set(linkKey(link.id), strip(linkRec))
    .delete(["links_by_account", server.accountId, "test", link.id])
    .set(["links_by_owner", server.keyId, link.id], link.id)
    .set(sessionKey(sessionId), strip(sessRec))
    .delete(["sessions_by_account", server.accountId, "test", sessionId])
    .set(["sessions_by_owner", server.keyId, sessionId], sessionId)
    .set(webhookEventKey(event.id), strip(event))
    .delete(["webhook_events_by_account", server.accountId, event.id])
    .commit();

  const first = await migrateToAccounts(server.kv);
  assert.deepEqual(first, { accounts: 1, links: 1, sessions: 1, events: 1 });
  const migratedKey = (await server.kv.get<{ accountId: string }>(apiKeyKey(server.keyId))).value!;
  const accountId = migratedKey.accountId;
  assert.match(accountId, /^acct_/);
  assert.equal((await getAccount(server.kv, accountId))?.name, "test");
  assert.equal((await server.kv.get<LinkRecord>(linkKey(link.id))).value?.accountId, accountId);
  assert.equal(
    (await server.kv.get<SessionRecord>(sessionKey(sessionId))).value?.accountId,
    accountId,
  );
  assert.equal(
    (await server.kv.get<WebhookEventRecord>(webhookEventKey(event.id))).value?.accountId,
    accountId,
  );
  let legacy = 0;
  for await (const _ of server.kv.list({ prefix: ["links_by_owner"] })) legacy++;
  for await (const _ of server.kv.list({ prefix: ["sessions_by_owner"] })) legacy++;
  assert.equal(legacy, 0, "the old indexes are gone");
  let indexed = 0;
  for await (const _ of server.kv.list({ prefix: linksByAccountPrefix(accountId, "test") })) {
    indexed++;
  }
  assert.equal(indexed, 1);
  // The API answers as before; a new key of the account (a rotation) sees it too.
  assert.equal((await server.api(`/v1/links/${link.id}`)).status, 200);
  assert.equal((await server.api(`/v1/sessions/${sessionId}`)).status, 200);
  const rotated = await createApiKey(server.kv, { name: "new", accountId });
  await revokeApiKey(server.kv, server.keyId);
  assert.equal((await server.api(`/v1/links/${link.id}`, { apiKey: rotated.secret })).status, 200);
  assert.equal(
    (await server.api(`/v1/links/${link.id}/webhooks`, { apiKey: rotated.secret })).body.data
      .length,
    1,
  );

  assert.deepEqual(await migrateToAccounts(server.kv), {
    accounts: 0,
    links: 0,
    sessions: 0,
    events: 0,
  });
  assert.equal(
    (await server.kv.get<{ accountId: string }>(apiKeyKey(server.keyId))).value?.accountId,
    accountId,
    "a second run changes nothing",
  );
});

Deno.test("any key of the account, in its mode, may open a session's controller socket; another account's may not", async () => {
  await using server = await startServer();
  const session = await server.api("/v1/sessions", { method: "POST", json: {} });
  const rotated = await createApiKey(server.kv, {
    name: "rotated",
    mode: "test",
    accountId: server.accountId,
  });
  const other = await createApiKey(server.kv, { name: "other", mode: "test" });
  /** The first frame (or close code) a controller hello with `apiKey` gets. */
  const hello = (apiKey: string) =>
    new Promise<string>((resolve) => {
      const ws = new WebSocket(
        `${server.url.replace(/^http/, "ws")}/v1/sessions/${session.body.id}/socket`,
      );
      ws.onopen = () => ws.send(JSON.stringify({ type: "hello", v: 1, apiKey }));
      ws.onmessage = (e) => {
        resolve(JSON.parse(String(e.data)).type);
        ws.close();
      };
      ws.onclose = (e) => resolve(`closed ${e.code}`);
    });
  assert.equal(await hello(rotated.secret), "welcome");
  assert.equal(await hello(other.secret), "closed 4404");
});

Deno.test("an invitation makes nobody a member until they accept it, with the role offered", async () => {
  await using server = await startServer();
  const acme = await createAccount(server.kv, { name: "Acme", members: ["owner@acme.example"] });
  const { account, invited } = await inviteMember(
    server.kv,
    acme.id,
    "Dev@Acme.example",
    "admin",
    "owner@acme.example",
  );
  assert.equal(invited, true);
  assert.equal(roleOf(account, "dev@acme.example"), null, "an invitation is not membership");
  assert.deepEqual(await accountsOfMember(server.kv, "dev@acme.example"), []);
  const [offer] = await invitationsFor(server.kv, "dev@acme.example");
  assert.equal(offer.accountId, acme.id);
  assert.equal(offer.invitation.role, "admin");
  assert.equal(offer.invitation.invitedBy, "owner@acme.example");
  // Someone else cannot accept it: the invitation is for one email.
  await assert.rejects(
    acceptInvitation(server.kv, acme.id, "mallory@acme.example"),
    (err: PassageError) => err.code === "account_not_found",
  );
  const joined = await acceptInvitation(server.kv, acme.id, "dev@acme.example");
  assert.equal(roleOf(joined, "dev@acme.example"), "admin");
  assert.deepEqual(joined.invitations, []);
  assert.deepEqual(await invitationsFor(server.kv, "dev@acme.example"), []);
  // Once answered, it cannot be answered again; inviting a member changes their role.
  await assert.rejects(
    acceptInvitation(server.kv, acme.id, "dev@acme.example"),
    (err: PassageError) => err.code === "account_not_found",
  );
  const demoted = await inviteMember(server.kv, acme.id, "dev@acme.example", "member", "o@x");
  assert.equal(demoted.invited, false);
  assert.equal(roleOf(demoted.account, "dev@acme.example"), "member");
  // Declined (or withdrawn), it is gone; dropping none is a 404.
  await inviteMember(server.kv, acme.id, "late@acme.example", "member", "owner@acme.example");
  await dropInvitation(server.kv, acme.id, "late@acme.example");
  assert.deepEqual(await invitationsFor(server.kv, "late@acme.example"), []);
  await assert.rejects(
    dropInvitation(server.kv, acme.id, "late@acme.example"),
    (err: PassageError) => err.code === "account_not_found",
  );
  // An expired one is offered to nobody and cannot be accepted (the stored expiry decides).
  await inviteMember(server.kv, acme.id, "slow@acme.example", "member", "owner@acme.example");
  const entry = await server.kv.get<AccountRecord>(accountKey(acme.id));
  const past = new Date(Date.now() - 1000).toISOString();
  await server.kv.set(accountKey(acme.id), {
    ...entry.value!,
    invitations: entry.value!.invitations!.map((i) => ({ ...i, expiresAt: past })),
  });
  assert.deepEqual(await invitationsFor(server.kv, "slow@acme.example"), []);
  await assert.rejects(
    acceptInvitation(server.kv, acme.id, "slow@acme.example"),
    (err: PassageError) => err.code === "account_not_found",
  );
});

Deno.test("a sign-in opens the account last used, else one the person created, else a new one: memberships made before invitations stay", async () => {
  await using server = await startServer();
  const session = (email: string) =>
    startConsoleSession(server.kv, { email, via: "test", ttlSeconds: 60 });
  // A record as the old rule left it: two members added directly, no creator recorded.
  const old = await createAccount(server.kv, { name: "Old", members: ["a@old.example"] });
  await addMember(server.kv, old.id, "b@old.example");
  const { createdBy: _, ...legacy } = (await getAccount(server.kv, old.id))!;
  await server.kv.set(accountKey(old.id), legacy);
  // Its first member counts as its creator and lands there.
  assert.equal((await session("a@old.example")).session.accountId, old.id);
  // The other stays a member, but a sign-in opens an account of their own first.
  const b = await session("b@old.example");
  assert.notEqual(b.session.accountId, old.id);
  assert.deepEqual(
    (await accountsOfMember(server.kv, "b@old.example")).map((a) => a.id).sort(),
    [old.id, b.session.accountId].sort(),
  );
  assert.equal((await session("b@old.example")).session.accountId, b.session.accountId);
});

Deno.test("keys record who made them, and removing a member revokes theirs only", async () => {
  await using server = await startServer();
  const acme = await createAccount(server.kv, { name: "Acme", members: ["owner@acme.example"] });
  await addMember(server.kv, acme.id, "bob@acme.example");
  const mine = await createApiKey(server.kv, {
    name: "bob",
    mode: "live",
    accountId: acme.id,
    createdBy: "bob@acme.example",
  });
  const theirs = await createApiKey(server.kv, {
    name: "owner",
    mode: "live",
    accountId: acme.id,
    createdBy: "owner@acme.example",
  });
  const cli = await createApiKey(server.kv, { name: "cli", accountId: acme.id });
  assert.equal(mine.key.createdBy, "bob@acme.example");
  assert.equal(cli.key.createdBy, "cli");
  const listed = await listAccountApiKeys(server.kv, acme.id);
  assert.deepEqual(listed.map((k) => k.createdBy), [
    "bob@acme.example",
    "owner@acme.example",
    "cli",
  ]);
  const { revoked } = await removeMemberAndTheirKeys(server.kv, acme.id, "Bob@Acme.example");
  assert.deepEqual(revoked.map((k) => k.id), [mine.key.id]);
  for (const [secret, status] of [[mine.secret, 401], [theirs.secret, 200], [cli.secret, 200]]) {
    const res = await request(`${server.url}/v1/links`, { apiKey: secret as string });
    assert.equal(res.status, status);
  }
  // Again (as after an interrupted run): nothing left to do, nothing else touched.
  assert.deepEqual(
    (await removeMemberAndTheirKeys(server.kv, acme.id, "bob@acme.example")).revoked,
    [],
  );
});
