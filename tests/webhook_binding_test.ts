// deno-lint-ignore-file no-explicit-any
/**
 * What a webhook is bound to besides its bytes: the owner (`aud`, the id of
 * the account that owns the link) and the mode (`livemode`), so one
 * developer's event, or a test event, does not verify at a receiver that asks
 * for another; and the device that produced the data (`device`, with its
 * self-declared kind and an honest `attestation: "none"`), in the webhook and
 * in `GET /v1/links/{id}`. Real server, real receivers, real signatures.
 */
import assert from "node:assert/strict";
import { verifyWebhook, WebhookVerificationError } from "@passage/connect";
import { deviceMessageSchema, REFERENCE_DEVICE_NAME } from "@passage/connect/protocol";
import { createApiKey } from "../lib/api_keys.ts";
import { sha256Hex } from "../lib/ids.ts";
import { recordDeviceClient } from "../lib/sessions.ts";
import { currentServerWebhookKey } from "../lib/webhook_keys.ts";
import { signJwt, signWebhookBody, type VerificationClaims } from "../lib/webhook_signing.ts";
import { claim, createLinkViaApi, LINK_BODY, startServer, type TestServer } from "./_harness.ts";
import { openSocket } from "./_socket.ts";
import { COMPLETE, finishLink, jwtParts, startReceiver } from "./_webhooks.ts";

const BODY = JSON.stringify({
  id: "evt_01KBTESTTESTTESTTESTTESTTE",
  type: "link.failed",
  linkId: "link_01KBTESTTESTTESTTESTTESTTE",
  status: "failed",
  provider: "tmobile",
  livemode: false,
  device: null,
  error: { code: "invalid_credentials", message: "The password was not accepted" },
  createdAt: "2026-11-28T16:00:00.000Z",
});

const keyUrl = (server: TestServer) => `${server.url}/webhook_verification_key/get`;

function webhookRequest(signature: string, body = BODY): Request {
  return new Request("http://receiver.test/hooks", {
    method: "POST",
    headers: { "content-type": "application/json", "passage-verification": signature },
    body,
  });
}

