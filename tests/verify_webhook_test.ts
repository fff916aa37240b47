/**
 * `verifyWebhook()` from the SDK against a real server's key endpoint: every
 * way a webhook can be wrong is refused with its own code, and keys are cached
 * by kid. Genuine signatures come from the server's own signer; forged ones are
 * made here with WebCrypto.
 */
import assert from "node:assert/strict";
import {
  type MobileBillingStatement,
  verifyWebhook,
  type VerifyWebhookOptions,
  WebhookVerificationError,
} from "@passage/connect";
import { sha256Hex } from "../lib/ids.ts";
import { currentWebhookKey, rotateWebhookKey } from "../lib/webhook_keys.ts";
import { base64url as b64, importJWK, type JWK, SignJWT } from "jose";
import { signWebhookBody } from "../lib/webhook_signing.ts";

const base64url = (data: string | Uint8Array) => b64.encode(data);
import { startServer, type TestServer } from "./_harness.ts";
import { COMPLETE, startReceiver } from "./_webhooks.ts";

const PAYLOAD = {
  id: "evt_01KBTESTTESTTESTTESTTESTTE",
  type: "link.failed",
  linkId: "link_01KBTESTTESTTESTTESTTESTTE",
  status: "failed",
  provider: "tmobile",
  error: { code: "invalid_credentials", message: "The password was not accepted" },
  createdAt: "2026-11-28T16:00:00.000Z",
} as const;
const BODY = JSON.stringify(PAYLOAD);

function webhookRequest(body: string | Uint8Array<ArrayBuffer>, signature?: string): Request {
  const headers = new Headers({ "content-type": "application/json" });
  if (signature !== undefined) headers.set("passage-verification", signature);
  return new Request("http://receiver.test/hooks", { method: "POST", headers, body });
}

/** The server's genuine signature of `body`, made at `at`. */
async function signed(server: TestServer, body = BODY, at = new Date()): Promise<string> {
  const audience = { aud: server.accountId, livemode: false };
  return (await signWebhookBody(server.kv, new TextEncoder().encode(body), audience, at)).jwt;
}

/** A JWT with any header, claims and signer: for forgeries. */
async function forge(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  sign: (input: Uint8Array<ArrayBuffer>) => Promise<ArrayBuffer | null>,
): Promise<string> {
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = await sign(new TextEncoder().encode(input));
  return `${input}.${signature ? base64url(new Uint8Array(signature)) : ""}`;
}

async function strangerKey(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
}

const ecdsa = (key: CryptoKey) => (input: Uint8Array<ArrayBuffer>) =>
  crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, input);

/** Claims for `body`, addressed to `aud` (whose key set the verifier then fetches). */
async function claimsFor(body: string, aud?: string) {
  return {
    iat: Math.floor(Date.now() / 1000),
    request_body_sha256: await sha256Hex(body),
    ...(aud === undefined ? {} : { aud }),
  };
}

function options(
  server: TestServer,
  extra: Partial<VerifyWebhookOptions> = {},
): VerifyWebhookOptions {
  return { publicKeyUrl: `${server.url}/webhook_verification_key/get`, ...extra };
}

