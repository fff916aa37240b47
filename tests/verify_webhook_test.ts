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
import { base64url, signWebhookBody } from "../lib/webhook_signing.ts";
import { startServer, type TestServer } from "./_harness.ts";
import { COMPLETE } from "./_webhooks.ts";

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

async function claimsFor(body: string, at = Date.now()) {
  return { iat: Math.floor(at / 1000), request_body_sha256: await sha256Hex(body) };
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
  const { kid } = await currentWebhookKey(server.kv);
  const stranger = await strangerKey();
  const jwt = await forge(
    { alg: "ES256", kid, typ: "JWT" },
    await claimsFor(BODY),
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
  const key = await currentWebhookKey(server.kv);
  const claims = await claimsFor(BODY);
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

  const wrongTyp = await forge(
    { alg: "ES256", kid: key.kid, typ: "at+jwt" },
    claims,
    () => Promise.resolve(null),
  );
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

Deno.test("verifyWebhook() caches keys by kid: a second verification does not refetch, an unknown kid refetches once", async () => {
  await using server = await startServer();
  const fetched: string[] = [];
  const counting: typeof fetch = async (input, init) => {
    fetched.push(JSON.parse(String(init?.body)).key_id);
    return await fetch(input, init);
  };
  const opts = options(server, { fetch: counting });
  const first = await currentWebhookKey(server.kv);

  await verifyWebhook(webhookRequest(BODY, await signed(server)), opts);
  await verifyWebhook(webhookRequest(BODY, await signed(server)), opts);
  assert.deepEqual(fetched, [first.kid]);

  const { current } = await rotateWebhookKey(server.kv, { overlapSeconds: 3600 });
  await verifyWebhook(webhookRequest(BODY, await signed(server)), opts);
  await verifyWebhook(webhookRequest(BODY, await signed(server)), opts);
  assert.deepEqual(fetched, [first.kid, current.kid]);

  // A miss is never cached: an unknown kid is asked about each time.
  const stranger = await strangerKey();
  const unknown = await forge(
    { alg: "ES256", kid: "whk_missing", typ: "JWT" },
    await claimsFor(BODY),
    ecdsa(stranger.privateKey),
  );
  await assertRejected(verifyWebhook(webhookRequest(BODY, unknown), opts), "unknown_key");
  await assertRejected(verifyWebhook(webhookRequest(BODY, unknown), opts), "unknown_key");
  assert.deepEqual(fetched, [first.kid, current.kid, "whk_missing", "whk_missing"]);
});

Deno.test("verifyWebhook() refetches a cached key after an hour and drops it once Passage no longer serves it", async () => {
  await using server = await startServer();
  let fetches = 0;
  const counting: typeof fetch = (input, init) => (fetches++, fetch(input, init));
  const signedAt = Date.now();
  const jwt = await signed(server, BODY, new Date(signedAt));
  await verifyWebhook(webhookRequest(BODY, jwt), options(server, { fetch: counting }));
  assert.equal(fetches, 1);

  // The key is rotated out with no overlap: it stops being served at once…
  await rotateWebhookKey(server.kv, { overlapSeconds: 0 });
  // …a receiver holding it in cache keeps it for at most an hour…
  await verifyWebhook(webhookRequest(BODY, jwt), options(server, { fetch: counting }));
  assert.equal(fetches, 1);
  // …then asks again and learns it is gone.
  await assertRejected(
    verifyWebhook(
      webhookRequest(BODY, jwt),
      options(server, { fetch: counting, now: () => signedAt + 61 * 60_000 }),
    ),
    "unknown_key",
  );
  assert.equal(fetches, 2);
});

Deno.test("verifyWebhook() refuses a request whose body was already read", async () => {
  await using server = await startServer();
  const req = webhookRequest(BODY, await signed(server));
  await req.text();
  await assertRejected(verifyWebhook(req, options(server)), "invalid_payload");
});
