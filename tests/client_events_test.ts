/**
 * Client events, as Plaid Link and Argyle give them: recorded on the link
 * (`GET /v1/links/{id}` → `events`), streamed in the session's SSE stream as
 * `event: client`, and, for links created with `webhookEvents: ["client"]`,
 * delivered as signed `link.event` webhooks. Never a typed value. Also
 * `device_never_connected`, for links no device ever connected to. Real
 * server, the reference device on one headless Chromium, a real receiver.
 */
import { fixedClock } from "../lib/services.ts";
import assert from "node:assert/strict";
import { Passage, type WebhookPayload } from "@passage/connect";
import { CLIENT_EVENT_TYPES, type ClientEvent } from "@passage/connect/schemas";
import { launchChromium, startDevice } from "../device/mod.ts";
import { linkKey } from "../lib/kv_keys.ts";
import type { LinkRecord } from "../lib/links.ts";
import { sweepSessions } from "../lib/sessions.ts";
import { claim, setLinkExpiry, startServer } from "./_harness.ts";
import { firstTurn, retryWith, submitCode, submitPassword, Turns } from "./_human.ts";
import { type Receiver, startReceiver, text } from "./_webhooks.ts";

/** Verified payloads of `linkId`, once `done` holds for them. */
async function payloadsUntil(
  receiver: Receiver,
  linkId: string,
  done: (payloads: WebhookPayload[]) => boolean,
): Promise<WebhookPayload[]> {
  for (let n = 1;; n++) {
    const requests = await receiver.waitFor(n, 60_000);
    const bad = requests.find((r) => r.verifyError);
    if (bad) throw bad.verifyError;
    const mine = requests.map((r) => r.payload!).filter((p) => p.linkId === linkId);
    if (done(mine)) return mine;
  }
}

