/**
 * `deno task webhooks listen`: a real server, the real CLI as a subprocess and
 * a real receiver on loopback. Events reach the receiver with the bytes and
 * signature Passage made, and verify; the stream is the key's account and
 * mode only, and refuses a bad key with a clear line.
 */
import assert from "node:assert/strict";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { createLinkViaApi, LINK_BODY, startServer, type TestServer } from "./_harness.ts";
import { COMPLETE, finishLink, type Received, startReceiver, text } from "./_webhooks.ts";
import { createApiKey } from "../lib/api_keys.ts";
import { newId, sha256Hex } from "../lib/ids.ts";
import { feedListeners, listenDeliveries, listenPollers } from "../lib/webhook_listen.ts";
import { ROOT, spawnWatched } from "./_spawn.ts";

/** The listen CLI as a child process, with the task's permissions. */
function startListen(args: string[], env: Record<string, string> = {}) {
  return spawnWatched(Deno.execPath(), [
    "run",
    "--allow-env",
    "--allow-net",
    "lib/webhooks_cli.ts",
    ...args,
  ], env);
}

/** Verifies a received delivery as any receiver would: the account's JWKS, ES256, audience, body hash. */
async function verifyReceived(server: TestServer, got: Received) {
  const jwks = createRemoteJWKSet(
    new URL(`${server.url}/v1/accounts/${server.accountId}/jwks.json`),
  );
  const { payload } = await jwtVerify(got.headers.get("passage-verification")!, jwks, {
    algorithms: ["ES256"],
    audience: server.accountId,
    maxTokenAge: "5m",
  });
  assert.equal(payload.request_body_sha256, await sha256Hex(got.body));
  return payload;
}

Deno.test("webhooks listen forwards a test event and a link's event to a local receiver, verifiable as sent", async () => {
  await using server = await startServer();
  // Where the test event is addressed: nobody there (and a refused address anyway).
  await using receiver = startReceiver();
  // verifyWebhook for link events: a receiver written with the SDK.
  await using sdkReceiver = startReceiver({
    verify: {
      publicKeyUrl: `${server.url}/webhook_verification_key/get`,
      audience: server.accountId,
      livemode: false,
    },
  });
  await using listen = startListen([
    "listen",
    "--url",
    server.url,
    "--forward-to",
    sdkReceiver.url,
  ], { PASSAGE_API_KEY: server.apiKey });
  await listen.waitFor(/Ready: forwarding test webhook events/, "stderr");

  // A test event, sent to a URL that is not the receiver: it reaches the listener all the same.
  const test = await server.api("/v1/webhooks/test", {
    method: "POST",
    json: { url: receiver.url.replace(/:\d+\//, ":9/") },
  });
  assert.equal(test.status, 200, test.text);
  // A link with a webhookUrl (another receiver) finishes: its event is forwarded too.
  const link = await createLinkViaApi(server, {
    ...LINK_BODY,
    webhookUrl: "https://example.com/hook",
  });
  const eventId = await finishLink(server, link.id, COMPLETE);

  const [first, second] = await sdkReceiver.waitFor(2);
  // The test event: the SDK's verifyWebhook checks the signature, then the payload type.
  assert.equal(JSON.parse(text(first)).id, test.body.eventId);
  assert.equal(first.headers.get("webhook-id"), test.body.eventId);
  const claims = await verifyReceived(server, first);
  assert.equal(claims.livemode, false);
  // The link's event: verified end to end by verifyWebhook, byte for byte the stored body.
  assert.equal(second.verifyError, undefined, String(second.verifyError));
  assert.equal(second.payload?.id, eventId);
  assert.equal(second.payload?.type, "link.completed");
  assert.equal(second.payload?.linkId, link.id);
  await verifyReceived(server, second);

  await listen.waitFor(new RegExp(`${eventId}  link\\.completed  ${link.id}  → 200`));
  assert.match(listen.out.stdout, new RegExp(`${test.body.eventId}  webhook\\.test  → `));
  assert.equal(receiver.requests.length, 0);
});

Deno.test("webhooks listen streams only its key's account and mode, and --json prints one object per event", async () => {
  await using server = await startServer();
  const other = await createApiKey(server.kv, { name: "other", mode: "test" });
  const live = await createApiKey(server.kv, {
    name: "live",
    mode: "live",
    accountId: server.accountId,
  });
  await using receiver = startReceiver();
  await using listen = startListen([
    "listen",
    "--json",
    "--url",
    server.url,
    "--api-key",
    server.apiKey,
    "--forward-to",
    receiver.url,
  ]);
  await listen.waitFor(/Ready:/, "stderr");
  const send = (apiKey: string) =>
    server.api("/v1/webhooks/test", {
      method: "POST",
      json: { url: "https://example.com/hook" },
      apiKey,
    });
  // Another account's and the same account's live events come first; the listener's own last.
  const otherEvent = await send(other.secret);
  const liveEvent = await send(live.secret);
  const own = await send(server.apiKey);
  await listen.waitFor(new RegExp(own.body.eventId));
  const lines = listen.out.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((l) => [l.event_id, l.type, l.status]), [
    [own.body.eventId, "webhook.test", 200],
  ]);
  assert.deepEqual(receiver.requests.map((r) => JSON.parse(text(r)).id), [own.body.eventId]);
  assert.ok(!listen.out.stdout.includes(otherEvent.body.eventId));
  assert.ok(!listen.out.stdout.includes(liveEvent.body.eventId));
});

Deno.test("webhooks listen: a bad key, a missing --forward-to and --help each answer one clear line", async () => {
  await using server = await startServer();
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-env", "--allow-net", "lib/webhooks_cli.ts", ...args],
      cwd: ROOT,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  };
  const [badKey, noForward, help] = await Promise.all([
    run(["listen", "--url", server.url, "--forward-to", "http://127.0.0.1:9/"], {
      PASSAGE_API_KEY: "sk_test_nope",
    }),
    run(["listen", "--url", server.url, "--api-key", server.apiKey]),
    run(["--help"]),
  ]);
  assert.equal(badKey.code, 1, badKey.stderr);
  assert.match(badKey.stderr, /^Error: .*\(invalid_api_key, request [\w-]+\)\n$/);
  assert.equal(noForward.code, 2);
  assert.match(noForward.stderr, /^--forward-to is required\n\nUsage:/);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /deno task webhooks listen --forward-to URL/);
});

Deno.test("listenDeliveries() resumes after Last-Event-ID once, then joins the shared poller's live deliveries", async () => {
  using kv = await Deno.openKv(":memory:");
  const owner = { accountId: "acct_01TESTLISTENRESUME0000000", mode: "test" as const };
  const feed = async () => {
    const id = newId("evt");
    await feedListeners(kv, owner, id, new TextEncoder().encode(JSON.stringify({ id })));
    return id;
  };
  const [first, second, third] = [await feed(), await feed(), await feed()];
  const stop = new AbortController();
  // A long poll interval: only the resume scan and the test events' own wake-ups deliver.
  const stream = listenDeliveries(kv, owner, { after: first, pollMs: 60_000, signal: stop.signal });
  assert.equal(listenPollers(kv), 1);
  const next = async () => (await stream.next()).value?.id;
  assert.deepEqual([await next(), await next()], [second, third]);
  // The poller's own first scan found second and third too: they are not sent twice.
  const fourth = await feed();
  assert.equal(await next(), fourth);
  stop.abort();
  assert.equal((await stream.next()).done, true);
  const deadline = Date.now() + 5_000;
  while (listenPollers(kv) > 0) {
    assert.ok(Date.now() < deadline, "the poller outlived its last stream");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
});
