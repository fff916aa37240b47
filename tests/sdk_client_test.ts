/**
 * The SDK's client against a real server on loopback: links typed by their
 * operations, retries that are safe (an Idempotency-Key made for creates),
 * Retry-After, timeouts, lists iterated across pages, the webhook methods and
 * the WebSocket class passed in. Faults come from a real HTTP proxy on
 * loopback in front of the server (a flaky network is the world's edge).
 */
import assert from "node:assert/strict";
import { Passage, PassageApiError, PassageConnectionError, type TypedLink } from "@passage/connect";
import { LINK_BODY, startServer, type TestServer } from "./_harness.ts";
import { prepareResults } from "../lib/links.ts";
import { COMPLETE, finishLink, startReceiver, waitForEvent } from "./_webhooks.ts";

type Fault = Response | "forward" | "hang" | "drop";

/**
 * A real HTTP proxy in front of `server`: `fault(req, n)` says, for the n-th
 * request (from 1), whether to forward it, answer something else, forward it
 * and then answer 503 (the answer lost), or hang.
 */
function startProxy(
  server: TestServer,
  fault: (req: Request, n: number) => Fault | "forward-then-503" = () => "forward",
) {
  const seen: Request[] = [];
  const hung: Array<() => void> = [];
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(req.clone());
    const what = fault(req, seen.length);
    if (what instanceof Response) return what;
    if (what === "hang") {
      await new Promise<void>((resolve) => hung.push(resolve));
      return new Response(null, { status: 504 });
    }
    const url = new URL(req.url);
    const res = await fetch(`${server.url}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    });
    if (what === "forward-then-503") {
      await res.body?.cancel();
      return new Response("upstream lost", { status: 503 });
    }
    return res;
  });
  return {
    url: `http://127.0.0.1:${http.addr.port}`,
    seen,
    async [Symbol.asyncDispose]() {
      for (const release of hung) release();
      await http.shutdown();
    },
  };
}

const client = (baseUrl: string, server: TestServer, extra = {}) =>
  new Passage({ apiKey: server.apiKey, baseUrl, ...extra });

Deno.test("links.create() types the link by its operations; get(link) keeps the type and reads the results", async () => {
  await using server = await startServer();
  const passage = client(server.url, server);
  const link = await passage.links.create({
    provider: "tmobile",
    operations: [{ type: "mobileBillingStatement:read" }],
  });
  // Compile-time: exactly the requested key, with its result type.
  const typed: TypedLink<"mobileBillingStatement:read"> = link;
  // @ts-expect-error: the link did not ask for payment methods
  typed.results?.["paymentMethod:read"];
  assert.equal(link.results, null);
  assert.deepEqual(link.operations.map((o) => o.type), ["mobileBillingStatement:read"]);

  const keep = await prepareResults(server.services, link.id, COMPLETE.results!, 60_000);
  const op = server.kv.atomic();
  keep(op);
  assert.ok((await op.commit()).ok);
  await finishLink(server, link.id, COMPLETE);
  const done = await passage.links.get(link);
  assert.equal(done.status, "complete");
  assert.equal(done.results?.["mobileBillingStatement:read"].amountDue, "142.50");
  const named = await passage.links.get<"mobileBillingStatement:read">(link.id);
  assert.equal(named.results?.["mobileBillingStatement:read"].currency, "USD");
});

Deno.test("links.create() retries a lost answer with the same Idempotency-Key and creates one link", async () => {
  await using server = await startServer();
  await using proxy = startProxy(
    server,
    (req, n) => req.method === "POST" && n === 1 ? "forward-then-503" : "forward",
  );
  const passage = client(proxy.url, server);
  const link = await passage.links.create(LINK_BODY);
  const posts = proxy.seen.filter((r) => r.method === "POST");
  assert.equal(posts.length, 2);
  const keys = posts.map((r) => r.headers.get("idempotency-key"));
  assert.ok(keys[0] && keys[0] === keys[1], `keys ${keys}`);
  const all = await passage.links.list();
  assert.deepEqual(all.data.map((l) => l.id), [link.id]);
});

