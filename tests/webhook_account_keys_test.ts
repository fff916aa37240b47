/**
 * Webhook signing keys per account: one account's rotation (from its
 * console, by its admin) changes nothing for another account's webhooks or
 * receivers; a webhook signed before a rotation verifies for the overlap and
 * not after; a kid is only trusted in the key set of the account the webhook
 * is addressed to; and accounts from before per-account keys keep the
 * server-wide key until their first rotation. Real server, real receivers,
 * real console sign-in through a loopback OpenID provider.
 */
import assert from "node:assert/strict";
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from "jose";
import {
  verifyWebhook,
  type VerifyWebhookOptions,
  WebhookVerificationError,
} from "@passage/connect";
import { migrateToAccounts, migrateWebhookKeysToAccounts } from "../lib/account_migration.ts";
import { addMember } from "../lib/accounts.ts";
import { createApiKey } from "../lib/api_keys.ts";
import { sha256Hex } from "../lib/ids.ts";
import { accountWebhookKeyKey } from "../lib/kv_keys.ts";
import {
  accountWebhookKeySet,
  currentServerWebhookKey,
  currentWebhookKey,
  rotateWebhookKey,
} from "../lib/webhook_keys.ts";
import { signJwt, signWebhookBody } from "../lib/webhook_signing.ts";
import { createLinkViaApi, LINK_BODY, request, startServer, type TestServer } from "./_harness.ts";
import { signInWithOidc, startServerWithIdp } from "./_oidc.ts";
import { COMPLETE, finishLink, jwtParts, type Receiver, startReceiver } from "./_webhooks.ts";

const BODY = JSON.stringify({
  id: "evt_01KBTESTTESTTESTTESTTESTTE",
  type: "link.failed",
  linkId: "link_01KBTESTTESTTESTTESTTESTTE",
  status: "failed",
  provider: "tmobile",
  error: { code: "invalid_credentials", message: "The password was not accepted" },
  createdAt: "2026-11-28T16:00:00.000Z",
});

function webhookRequest(signature: string): Request {
  return new Request("http://receiver.test/hooks", {
    method: "POST",
    headers: { "content-type": "application/json", "passage-verification": signature },
    body: BODY,
  });
}

async function assertRejected(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof WebhookVerificationError, `not a WebhookVerificationError: ${err}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

/** The server's signature of BODY for `accountId`, and its kid. */
const sign = (server: TestServer, accountId: string) =>
  signWebhookBody(server.kv, new TextEncoder().encode(BODY), { aud: accountId, livemode: false });

/** A `fetch` of its own, so the SDK's key cache starts empty (it caches per `fetch`). */
const freshFetch = (): typeof fetch => (input, init) => fetch(input, init);

const kidsOf = async (url: string) =>
  ((await request(url)).body.keys as { kid: string }[]).map((k) => k.kid);

/** A real HTTP server in front of the Passage server that counts the fetches of each path. */
function countingServer(server: TestServer) {
  const fetches = new Map<string, number>();
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { pathname } = new URL(req.url);
    fetches.set(pathname, (fetches.get(pathname) ?? 0) + 1);
    return fetch(`${server.url}${pathname}`);
  });
  return {
    url: `http://127.0.0.1:${http.addr.port}`,
    fetchesOf: (accountId: string) => fetches.get(`/v1/accounts/${accountId}/jwks.json`) ?? 0,
    [Symbol.asyncDispose]: () => http.shutdown(),
  };
}

function assertVerified(r: Awaited<ReturnType<Receiver["waitFor"]>>[number]) {
  assert.equal(r.verifyError, undefined, String(r.verifyError));
}