/** Reads a session's SSE stream until `stop` says so; returns every `client` event and the raw text. */
function readSse(url: string, apiKey: string) {
  const abort = new AbortController();
  const client: ClientEvent[] = [];
  let raw = "";
  const waiters: Array<() => void> = [];
  const done = (async () => {
    const res = await fetch(url, {
      headers: { Authorization: `Bearer ${apiKey}` },
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        raw += value;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === "client" && data) client.push(JSON.parse(data).event);
          waiters.splice(0).forEach((w) => w());
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
  })();
  return {
    client,
    get raw() {
      return raw;
    },
    /** Resolves once `count` client events have arrived. */
    async count(count: number) {
      while (client.length < count) await new Promise<void>((r) => waiters.push(r));
    },
    async close() {
      abort.abort();
      await done;
    },
  };
}

/** Waits (KV watch, same process) until the stored link satisfies `ok`. */
async function linkWhen(
  kv: Deno.Kv,
  linkId: string,
  ok: (link: LinkRecord) => boolean,
): Promise<LinkRecord> {
  const stream = kv.watch<[LinkRecord]>([linkKey(linkId)]);
  try {
    for await (const [entry] of stream) {
      if (entry.value && ok(entry.value)) return entry.value;
    }
  } finally {
    await stream.cancel().catch(() => {});
  }
  throw new Error("watch ended");
}

const rand = () => crypto.getRandomValues(new Uint32Array(1))[0].toString(36);

Deno.test("client events on the reference device", async (t) => {
  const chromium = await launchChromium();
  try {
    await t.step(
      "a link's client events are on the link, in its SSE stream and, opted in, in signed link.event webhooks",
      async () => {
        await using server = await startServer({ allowLoopbackWebhooks: true });
        await using receiver = startReceiver({
          verify: { publicKeyUrl: `${server.url}/webhook_verification_key/get` },
        });
        const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
        const link = await passage.links.create({
          provider: "tmobile",
          operations: [{ type: "mobileBillingStatement:read" }, { type: "paymentMethod:read" }],
          webhookUrl: receiver.url,
          webhookEvents: ["client"],
        });
        assert.deepEqual(link.webhookEvents, ["client"]);
        assert.deepEqual(link.events, []);
        const sse = readSse(`${server.url}/v1/sessions/${link.sessionId}/events`, server.apiKey);
        // canaries: a password and a code that appear nowhere else
        const wrongPassword = `wrong_${rand()}`;
        const password = `pass_good_${rand()}`;
        const code = `1234${String(Math.floor(Math.random() * 90) + 10)}`;
        const turns = new Turns();
        const device = await startDevice({
          server: server.url,
          claimCode: link.claimCode!,
          browser: chromium,
          onStatus: turns.onStatus,
        });
        await using _device = device;
        try {
          await turns.next(firstTurn, 0);
          await submitPassword(device.page, "user_good", wrongPassword);
          await turns.next(retryWith(2));
          await submitPassword(device.page, "user_good", password);
          await submitCode(device.page, code);

          const expected = [
            "opened",
            "login_started",
            "login_failed_attempt",
            "mfa_required",
            "login_succeeded",
            "operation_started",
            "operation_completed",
            "operation_started",
            "operation_completed",
          ];
          const payloads = await payloadsUntil(
            receiver,
            link.id,
            (ps) =>
              ps.some((p) => p.type === "link.completed") &&
              ps.filter((p) => p.type === "link.event").length >= expected.length,
          );
          const stored = await passage.links.get(link.id);
          assert.equal(stored.status, "complete");
          assert.deepEqual(stored.events.map((e) => e.type), expected);
          const failed = stored.events[2];
          assert.deepEqual(
            { attempt: failed.attempt, attemptsLeft: failed.attemptsLeft, step: failed.step },
            { attempt: 1, attemptsLeft: 2, step: "password" },
          );
          assert.deepEqual(
            stored.events.filter((e) => e.type === "operation_completed").map((e) => [
              e.operation,
              e.status,
            ]),
            [["mobileBillingStatement:read", "complete"], ["paymentMethod:read", "complete"]],
          );
          for (const e of stored.events) assert.ok(!Number.isNaN(Date.parse(e.at)), e.at);

          // webhooks: one signed link.event per client event, in the same shape
          const events = payloads.filter((p) => p.type === "link.event");
          assert.deepEqual(
            events.map((p) => p.event!).sort((a, b) => a.at.localeCompare(b.at)),
            stored.events,
          );
          assert.ok(events.every((p) => p.provider === "tmobile" && p.livemode === false));

          // SSE: the same events, as `event: client`
          await sse.count(expected.length);
          assert.deepEqual(sse.client, stored.events);

          const everything = [
            JSON.stringify(stored),
            sse.raw,
            ...receiver.requests.map(text),
          ].join("\n");
          for (const secret of [wrongPassword, password, code]) {
            assert.ok(!everything.includes(secret), `a typed value (${secret}) left the device`);
          }
        } finally {
          await sse.close();
        }
      },
    );

    await t.step("a link without webhookEvents gets only its outcome webhook", async () => {
      await using server = await startServer({ allowLoopbackWebhooks: true });
      await using receiver = startReceiver({
        verify: { publicKeyUrl: `${server.url}/webhook_verification_key/get` },
      });
      const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
      const link = await passage.links.create({
        provider: "tmobile",
        operations: [{ type: "paymentMethod:read" }],
        webhookUrl: receiver.url,
      });
      const turns = new Turns();
      const device = await startDevice({
        server: server.url,
        claimCode: link.claimCode!,
        browser: chromium,
        onStatus: turns.onStatus,
      });
      await using _device = device;
      await turns.next(firstTurn, 0);
      await submitPassword(device.page, "user_good", "pass_good");
      await submitCode(device.page, "1234");
      await payloadsUntil(receiver, link.id, (ps) => ps.some((p) => p.type === "link.completed"));
      assert.ok((await passage.links.get(link.id)).events.length >= 5, "events were recorded");
      // a link.event would have been stored in the commit that recorded its event
      const hooks = await server.api(`/v1/links/${link.id}/webhooks`);
      assert.deepEqual(hooks.body.data.map((e: { type: string }) => e.type), ["link.completed"]);
    });

    await t.step(
      "a user who never logs in exits: user_exited in the commit that fails the link",
      async () => {
        await using server = await startServer({ loginTimeoutMs: 1_500 });
        const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
        const link = await passage.links.create({
          provider: "tmobile",
          operations: [{ type: "paymentMethod:read" }],
        });
        const turns = new Turns();
        const device = await startDevice({
          server: server.url,
          claimCode: link.claimCode!,
          browser: chromium,
          onStatus: turns.onStatus,
        });
        await using _device = device;
        const failed = await linkWhen(server.kv, link.id, (l) => l.status === "failed");
        assert.equal(failed.error?.code, "user_abandoned");
        assert.deepEqual(failed.events?.at(-1), {
          type: "user_exited",
          reason: "user_abandoned",
          at: failed.events?.at(-1)?.at,
        });
        assert.deepEqual(failed.events?.map((e) => e.type), [
          "opened",
          "login_started",
          "user_exited",
        ]);
      },
    );
  } finally {
    await chromium.close();
  }
});

Deno.test("webhookEvents without a webhookUrl is a 400 invalid_request", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/links", {
    method: "POST",
    json: {
      provider: "tmobile",
      operations: [{ type: "paymentMethod:read" }],
      webhookEvents: ["client"],
    },
  });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, "invalid_request");
  assert.equal(res.body.error.param, "webhookEvents");
  const unknown = await server.api("/v1/links", {
    method: "POST",
    json: {
      provider: "tmobile",
      operations: [{ type: "paymentMethod:read" }],
      webhookUrl: "https://example.com/hook",
      webhookEvents: ["everything"],
    },
  });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error.code, "invalid_request");
});

