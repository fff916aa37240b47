/**
 * The quickstarts in `examples/`, run as a new user would: each as its own
 * process against a real server on loopback, receiving real webhooks.
 */
import assert from "node:assert/strict";
import { createLinkViaApi, LINK_BODY, request, startServer } from "./_harness.ts";
import { COMPLETE, finishLink } from "./_webhooks.ts";
import { createApiKey } from "../lib/api_keys.ts";
import { spawnWatched } from "./_spawn.ts";
import { currentWebhookKey, rotateWebhookKey } from "../lib/webhook_keys.ts";

Deno.test("examples/deno creates a link with the SDK and verifies its webhook", async () => {
  await using server = await startServer({ allowLoopbackWebhooks: true });
  await using backend = spawnWatched(Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-env",
    "examples/deno/main.ts",
  ], {
    PORT: "0",
    PASSAGE_URL: server.url,
    PASSAGE_API_KEY: server.apiKey,
    PASSAGE_ACCOUNT_ID: server.accountId,
  });
  await backend.waitFor(/Example backend on (http:\/\/\S+):/);
  const base = /Example backend on (http:\/\/\S+):/.exec(backend.out.stdout)![1];

  const made = await request(`${base}/connect`, { method: "POST" });
  assert.equal(made.status, 200, made.text);
  assert.match(made.body.linkId, /^link_/);
  assert.match(made.body.url, /\/c\/[0-9A-Z]{5}-[0-9A-Z]{5}$/);
  const link = (await server.api(`/v1/links/${made.body.linkId}`)).body;
  assert.equal(link.webhookUrl, `${base}/hook`);

  // A forged webhook is refused before the real one arrives.
  const forged = await request(`${base}/hook`, {
    method: "POST",
    json: { id: "evt_forged", type: "link.completed" },
  });
  assert.equal(forged.status, 400);
  assert.equal(forged.text, "missing_signature");

  const eventId = await finishLink(server, made.body.linkId, COMPLETE);
  await backend.waitFor(
    new RegExp(`verified link\\.completed ${eventId} for ${made.body.linkId} \\(complete\\)`),
  );
  assert.match(backend.out.stdout, /refused a webhook: missing_signature/);
});

/** A Python 3 with PyJWT and cryptography (Debian: python3-jwt, python3-cryptography). */
async function pythonWithPyJwt(): Promise<string> {
  for (const candidate of ["python3", "/usr/bin/python3"]) {
    const ok = await new Deno.Command(candidate, {
      args: ["-c", "import jwt, cryptography"],
      stdout: "null",
      stderr: "null",
    }).output().then((out) => out.success, () => false);
    if (ok) return candidate;
  }
  throw new Error(
    "No python3 with PyJWT: apt-get install -y python3-jwt python3-cryptography",
  );
}

Deno.test("examples/python verifies a webhook with PyJWT and refuses another account's", async () => {
  const python = await pythonWithPyJwt();
  await using server = await startServer({ allowLoopbackWebhooks: true });
  await using receiver = spawnWatched(python, ["examples/python/receiver.py"], {
    PORT: "0",
    PASSAGE_URL: server.url,
    PASSAGE_ACCOUNT_ID: server.accountId,
  });
  await receiver.waitFor(/Receiving Passage webhooks on (http:\/\/\S+)/);
  const hook = /Receiving Passage webhooks on (http:\/\/\S+)/.exec(receiver.out.stdout)![1];

  const test = await server.api("/v1/webhooks/test", { method: "POST", json: { url: hook } });
  assert.equal(test.status, 200, test.text);
  assert.equal(test.body.statusCode, 204, JSON.stringify(test.body) + receiver.out.stdout);
  await receiver.waitFor(new RegExp(`verified webhook\\.test ${test.body.eventId}`));

  // A link's event, signed the same way.
  const link = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl: hook });
  const eventId = await finishLink(server, link.id, COMPLETE);
  await receiver.waitFor(new RegExp(`verified link\\.completed ${eventId}`));

  // Signed for another account: a valid signature, the wrong audience.
  const other = await createApiKey(server.kv, { name: "other", mode: "test" });
  const foreign = await server.api("/v1/webhooks/test", {
    method: "POST",
    json: { url: hook },
    apiKey: other.secret,
  });
  assert.equal(foreign.body.statusCode, 400);
  await receiver.waitFor(/refused a webhook: wrong_audience/);
  const unsigned = await request(hook, { method: "POST", json: { id: "evt_x" } });
  assert.equal(unsigned.status, 400);
  assert.equal(unsigned.text, "missing_signature");

  // The other account rotates its key: nothing changes here. This account rotates: PyJWT's
  // client fetches the account's set again for the new kid, and verifies.
  await rotateWebhookKey(server.kv, { accountId: other.key.accountId, overlapSeconds: 60 });
  const again = await server.api("/v1/webhooks/test", { method: "POST", json: { url: hook } });
  assert.equal(again.body.statusCode, 204, JSON.stringify(again.body) + receiver.out.stdout);
  const { current } = await rotateWebhookKey(server.kv, {
    accountId: server.accountId,
    overlapSeconds: 60,
  });
  const rotated = await server.api("/v1/webhooks/test", { method: "POST", json: { url: hook } });
  assert.equal(rotated.body.statusCode, 204, JSON.stringify(rotated.body) + receiver.out.stdout);
  await receiver.waitFor(new RegExp(`verified webhook\\.test ${rotated.body.eventId}`));
  assert.equal((await currentWebhookKey(server.kv, server.accountId)).kid, current.kid);
});
