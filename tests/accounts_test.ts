/**
 * Accounts own keys, links, sessions and webhook events: a second key of the
 * same account sees what the first made, even after the first is revoked;
 * another account's answers 404; the claim page falls back to the account's app
 * name; and the startup migration gives data stored before accounts an owner,
 * idempotently.
 */
import assert from "node:assert/strict";
import { migrateToAccounts } from "../lib/account_migration.ts";
import { accountsOfMember, addMember, getAccount, updateAccount } from "../lib/accounts.ts";
import { createApiKey, listAccountApiKeys, revokeApiKey } from "../lib/api_keys.ts";
import {
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
