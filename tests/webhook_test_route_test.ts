/**
 * `POST /v1/webhooks/test`: one signed `webhook.test` event to a URL, through
 * the delivery guard, signed for the account and mode; bad input is a 400.
 */
import assert from "node:assert/strict";
import { assertError, startServer } from "./_harness.ts";
import { jwtParts, startReceiver, text } from "./_webhooks.ts";

Deno.test("POST /v1/webhooks/test sends one signed test event for the account and answers what the receiver said", async () => {
  await using server = await startServer({ allowLoopbackWebhooks: true });
  await using receiver = startReceiver({ replies: [204] });
  const res = await server.api("/v1/webhooks/test", {
    method: "POST",
    json: { url: receiver.url },
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.statusCode, 204);
  assert.equal(res.body.error, null);
  const [got] = await receiver.waitFor(1);
  const body = JSON.parse(text(got));
  assert.equal(body.type, "webhook.test");
  assert.equal(body.id, res.body.eventId);
  const { claims } = jwtParts(got);
  assert.equal(claims.aud, server.accountId);
  assert.equal(claims.livemode, false);
});

Deno.test("POST /v1/webhooks/test refuses a bad URL with 400 and a blocked address with its reason", async () => {
  await using server = await startServer();
  assertError(
    await server.api("/v1/webhooks/test", { method: "POST", json: { url: "ftp://x" } }),
    400,
    "invalid_request",
    "url",
  );
  const blocked = await server.api("/v1/webhooks/test", {
    method: "POST",
    json: { url: "http://127.0.0.1:9/hook" },
  });
  assert.equal(blocked.status, 200);
  assert.equal(blocked.body.error, "blocked_address");
});