async function assertRejected(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof WebhookVerificationError, `not a WebhookVerificationError: ${err}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

Deno.test("verifyWebhook() with audience rejects another owner's event and accepts its own", async () => {
  await using server = await startServer();
  const a = server.accountId;
  const b = (await createApiKey(server.kv, { name: "B", mode: "test" })).key.accountId;
  const jwt = async () =>
    (await signWebhookBody(server.kv, new TextEncoder().encode(BODY), {
      aud: a,
      livemode: false,
    })).jwt;
  const base = { publicKeyUrl: keyUrl(server) };
  assert.equal((await verifyWebhook(webhookRequest(await jwt()), base)).provider, "tmobile");
  const own = await verifyWebhook(webhookRequest(await jwt()), { ...base, audience: a });
  assert.equal(own.livemode, false);
  assert.equal(own.device, null);
  await verifyWebhook(webhookRequest(await jwt()), { ...base, audience: [b, a] });
  await assertRejected(
    verifyWebhook(webhookRequest(await jwt()), { ...base, audience: b }),
    "wrong_audience",
  );
  await assertRejected(
    verifyWebhook(webhookRequest(await jwt()), { ...base, audience: [] }),
    "wrong_audience",
  );
});

Deno.test("verifyWebhook() with livemode rejects an event of the other mode", async () => {
  await using server = await startServer();
  const sign = async (livemode: boolean) =>
    (await signWebhookBody(server.kv, new TextEncoder().encode(BODY), {
      aud: server.accountId,
      livemode,
    }))
      .jwt;
  const base = { publicKeyUrl: keyUrl(server) };
  await verifyWebhook(webhookRequest(await sign(true)), { ...base, livemode: true });
  await verifyWebhook(webhookRequest(await sign(false)), { ...base, livemode: false });
  await assertRejected(
    verifyWebhook(webhookRequest(await sign(false)), { ...base, livemode: true }),
    "wrong_mode",
  );
  await assertRejected(
    verifyWebhook(webhookRequest(await sign(true)), { ...base, livemode: false }),
    "wrong_mode",
  );
});

Deno.test("verifyWebhook() refuses a genuine signature without aud or livemode when they are required", async () => {
  await using server = await startServer();
  // as an older server signed, with its server-wide key: no aud, no livemode
  const key = await currentServerWebhookKey(server.kv);
  const old = await signJwt(key, {
    iat: Math.floor(Date.now() / 1000),
    request_body_sha256: await sha256Hex(BODY),
  } as VerificationClaims);
  const base = { publicKeyUrl: keyUrl(server) };
  await verifyWebhook(webhookRequest(old), base);
  await assertRejected(
    verifyWebhook(webhookRequest(old), { ...base, audience: server.accountId }),
    "wrong_audience",
  );
  await assertRejected(
    verifyWebhook(webhookRequest(old), { ...base, livemode: false }),
    "wrong_mode",
  );
});

Deno.test("one developer's test event does not verify at another developer's receiver", async () => {
  await using server = await startServer({ allowLoopbackWebhooks: true });
  const other = await createApiKey(server.kv, { name: "other developer", mode: "test" });
  await using theirs = startReceiver({
    verify: { publicKeyUrl: keyUrl(server), audience: other.key.accountId, livemode: false },
  });
  await using ours = startReceiver({
    verify: { publicKeyUrl: keyUrl(server), audience: server.accountId, livemode: false },
  });
  // our link, pointed (by mistake or malice) at their receiver, and one at ours
  const stray = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: theirs.url });
  const mine = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: ours.url });
  await finishLink(server, stray.id, COMPLETE);
  await finishLink(server, mine.id, COMPLETE);
  const [got] = await theirs.waitFor(1);
  assert.ok(got.verifyError instanceof WebhookVerificationError, String(got.verifyError));
  assert.equal((got.verifyError as WebhookVerificationError).code, "wrong_audience");
  assert.equal(jwtParts(got).claims.aud, server.accountId);
  const [good] = await ours.waitFor(1);
  assert.equal(good.verifyError, undefined, String(good.verifyError));
  assert.equal(good.payload?.linkId, mine.id);
});

Deno.test("a live key's event is signed livemode true and refused by a test-mode receiver", async () => {
  await using server = await startServer({ allowLoopbackWebhooks: true });
  const live = await createApiKey(server.kv, { name: "live", mode: "live" });
  await using testOnly = startReceiver({
    verify: { publicKeyUrl: keyUrl(server), audience: live.key.accountId, livemode: false },
  });
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: testOnly.url }, {
    apiKey: live.secret,
  });
  assert.equal(link.livemode, true);
  await finishLink(server, link.id, COMPLETE);
  const [got] = await testOnly.waitFor(1);
  assert.equal((got.verifyError as WebhookVerificationError)?.code, "wrong_mode");
  const { claims } = jwtParts(got);
  assert.equal(claims.livemode, true);
  assert.equal(claims.aud, live.key.accountId);
  assert.equal(JSON.parse(new TextDecoder().decode(got.body)).livemode, true);
});

Deno.test("the link and its webhook say which kind of device ran it, with attestation none", async () => {
  await using server = await startServer({ allowLoopbackWebhooks: true });
  await using receiver = startReceiver({
    verify: { publicKeyUrl: keyUrl(server), audience: server.accountId },
  });
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: receiver.url });
  assert.equal(link.device, null, "no device before one connects");
  const claimed = await claim(server, link.claimCode);
  assert.equal(claimed.status, 200, claimed.text);

  // what the relay records when the device's hello is accepted
  await recordDeviceClient(server.kv, link.sessionId, { name: "acme-app-clip", version: "2.1" });
  let got = await server.api(`/v1/links/${link.id}`);
  assert.deepEqual(got.body.device, {
    kind: "unknown",
    attestation: "none",
    client: { name: "acme-app-clip", version: "2.1" },
  });
  await recordDeviceClient(server.kv, link.sessionId, {
    name: REFERENCE_DEVICE_NAME,
    version: "0.1.0",
  });
  got = await server.api(`/v1/links/${link.id}`);
  const reference = {
    kind: "reference",
    attestation: "none",
    client: { name: REFERENCE_DEVICE_NAME, version: "0.1.0" },
  };
  assert.deepEqual(got.body.device, reference);

  await finishLink(server, link.id, COMPLETE);
  const [event] = await receiver.waitFor(1);
  assert.equal(event.verifyError, undefined, String(event.verifyError));
  assert.deepEqual(event.payload?.device, reference);

  // a device that declares nothing is unknown, with no client
  await recordDeviceClient(server.kv, link.sessionId, undefined);
  got = await server.api(`/v1/links/${link.id}`);
  assert.deepEqual(got.body.device, { kind: "unknown", attestation: "none", client: null });
});

Deno.test("the device hello accepts an optional client {name, version} and refuses a malformed one", async () => {
  const hello = { type: "hello", v: 1, token: "dt_x", lastCommandSeq: 0 };
  assert.ok(deviceMessageSchema.safeParse(hello).success);
  assert.ok(
    deviceMessageSchema.safeParse({ ...hello, client: { name: "x", version: "1" } }).success,
  );
  for (
    const client of [
      { name: "", version: "1" },
      { name: "x".repeat(65), version: "1" },
      { name: "x" },
      { name: "x", version: "1", extra: true },
      "x",
    ]
  ) {
    assert.equal(deviceMessageSchema.safeParse({ ...hello, client }).success, false, client as any);
  }
  // the relay welcomes a device that declares itself
  await using server = await startServer();
  const session = await server.api("/v1/sessions", { method: "POST", json: {} });
  const claimed = await claim(server, session.body.claimCode);
  const device = await openSocket(server.url.replace(/^http/, "ws") + "/v1/device/socket");
  device.send({
    ...hello,
    token: claimed.body.deviceToken,
    client: { name: REFERENCE_DEVICE_NAME, version: "0.1.0" },
  });
  const welcome = await device.next((m) => m.type === "welcome");
  assert.equal(welcome.sessionId, session.body.id);
  await device.close();
});