Deno.test("account A's admin rotates its key in the console: B's webhooks keep their kid and B's receiver fetches nothing", async () => {
  await using server = await startServerWithIdp({ allowLoopbackWebhooks: true });
  await using passage = countingServer(server);
  const a = server.accountId;
  const other = await createApiKey(server.kv, { name: "B", mode: "test" });
  const b = other.key.accountId;
  await addMember(server.kv, a, "ada@example.com");
  // Only the server's URL and the account id: the SDK finds each account's key set. (No
  // cool-down, so A's receiver may refetch for A's new kid at once.)
  const verify = { baseUrl: passage.url, keyCooldownSeconds: 0 };
  await using receiverA = startReceiver({ verify: { ...verify, audience: a } });
  await using receiverB = startReceiver({ verify: { ...verify, audience: b } });
  const send = async (apiKey: string, receiver: Receiver) => {
    const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url }, {
      apiKey,
    });
    await finishLink(server, link.id, COMPLETE);
  };

  await send(server.apiKey, receiverA);
  await send(other.secret, receiverB);
  const [a1] = await receiverA.waitFor(1);
  const [b1] = await receiverB.waitFor(1);
  assertVerified(a1);
  assertVerified(b1);
  const kidA1 = jwtParts(a1).header.kid as string;
  const kidB = jwtParts(b1).header.kid as string;
  assert.notEqual(kidA1, kidB, "each account signs with its own key");
  assert.equal(passage.fetchesOf(a), 1);
  assert.equal(passage.fetchesOf(b), 1);

  const { jar, html } = await signInWithOidc(server, "ada@example.com");
  const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(html)![1];
  const rotated = await jar.fetch(`${server.url}/console/webhooks/rotate`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url },
    body: new URLSearchParams({ _csrf: csrf }),
  });
  assert.equal(rotated.status, 303);
  const kidA2 = new URL(rotated.headers.get("location")!, server.url).searchParams.get("rotated");
  assert.ok(kidA2 && kidA2 !== kidA1, `rotated to ${kidA2}`);

  await send(server.apiKey, receiverA);
  await send(other.secret, receiverB);
  const [, a2] = await receiverA.waitFor(2);
  const [, b2] = await receiverB.waitFor(2);
  assertVerified(a2);
  assertVerified(b2);
  assert.equal(jwtParts(a2).header.kid, kidA2);
  assert.equal(jwtParts(b2).header.kid, kidB, "B's key did not change");
  assert.equal(passage.fetchesOf(a), 2, "A's receiver fetched its set once for the new kid");
  assert.equal(passage.fetchesOf(b), 1, "B's receiver never refetched");

  assert.deepEqual(await kidsOf(`${server.url}/v1/accounts/${b}/jwks.json`), [kidB]);
  assert.deepEqual(await kidsOf(`${server.url}/v1/accounts/${a}/jwks.json`), [kidA1, kidA2]);
  assert.deepEqual(await kidsOf(`${server.url}/.well-known/jwks.json`), [], "no account key");
  // Any kid is still found alone, whichever account's it is.
  for (const kid of [kidA1, kidA2, kidB]) {
    const res = await request(`${server.url}/webhook_verification_key/get?key_id=${kid}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.key.kid, kid);
  }
  const unknown = await request(`${server.url}/v1/accounts/acct_nobody/jwks.json`);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, "account_not_found");
});

Deno.test("A's webhook signed before its rotation verifies during the overlap and not after it", async () => {
  await using server = await startServer();
  const a = server.accountId;
  const inFlight = await sign(server, a);
  const options = (): VerifyWebhookOptions => ({
    baseUrl: server.url,
    audience: a,
    fetch: freshFetch(),
  });
  const { current, previous } = await rotateWebhookKey(server.kv, {
    accountId: a,
    overlapSeconds: 1,
  });
  assert.equal(previous?.kid, inFlight.kid);
  assert.equal((await verifyWebhook(webhookRequest(inFlight.jwt), options())).id.length > 0, true);
  const next = await sign(server, a);
  assert.equal(next.kid, current.kid);

  // Wait for the overlap to end, as the server sees it: the key leaves A's set.
  const setUrl = `${server.url}/v1/accounts/${a}/jwks.json`;
  for (let i = 0; (await kidsOf(setUrl)).includes(inFlight.kid); i++) {
    assert.ok(i < 100, "the old key never left the key set");
    await new Promise((r) => setTimeout(r, 50));
  }
  await assertRejected(verifyWebhook(webhookRequest(inFlight.jwt), options()), "unknown_key");
  const byKid = await request(`${server.url}/webhook_verification_key/get?key_id=${inFlight.kid}`);
  assert.equal(byKid.status, 404);
  await verifyWebhook(webhookRequest(next.jwt), options());

  // The account's next rotation deletes the expired key: its storage stays bounded.
  await rotateWebhookKey(server.kv, { accountId: a, overlapSeconds: 60 });
  assert.equal((await server.kv.get(accountWebhookKeyKey(a, inFlight.kid))).value, null);
});

Deno.test("a webhook signed with A's key but addressed to B is refused: the kid must be in B's key set", async () => {
  await using server = await startServer();
  const a = server.accountId;
  const b = (await createApiKey(server.kv, { name: "B", mode: "test" })).key.accountId;
  await currentWebhookKey(server.kv, b); // B has a key of its own
  const keyA = await currentWebhookKey(server.kv, a);
  const claims = { iat: Math.floor(Date.now() / 1000), request_body_sha256: await sha256Hex(BODY) };
  const toB = await signJwt(keyA, { ...claims, aud: b, livemode: false });
  const toA = await signJwt(keyA, { ...claims, aud: a, livemode: false });
  for (
    const options of [
      { baseUrl: server.url, audience: b },
      { baseUrl: server.url },
      { jwksUrl: `${server.url}/.well-known/jwks.json`, audience: b },
      { publicKeyUrl: `${server.url}/webhook_verification_key/get` },
    ]
  ) {
    await assertRejected(
      verifyWebhook(webhookRequest(toB), { ...options, fetch: freshFetch() }),
      "unknown_key",
    );
  }
  // A's receiver refuses it before fetching anything; the same key addressed to A verifies.
  await assertRejected(
    verifyWebhook(webhookRequest(toB), { baseUrl: server.url, audience: a }),
    "wrong_audience",
  );
  await verifyWebhook(webhookRequest(toA), { baseUrl: server.url, audience: a });
  await verifyWebhook(webhookRequest(toA), { baseUrl: server.url });
});

Deno.test("migration: accounts from before per-account keys keep the server-wide key until their first rotation, then trust it for the overlap only", async () => {
  await using server = await startServer();
  // The store as an older server left it: one server-wide key signed every account's webhooks.
  const shared = await currentServerWebhookKey(server.kv);
  const a = server.accountId;
  const b = (await createApiKey(server.kv, { name: "B", mode: "test" })).key.accountId;
  await migrateToAccounts(server.kv);
  const c = (await createApiKey(server.kv, { name: "C, made after", mode: "test" })).key
    .accountId;
  assert.equal(await migrateWebhookKeysToAccounts(server.kv), 0, "it runs once");

  const signedA = await sign(server, a);
  assert.equal(signedA.kid, shared.kid);
  assert.equal((await sign(server, b)).kid, shared.kid);
  const signedC = await sign(server, c);
  assert.notEqual(signedC.kid, shared.kid, "a new account gets its own key at once");

  // A receiver built before per-account keys (jose or PyJWT on /.well-known/jwks.json) still
  // verifies A's webhooks; so does the SDK given that URL, from A's set.
  const global = `${server.url}/.well-known/jwks.json`;
  const old = await jwtVerify(signedA.jwt, createRemoteJWKSet(new URL(global)), {
    algorithms: ["ES256"],
    audience: a,
  });
  assert.equal(old.protectedHeader.kid, shared.kid);
  await verifyWebhook(webhookRequest(signedA.jwt), { jwksUrl: global, audience: a });
  assert.deepEqual(await kidsOf(`${server.url}/v1/accounts/${a}/jwks.json`), [shared.kid]);
  assert.deepEqual(await kidsOf(`${server.url}/v1/accounts/${c}/jwks.json`), [signedC.kid]);

  // A's first rotation: its own key from now on, the server-wide one for the overlap; B unchanged.
  const before = Math.floor(Date.now() / 1000);
  const { current, previous } = await rotateWebhookKey(server.kv, {
    accountId: a,
    overlapSeconds: 3600,
  });
  assert.equal(previous?.kid, shared.kid);
  assert.ok(previous!.expiredAt! >= before + 3600 && previous!.expiredAt! <= before + 3601);
  assert.equal((await sign(server, a)).kid, current.kid);
  assert.equal((await sign(server, b)).kid, shared.kid);
  const setA = (await request(`${server.url}/v1/accounts/${a}/jwks.json`)).body;
  assert.deepEqual(setA.keys.map((k: { kid: string }) => k.kid), [shared.kid, current.kid]);
  assert.equal(setA.keys[0].expired_at, previous!.expiredAt);
  await verifyWebhook(webhookRequest(signedA.jwt), { baseUrl: server.url, audience: a });
  await jwtVerify(signedA.jwt, createLocalJWKSet(setA), { algorithms: ["ES256"] });
  assert.deepEqual(await kidsOf(global), [shared.kid], "the server-wide key still signs for B");

  // After A's overlap, the server-wide key is out of A's set, still in B's.
  const later = new Date((previous!.expiredAt! + 1) * 1000);
  assert.deepEqual((await accountWebhookKeySet(server.kv, a, later)).map((k) => k.kid), [
    current.kid,
  ]);
  assert.deepEqual((await accountWebhookKeySet(server.kv, b, later)).map((k) => k.kid), [
    shared.kid,
  ]);
});

Deno.test("migration on a store that never signed a webhook keeps no account on a server-wide key", async () => {
  await using server = await startServer();
  assert.equal(await migrateWebhookKeysToAccounts(server.kv), 0);
  const { kid } = await sign(server, server.accountId);
  assert.deepEqual(await kidsOf(`${server.url}/v1/accounts/${server.accountId}/jwks.json`), [kid]);
  assert.deepEqual(await kidsOf(`${server.url}/.well-known/jwks.json`), []);
});