async function assertRejected(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof WebhookVerificationError, `not a WebhookVerificationError: ${err}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.length > 0);
    return true;
  });
}

Deno.test("verifyWebhook() returns the typed payload of a genuine webhook", async () => {
  await using server = await startServer();
  const payload = await verifyWebhook(webhookRequest(BODY, await signed(server)), options(server));
  assert.deepEqual(payload, PAYLOAD);
});

Deno.test("verifyWebhook() rejects a missing or malformed Passage-Verification header", async () => {
  await using server = await startServer();
  await assertRejected(verifyWebhook(webhookRequest(BODY), options(server)), "missing_signature");
  for (const bad of ["abc", "a.b", "!!.??.##", `${base64url("[1]")}.${base64url("{}")}.AA`]) {
    await assertRejected(
      verifyWebhook(webhookRequest(BODY, bad), options(server)),
      "malformed_signature",
    );
  }
});

Deno.test("verifyWebhook() rejects a body whose hash differs (tampered)", async () => {
  await using server = await startServer();
  const jwt = await signed(server);
  const tampered = BODY.replace("invalid_credentials", "account_locked");
  await assertRejected(
    verifyWebhook(webhookRequest(tampered, jwt), options(server)),
    "body_mismatch",
  );
});

Deno.test("verifyWebhook() rejects a re-serialised JSON body: only the raw bytes verify", async () => {
  await using server = await startServer();
  const jwt = await signed(server);
  const reserialised = JSON.stringify(JSON.parse(BODY), null, 2);
  await assertRejected(
    verifyWebhook(webhookRequest(reserialised, jwt), options(server)),
    "body_mismatch",
  );
});

Deno.test("verifyWebhook() rejects a JWT signed by a different key under the same kid", async () => {
  await using server = await startServer();
  const { kid } = await currentWebhookKey(server.kv, server.accountId);
  const stranger = await strangerKey();
  const jwt = await forge(
    { alg: "ES256", kid, typ: "JWT" },
    await claimsFor(BODY, server.accountId),
    ecdsa(stranger.privateKey),
  );
  await assertRejected(
    verifyWebhook(webhookRequest(BODY, jwt), options(server)),
    "invalid_signature",
  );
  // A genuine signature with one byte flipped fails the same way.
  const genuine = await signed(server);
  const flipped = genuine.slice(0, -2) + (genuine.at(-2) === "A" ? "B" : "A") + genuine.at(-1);
  await assertRejected(
    verifyWebhook(webhookRequest(BODY, flipped), options(server)),
    "invalid_signature",
  );
});

Deno.test("verifyWebhook() rejects alg none and HS256 (keyed with the public key)", async () => {
  await using server = await startServer();
  const key = await currentWebhookKey(server.kv, server.accountId);
  const claims = await claimsFor(BODY, server.accountId);
  const none = await forge(
    { alg: "none", kid: key.kid, typ: "JWT" },
    claims,
    () => Promise.resolve(null),
  );
  await assertRejected(
    verifyWebhook(webhookRequest(BODY, none), options(server)),
    "unsupported_algorithm",
  );

  const hmac = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(JSON.stringify(key.publicJwk)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const hs256 = await forge(
    { alg: "HS256", kid: key.kid, typ: "JWT" },
    claims,
    (input) => crypto.subtle.sign("HMAC", hmac, input),
  );
  await assertRejected(
    verifyWebhook(webhookRequest(BODY, hs256), options(server)),
    "unsupported_algorithm",
  );

  // Genuinely signed with the server's key, but not typed as a JWT.
  const wrongTyp = await new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "at+jwt" })
    .sign(await importJWK(key.privateJwk as JWK, "ES256"));
  await assertRejected(
    verifyWebhook(webhookRequest(BODY, wrongTyp), options(server)),
    "unsupported_algorithm",
  );
});

Deno.test("verifyWebhook() rejects an unknown kid", async () => {
  await using server = await startServer();
  const stranger = await strangerKey();
  const jwt = await forge(
    { alg: "ES256", kid: "whk_unknown", typ: "JWT" },
    await claimsFor(BODY),
    ecdsa(stranger.privateKey),
  );
  await assertRejected(verifyWebhook(webhookRequest(BODY, jwt), options(server)), "unknown_key");
});

Deno.test("verifyWebhook() rejects an iat older than maxAgeSeconds or more than a minute ahead", async () => {
  await using server = await startServer();
  const now = Date.now();
  const old = await signed(server, BODY, new Date(now - 301_000));
  await assertRejected(
    verifyWebhook(webhookRequest(BODY, old), options(server)),
    "stale_signature",
  );
  const ahead = await signed(server, BODY, new Date(now + 120_000));
  await assertRejected(
    verifyWebhook(webhookRequest(BODY, ahead), options(server)),
    "stale_signature",
  );
  // Within a wider window, or at the time it was signed, the same signature is fine.
  const payload = await verifyWebhook(
    webhookRequest(BODY, old),
    options(server, { maxAgeSeconds: 600 }),
  );
  assert.equal(payload.id, PAYLOAD.id);
  const then = await verifyWebhook(
    webhookRequest(BODY, old),
    options(server, { now: () => now - 300_000 }),
  );
  assert.equal(then.id, PAYLOAD.id);
});

Deno.test("verifyWebhook() rejects a genuinely signed body that is not a webhook payload", async () => {
  await using server = await startServer();
  for (
    const body of [
      '{"hello":"world"}',
      "not json",
      JSON.stringify({ ...PAYLOAD, type: "link.exploded" }),
    ]
  ) {
    await assertRejected(
      verifyWebhook(webhookRequest(body, await signed(server, body)), options(server)),
      "invalid_payload",
    );
  }
});

Deno.test("verifyWebhook() checks results with the operation schemas of @passage/connect/results", async () => {
  await using server = await startServer();
  const completed = {
    ...PAYLOAD,
    type: "link.completed",
    status: "complete",
    error: undefined,
    results: {
      ...COMPLETE.results,
      "someFutureOperation:read": { anything: true },
    },
  };
  const body = JSON.stringify(completed);
  const payload = await verifyWebhook(
    webhookRequest(body, await signed(server, body)),
    options(server),
  );
  const checked = payload.results?.["mobileBillingStatement:read"] as MobileBillingStatement;
  assert.equal(checked.amountDue, "142.50");
  assert.deepEqual(payload.results, completed.results);

  const bill = COMPLETE.results!["mobileBillingStatement:read"] as Record<string, unknown>;
  const floaty = JSON.stringify({
    ...completed,
    results: { "mobileBillingStatement:read": { ...bill, amountDue: 142.5 } },
  });
  await assertRejected(
    verifyWebhook(webhookRequest(floaty, await signed(server, floaty)), options(server)),
    "invalid_payload",
  );
});

/** A real HTTP server in front of the Passage server's key set that counts every fetch of it. */
function countingJwks(server: TestServer) {
  let fetches = 0;
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    fetches++;
    return fetch(`${server.url}${new URL(req.url).pathname}`);
  });
  return {
    url: `http://127.0.0.1:${http.addr.port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
    [Symbol.asyncDispose]: () => http.shutdown(),
  };
}