Deno.test("a link no device claimed before it expired says device_never_connected", async () => {
  await using server = await startServer();
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const link = await passage.links.create({
    provider: "tmobile",
    operations: [{ type: "paymentMethod:read" }],
  });
  await setLinkExpiry(server.kv, link.id);
  const expired = await passage.links.get(link.id);
  assert.equal(expired.status, "expired");
  assert.equal(expired.error?.code, "device_never_connected");
});

Deno.test("a claimed link whose device never connected fails with device_never_connected, not device_lost", async () => {
  await using server = await startServer();
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const link = await passage.links.create({
    provider: "tmobile",
    operations: [{ type: "paymentMethod:read" }],
  });
  const claimed = await claim(server, link.claimCode!);
  assert.equal(claimed.status, 200);
  const failed = linkWhen(server.kv, link.id, (l) => l.status === "failed");
  // the device never opens its socket; its session runs out of time
  const later = Date.now() + 2 * 60 * 60_000;
  assert.equal(await sweepSessions({ ...server.services, clock: fixedClock(later) }), 1);
  // the minute sweep would find the link waiting for a run; a queue wake-up does it here
  await server.kv.enqueue({ kind: "link.run", id: link.id });
  const record = await failed;
  assert.equal(record.error?.code, "device_never_connected", record.error?.message);
  assert.ok(!record.events?.some((e) => e.type === "user_exited"));
});

Deno.test("GET /openapi.json describes a link's events, webhookEvents and device_never_connected", async () => {
  await using server = await startServer();
  const doc = (await server.api("/openapi.json", { apiKey: null })).body;
  // deno-lint-ignore no-explicit-any
  const resolve = (s: any) => s.$ref ? doc.components.schemas[s.$ref.split("/").at(-1)] : s;
  const link = resolve(
    doc.paths["/v1/links"].post.responses["201"].content["application/json"].schema,
  );
  const events = link.properties.events;
  assert.equal(events.type, "array");
  assert.deepEqual(resolve(resolve(events.items).properties.type).enum, [...CLIENT_EVENT_TYPES]);
  assert.deepEqual(resolve(link.properties.webhookEvents.items).enum, ["client"]);
  const error = resolve(
    link.properties.error.anyOf?.find((s: { type?: string }) => s.type !== "null") ??
      link.properties.error,
  );
  assert.match(error.properties.code.description, /device_never_connected/);
  const body = resolve(doc.paths["/v1/links"].post.requestBody.content["application/json"].schema);
  assert.deepEqual(resolve(body.properties.webhookEvents.items).enum, ["client"]);
});