Deno.test("a POST the server deduplicates is retried after a 5xx with the key made for it, and acts once", async () => {
  await using server = await startServer();
  const link = await client(server.url, server).links.create(LINK_BODY);
  // The first cancel reaches the server (the link is cancelled) but its answer is lost.
  await using proxy = startProxy(server, (_req, n) => n === 1 ? "forward-then-503" : "forward");
  const cancelled = await client(proxy.url, server).links.cancel(link.id);
  assert.equal(cancelled.status, "cancelled");
  assert.equal(proxy.seen.length, 2);
  const [first, second] = proxy.seen.map((r) => r.headers.get("idempotency-key"));
  assert.ok(first, "the SDK made a key");
  assert.equal(second, first);
});

Deno.test("a POST the server does not deduplicate is not retried on a 5xx, and the error has the status", async () => {
  await using server = await startServer();
  await using proxy = startProxy(server, () => "forward-then-503");
  const passage = client(proxy.url, server);
  await assert.rejects(
    passage.request("POST", "/webhook_verification_key/get", { key_id: "none" }),
    (err: unknown) => {
      assert.ok(err instanceof PassageApiError);
      assert.equal(err.status, 503);
      assert.equal(err.code, "unexpected_response");
      return true;
    },
  );
  assert.equal(proxy.seen.length, 1);
  assert.equal(proxy.seen[0].headers.get("idempotency-key"), null);
});

Deno.test("a 429 is retried after its Retry-After; one longer than the cap is not waited for", async () => {
  await using server = await startServer();
  const tooMany = (retryAfter: string) =>
    Response.json(
      { error: { type: "rate_limit_error", code: "too_many_attempts", message: "Slow down" } },
      { status: 429, headers: { "retry-after": retryAfter } },
    );
  {
    await using proxy = startProxy(server, (_req, n) => n === 1 ? tooMany("1") : "forward");
    const started = Date.now();
    const page = await client(proxy.url, server).links.list();
    assert.equal(page.object, "list");
    assert.equal(proxy.seen.length, 2);
    assert.ok(Date.now() - started >= 1000, "the retry waited for Retry-After");
  }
  {
    await using proxy = startProxy(server, () => tooMany("3600"));
    await assert.rejects(client(proxy.url, server).links.list(), (err: unknown) => {
      assert.ok(err instanceof PassageApiError);
      assert.equal(err.code, "too_many_attempts");
      assert.equal(err.type, "rate_limit_error");
      return true;
    });
    assert.equal(proxy.seen.length, 1);
  }
});

Deno.test("an attempt that hangs times out: a GET is retried, a POST with maxRetries 0 fails with timeout", async () => {
  await using server = await startServer();
  const link = await client(server.url, server).links.create(LINK_BODY);
  await using proxy = startProxy(server, (_req, n) => n === 1 ? "hang" : "forward");
  const passage = client(proxy.url, server, { timeout: 300 });
  assert.equal((await passage.links.get(link.id)).id, link.id);
  assert.equal(proxy.seen.length, 2);

  await using hanging = startProxy(server, () => "hang");
  await assert.rejects(
    client(hanging.url, server, { timeout: 300, maxRetries: 0 }).links.cancel(link.id),
    (err: unknown) => {
      assert.ok(err instanceof PassageConnectionError);
      assert.equal(err.code, "timeout");
      assert.equal(err.attempts, 1);
      return true;
    },
  );
  assert.equal(hanging.seen.length, 1);
});

Deno.test("a server that is not there is a network_error after the retries", async () => {
  await using server = await startServer();
  const gone = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response());
  const port = gone.addr.port;
  await gone.shutdown();
  const passage = client(`http://127.0.0.1:${port}`, server, { maxRetries: 1 });
  await assert.rejects(passage.links.list(), (err: unknown) => {
    assert.ok(err instanceof PassageConnectionError);
    assert.equal(err.code, "network_error");
    assert.equal(err.attempts, 2);
    return true;
  });
});