/** A JWT for BODY to `aud` under a kid the server never made, signed by a stranger. */
async function forgedKid(kid: string, stranger: CryptoKeyPair, aud: string): Promise<string> {
  return await forge(
    { alg: "ES256", kid, typ: "JWT" },
    await claimsFor(BODY, aud),
    ecdsa(stranger.privateKey),
  );
}

Deno.test("verifyWebhook() caches the key set: a second verification does not refetch, a rotation's new kid fetches once", async () => {
  await using server = await startServer();
  await using jwks = countingJwks(server);
  const opts = { jwksUrl: jwks.url, keyCooldownSeconds: 0 };

  await verifyWebhook(webhookRequest(BODY, await signed(server)), opts);
  await verifyWebhook(webhookRequest(BODY, await signed(server)), opts);
  assert.equal(jwks.fetches, 1);

  await rotateWebhookKey(server.kv, { accountId: server.accountId, overlapSeconds: 3600 });
  await verifyWebhook(webhookRequest(BODY, await signed(server)), opts);
  await verifyWebhook(webhookRequest(BODY, await signed(server)), opts);
  assert.equal(jwks.fetches, 2);
});

Deno.test("verifyWebhook() fetches the key set at most once per cool-down for a burst of forged kids", async () => {
  await using server = await startServer();
  await using jwks = countingJwks(server);
  const opts = { jwksUrl: jwks.url, keyCooldownSeconds: 0.5 };
  await currentWebhookKey(server.kv, server.accountId); // the server's key exists (it is made on first signing)
  const stranger = await strangerKey();
  const burst = async (n: number) => {
    const forged = await Promise.all(
      Array.from(
        { length: n },
        (_, i) => forgedKid(`whk_forged_${i}_${crypto.randomUUID()}`, stranger, server.accountId),
      ),
    );
    // half at once, half one after another
    await Promise.all(
      forged.slice(0, n / 2).map((jwt) =>
        assertRejected(verifyWebhook(webhookRequest(BODY, jwt), opts), "unknown_key")
      ),
    );
    for (const jwt of forged.slice(n / 2)) {
      await assertRejected(verifyWebhook(webhookRequest(BODY, jwt), opts), "unknown_key");
    }
  };

  await burst(40);
  assert.equal(jwks.fetches, 1, "the first burst fetched the set once, then cooled down");
  // A genuine event still verifies from the cache in the cool-down.
  await verifyWebhook(webhookRequest(BODY, await signed(server)), opts);
  assert.equal(jwks.fetches, 1);

  // Once the cool-down is over, an unknown kid may fetch again: once for the whole burst.
  const started = Date.now();
  while (Date.now() - started < 600) await new Promise((r) => setTimeout(r, 100));
  await burst(40);
  assert.equal(jwks.fetches, 2);
});

Deno.test("verifyWebhook() with the default cool-down: 200 forged kids after a verification fetch nothing more", async () => {
  await using server = await startServer();
  await using jwks = countingJwks(server);
  const opts = { jwksUrl: jwks.url };
  await verifyWebhook(webhookRequest(BODY, await signed(server)), opts);
  const stranger = await strangerKey();
  for (let i = 0; i < 200; i++) {
    await assertRejected(
      verifyWebhook(
        webhookRequest(BODY, await forgedKid(`whk_${i}`, stranger, server.accountId)),
        opts,
      ),
      "unknown_key",
    );
  }
  assert.equal(jwks.fetches, 1);
});

Deno.test("verifyWebhook() refuses a key Passage no longer serves, and says so when the key set cannot be fetched", async () => {
  await using server = await startServer();
  const jwt = await signed(server);
  await rotateWebhookKey(server.kv, { accountId: server.accountId, overlapSeconds: 0 });
  await assertRejected(
    verifyWebhook(webhookRequest(BODY, jwt), { jwksUrl: `${server.url}/.well-known/jwks.json` }),
    "unknown_key",
  );
  await assertRejected(
    verifyWebhook(webhookRequest(BODY, jwt), { jwksUrl: `${server.url}/no-such-key-set` }),
    "unknown_key",
  );
});

