/**
 * The server's logs and request ids, read from a real server process: one
 * JSON line per request with its route pattern and the answer's `Request-Id`
 * (always ours; a client's own goes to `client_request_id`),
 * lines for link and webhook events, and never a body, a header value, a
 * query, a claim code, a token or a secret.
 */
import assert from "node:assert/strict";
import { createKeyWithCli, startProcess } from "./_server_process.ts";
import { LINK_BODY, request } from "./_harness.ts";

const CANARY = {
  body: "canary-body-7f3a9c",
  header: "canary-header-51be20",
  query: "canary-query-c0ffee",
  path: "canary-path-9d1e44",
  webhook: "canary-hook-aa8812",
};

/** The JSON log lines the process printed so far. */
function logLines(output: string): Array<Record<string, unknown>> {
  return output.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
}

Deno.test("the server logs each request once with its own Request-Id, the client's id beside it, route and ids, and never what was sent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "passage_log_test_" });
  try {
    const kvPath = `${dir}/passage.kv3`;
    const secret = await createKeyWithCli(kvPath);
    await using server = await startProcess(kvPath);
    const headers = { "x-canary": CANARY.header, cookie: `c=${CANARY.header}` };
    const api = (path: string, init: Parameters<typeof request>[1] = {}) =>
      request(server.url + path, {
        apiKey: secret,
        ...init,
        headers: { ...headers, ...init.headers },
      });

    const created = await api("/v1/links", {
      method: "POST",
      json: { ...LINK_BODY, metadata: { note: CANARY.body } },
      headers: { "request-id": "client-chosen_id-1" },
    });
    assert.equal(created.status, 201, created.text);
    // Ours, always: a client's id is logged beside it, never answered as the request's.
    assert.notEqual(created.headers.get("request-id"), "client-chosen_id-1");
    assert.match(created.headers.get("request-id") ?? "", /^[0-9a-f-]{36}$/);
    const link = created.body;
    const claimCode = /\/c\/([0-9A-Z-]+)$/.exec(link.appClipUrl)![1];

    const answers = [
      created,
      await api(`/v1/links/${link.id}`),
      await api(`/v1/links?cursor=${CANARY.query}`),
      await api(`/c/${claimCode}`, { apiKey: null }),
      await api("/v1/device/claim", { method: "POST", json: { claimCode }, apiKey: null }),
      await api(`/${CANARY.path}?token=${CANARY.query}`, { headers: { "request-id": "bad id!" } }),
      await api("/v1/device/socket", { apiKey: null }),
      await api("/v1/webhooks/test", {
        method: "POST",
        json: { url: `http://127.0.0.1:9/${CANARY.webhook}?s=${CANARY.webhook}` },
      }),
      await api(`/v1/links/${link.id}/cancel`, { method: "POST" }),
    ];
    const ids = answers.map((res) => res.headers.get("request-id"));
    for (const [i, id] of ids.entries()) assert.match(id ?? "", /^[\w=-]+$/, `answer ${i}`);
    assert.equal(new Set(ids).size, ids.length, "request ids repeat");
    assert.notEqual(ids[5], "bad id!");

    // Errors carry the same id in their body, for a support ticket.
    const [, , badCursor, , , notFound, refusedSocket] = answers;
    assert.equal(badCursor.status, 400);
    assert.equal(notFound.status, 404);
    assert.equal(refusedSocket.status, 426);
    for (const res of [badCursor, notFound, refusedSocket]) {
      assert.equal(res.body.error.request_id, res.headers.get("request-id"));
    }

    // Wait for the last request's line (lines are written as each answer is made).
    const deadline = Date.now() + 10_000;
    while (!server.output().includes(ids.at(-1)!)) {
      assert.ok(Date.now() < deadline, `no log line for ${ids.at(-1)}:\n${server.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const lines = logLines(server.output());
    const requests = lines.filter((l) => l.event === "request");
    const byId = new Map(requests.map((l) => [l.request_id, l]));
    for (const [i, res] of answers.entries()) {
      const line = byId.get(ids[i]);
      assert.ok(line, `no request line for answer ${i}`);
      assert.equal(line.status, res.status);
      assert.equal(typeof line.latency_ms, "number");
      assert.equal(requests.filter((l) => l.request_id === ids[i]).length, 1);
    }
    assert.deepEqual(
      answers.map((_, i) => byId.get(ids[i])!.route),
      [
        "/v1/links",
        "/v1/links/:id",
        "/v1/links",
        "/c/:code",
        "/v1/device/claim",
        null,
        "/v1/device/socket",
        "/v1/webhooks/test",
        "/v1/links/:id/cancel",
      ],
    );
    assert.equal(byId.get(ids[0])!.client_request_id, "client-chosen_id-1");
    assert.equal(byId.get(ids[5])!.client_request_id, undefined, "an id not worth logging");
    assert.equal(byId.get(ids[1])!.client_request_id, undefined);
    assert.equal(byId.get(ids[1])!.link_id, link.id);
    assert.equal(byId.get(ids[1])!.method, "GET");
    assert.match(String(byId.get(ids[1])!.account_id), /^acct_/);

    const events = lines.map((l) => l.event);
    assert.ok(events.includes("server.start"), "no server.start line");
    assert.ok(lines.some((l) => l.event === "link.created" && l.link_id === link.id));
    assert.ok(
      lines.some((l) => l.event === "link.status" && l.link_id === link.id && l.to === "cancelled"),
      "no link.status line for the cancel",
    );
    assert.ok(lines.some((l) => l.event === "webhook.test" && l.outcome === "blocked_address"));

    const output = server.output();
    const deviceToken = answers[4].body?.deviceToken;
    assert.equal(typeof deviceToken, "string", answers[4].text);
    assert.ok(!output.includes(deviceToken), "the device token reached the log");
    for (const [what, value] of Object.entries(CANARY)) {
      assert.ok(!output.includes(value), `the ${what} canary reached the log`);
    }
    assert.ok(!output.includes(secret), "the API key reached the log");
    assert.ok(!output.includes(secret.slice(8)), "the API key's body reached the log");
    assert.ok(!output.includes(claimCode), "the claim code reached the log");
    assert.ok(!output.includes(claimCode.replace("-", "")), "the claim code reached the log");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