Deno.test("an aborted signal stops a request and its retries at once", async () => {
  await using server = await startServer();
  await using proxy = startProxy(server, () => "hang");
  const abort = new AbortController();
  const pending = client(proxy.url, server).links.list({}, { signal: abort.signal });
  while (proxy.seen.length === 0) await new Promise((r) => setTimeout(r, 10));
  abort.abort(new Error("stop"));
  await assert.rejects(pending, /stop/);
  assert.equal(proxy.seen.length, 1);
});

Deno.test("links.list() awaits one page and iterates every link across pages, newest first", async () => {
  await using server = await startServer();
  const passage = client(server.url, server);
  const made: string[] = [];
  for (let i = 0; i < 5; i++) made.unshift((await passage.links.create(LINK_BODY)).id);
  const pages: string[] = [];
  const counting = new Passage({
    apiKey: server.apiKey,
    baseUrl: server.url,
    fetch: (input, init) => (pages.push(String(input)), fetch(input, init)),
  });
  const first = await counting.links.list({ limit: 2 });
  assert.equal(first.data.length, 2);
  assert.equal(first.hasMore, true);
  pages.length = 0;
  const seen: string[] = [];
  for await (const link of counting.links.list({ limit: 2 })) seen.push(link.id);
  assert.deepEqual(seen, made);
  assert.equal(pages.length, 3);
  // breaking out early fetches no further page
  pages.length = 0;
  for await (const _ of counting.links.list({ limit: 2 })) break;
  assert.equal(pages.length, 1);
});

Deno.test("webhooks.listEvents(), redeliver() and sendTest() against a real receiver", async () => {
  await using server = await startServer({ allowLoopbackWebhooks: true });
  await using receiver = startReceiver({ replies: [500, 204, 204] });
  const passage = client(server.url, server);
  const link = await passage.links.create({ ...LINK_BODY, webhookUrl: receiver.url });
  const eventId = await finishLink(server, link.id, COMPLETE);
  await waitForEvent(server.kv, eventId!, (e) => e.attempts === 1 && e.lease === null);

  const again = await passage.webhooks.redeliver(link.id);
  assert.equal(again.statusCode, 204);
  assert.equal(again.trigger, "manual");
  const events = [];
  for await (const event of passage.webhooks.listEvents(link.id)) events.push(event);
  assert.equal(events.length, 1);
  assert.equal(events[0].id, again.eventId);
  assert.equal(events[0].type, "link.completed");
  assert.equal(events[0].status, "delivered");
  assert.deepEqual(events[0].attempts.map((a) => a.statusCode), [500, 204]);

  const test = await passage.webhooks.sendTest({ url: receiver.url });
  assert.equal(test.statusCode, 204);
  assert.equal(test.error, null);
  const got = await receiver.waitFor(3);
  assert.equal(JSON.parse(new TextDecoder().decode(got[2].body)).id, test.eventId);

  await assert.rejects(passage.webhooks.redeliver("link_missing"), (err: unknown) => {
    assert.ok(err instanceof PassageApiError);
    assert.equal(err.code, "link_not_found");
    return true;
  });
});

Deno.test("session.connect() opens the socket with the WebSocket class passed in, and says so when there is none", async () => {
  await using server = await startServer();
  const opened: string[] = [];
  class CountingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      opened.push(url);
    }
  }
  const passage = client(server.url, server, { WebSocket: CountingWebSocket });
  const session = await passage.sessions.create();
  const browser = await session.connect();
  assert.deepEqual(opened, [
    `${server.url.replace("http", "ws")}/v1/sessions/${session.id}/socket`,
  ]);
  await browser.close();
  await passage.sessions.end(session.id);

  const global = globalThis.WebSocket;
  // deno-lint-ignore no-explicit-any
  delete (globalThis as any).WebSocket;
  try {
    const bare = client(server.url, server);
    const other = await bare.sessions.create();
    await assert.rejects(other.connect(), /No WebSocket implementation.*Pass one/);
    await bare.sessions.end(other.id);
  } finally {
    globalThis.WebSocket = global;
  }
});