Deno.test("verifyWebhook() takes a raw body and Node-style headers, as Express's express.raw() gives them", async () => {
  await using server = await startServer();
  const jwt = await signed(server);
  const bytes = new TextEncoder().encode(BODY);
  const jwksUrl = `${server.url}/.well-known/jwks.json`;
  assert.deepEqual(
    await verifyWebhook({ body: bytes, headers: { "passage-verification": jwt } }, { jwksUrl }),
    PAYLOAD,
  );
  // header names in any case, array values, a string body, an ArrayBuffer
  assert.deepEqual(
    await verifyWebhook({ body: BODY, headers: { "Passage-Verification": [jwt] } }, { jwksUrl }),
    PAYLOAD,
  );
  assert.deepEqual(
    await verifyWebhook(
      { body: bytes.buffer, headers: new Headers({ "passage-verification": jwt }) },
      { jwksUrl },
    ),
    PAYLOAD,
  );
  await assertRejected(
    verifyWebhook({ body: bytes, headers: { "content-type": "application/json" } }, { jwksUrl }),
    "missing_signature",
  );
  // what express.json() would have left: parsed JSON, not bytes
  await assertRejected(
    verifyWebhook(
      { body: JSON.parse(BODY), headers: { "passage-verification": jwt } },
      { jwksUrl },
    ),
    "invalid_payload",
  );
  const tampered = new TextEncoder().encode(BODY.replace("tmobile", "verizon"));
  await assertRejected(
    verifyWebhook({ body: tampered, headers: { "passage-verification": jwt } }, { jwksUrl }),
    "body_mismatch",
  );
});

Deno.test("verifyWebhook() verifies the signed test event of POST /v1/webhooks/test", async () => {
  await using server = await startServer({ allowLoopbackWebhooks: true });
  await using receiver = startReceiver({
    verify: { jwksUrl: `${server.url}/.well-known/jwks.json`, audience: server.accountId },
  });
  const res = await server.api("/v1/webhooks/test", {
    method: "POST",
    json: { url: receiver.url },
  });
  assert.equal(res.status, 200, res.text);
  const [got] = await receiver.waitFor(1);
  assert.equal(got.verifyError, undefined, String(got.verifyError));
  assert.deepEqual(got.payload, {
    id: res.body.eventId,
    type: "webhook.test",
    livemode: false,
    createdAt: got.payload!.createdAt,
  });
});

Deno.test("verifyWebhook() refuses a request whose body was already read", async () => {
  await using server = await startServer();
  const req = webhookRequest(BODY, await signed(server));
  await req.text();
  await assertRejected(verifyWebhook(req, options(server)), "invalid_payload");
});

Deno.test("verifyWebhook() with baseUrl and audience alone fetches the account's key set", async () => {
  await using server = await startServer();
  await using passage = countingJwks(server);
  const baseUrl = new URL(passage.url).origin;
  const payload = await verifyWebhook(webhookRequest(BODY, await signed(server)), {
    baseUrl,
    audience: server.accountId,
  });
  assert.deepEqual(payload, PAYLOAD);
  // with a trailing slash, the same server and the same cached set
  await verifyWebhook(webhookRequest(BODY, await signed(server)), {
    baseUrl: `${baseUrl}/`,
    audience: server.accountId,
  });
  assert.equal(passage.fetches, 1);
  await assert.rejects(verifyWebhook(webhookRequest(BODY, "x"), {}), TypeError);
});

Deno.test("verifyWebhook() without audience fetches the key set of the JWT's aud, and forged auds fetch at most once per cool-down", async () => {
  await using server = await startServer();
  await using jwks = countingJwks(server);
  const opts = { jwksUrl: jwks.url, keyCooldownSeconds: 60 };
  await verifyWebhook(webhookRequest(BODY, await signed(server)), opts);
  assert.equal(jwks.fetches, 1);
  const stranger = await strangerKey();
  for (let i = 0; i < 40; i++) {
    const jwt = await forgedKid(`whk_${i}`, stranger, `acct_forged_${crypto.randomUUID()}`);
    await assertRejected(verifyWebhook(webhookRequest(BODY, jwt), opts), "unknown_key");
  }
  assert.equal(jwks.fetches, 1, "no forged aud fetched a key set within the cool-down");
  await verifyWebhook(webhookRequest(BODY, await signed(server)), opts);
  assert.equal(jwks.fetches, 1);
});
