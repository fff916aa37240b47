// deno-lint-ignore-file no-explicit-any
/**
 * The promise, by construction (issue 8): a link's session belongs to the
 * engine, revoking a key closes what it opened, what the relay stores is
 * crypto-shredded, and telemetry is bounded per session. Each test plays the
 * attack with real sockets on a real server over real KV; each can fail.
 */
import assert from "node:assert/strict";
import { CLOSE_CODES } from "@passage/connect/protocol";
import { createApiKey, listApiKeys, revokeApiKey } from "../lib/api_keys.ts";
import { sessionLogKeyKey, telemetryUsageKey } from "../lib/kv_keys.ts";
import {
  disableLogEncryptionForTests,
  restoreLogEncryptionForTests,
  type StoredLogKey,
} from "../lib/log_crypto.ts";
import { claim, createLinkViaApi, startServer, type TestServer } from "./_harness.ts";
import { openSocket, type TestSocket } from "./_socket.ts";
import { connectController, consoleEvent, tempKvFile, wsUrl } from "./_relay_helpers.ts";
import { createKeyWithCli, startProcess } from "./_server_process.ts";

// ------------------------------------------------------------ helpers

async function connectDevice(server: TestServer, token: string): Promise<TestSocket> {
  const device = await openSocket(wsUrl(server.url, "/v1/device/socket"));
  device.send({ type: "hello", v: 1, token, lastCommandSeq: 0 });
  await device.next((m) => m.type === "welcome");
  return device;
}

async function claimedSession(server: TestServer) {
  const created = await server.api("/v1/sessions", { method: "POST", json: {} });
  assert.equal(created.status, 201, created.text);
  const claimed = await claim(server, created.body.claimCode);
  assert.equal(claimed.status, 200, claimed.text);
  return { id: created.body.id as string, token: claimed.body.deviceToken as string };
}

/** Every message a socket receives until it closes (or `deadlineMs` passes). */
async function untilClosed(socket: TestSocket, deadlineMs = 15_000) {
  const seen: any[] = [];
  for (;;) {
    try {
      seen.push(await socket.next(() => true, deadlineMs));
    } catch (err) {
      if (socket.ws.readyState === WebSocket.CLOSED) {
        return { seen, close: await socket.closed };
      }
      throw err;
    }
  }
}

interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

/** An SSE stream: its events as they come, and whether it has ended. */
async function openSse(url: string, apiKey: string, lastEventId?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${apiKey}` };
  if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
  const res = await fetch(url, { headers });
  assert.equal(res.status, 200, await (res.status === 200 ? "" : res.text()));
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  let buffer = "";
  let ended = false;
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: "", done: true }));
      if (done) break;
      buffer += value;
      let i;
      while ((i = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, "");
        }
        if (fields.data) {
          events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
        }
      }
    }
    ended = true;
  })();
  return {
    events,
    get ended() {
      return ended;
    },
    /** Waits until `until` holds for the events so far, or the deadline passes. */
    async waitFor(until: (events: SseEvent[], ended: boolean) => boolean, deadlineMs = 10_000) {
      const deadline = Date.now() + deadlineMs;
      while (!until(events, ended)) {
        if (Date.now() > deadline) {
          throw new Error(`SSE: condition not met in ${deadlineMs} ms: ${JSON.stringify(events)}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await reader.cancel().catch(() => {});
      await pump;
    },
  };
}

/** Polls `check` until it is true, failing after `deadlineMs`. */
async function eventually(check: () => Promise<boolean>, what: string, deadlineMs = 10_000) {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${deadlineMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ------------------------------------------------------------ 1. a link's session belongs to the engine

const ACCOUNT_CANARY = "CANARY-ACCOUNT-owner4242";

Deno.test("a developer's controller and SSE on a link's session watch its telemetry but never command it nor read the engine's results", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server);
  const claimed = await claim(server, link.claimCode);
  assert.equal(claimed.status, 200, claimed.text);
  const sessionId = link.sessionId as string;

  // The developer attaches before the device is there, replaying from the start.
  const controller = await connectController(server.url, sessionId, server.apiKey, 0);
  const sse = await openSse(`${server.url}/v1/sessions/${sessionId}/events`, server.apiKey, "0");

  // Its command is refused with a stable code and never appended.
  controller.send({ type: "command", id: "dev-1", name: "url", params: {} });
  const refused = await controller.next((m) => m.type === "error" && m.id === "dev-1");
  assert.equal(refused.code, "session_owned_by_link", JSON.stringify(refused));
  assert.equal(await server.relay.log.head(sessionId, "cmd"), 0, "the command was appended");

  // The device connects: the engine starts and commands it.
  const device = await connectDevice(server, claimed.body.deviceToken);
  const first = await device.next((m) => m.type === "command");
  assert.match(first.id, /^eng_/);
  device.send({
    type: "result",
    seq: 1,
    id: first.id,
    ok: true,
    value: first.name === "navigate"
      ? { url: `https://sandbox.test/${ACCOUNT_CANARY}`, status: 200 }
      : { url: `https://sandbox.test/${ACCOUNT_CANARY}` },
  });
  // The engine got the result (it sends its next command), so it was stored.
  const second = await device.next((m) => m.type === "command");
  assert.match(second.id, /^eng_/);
  // By construction: the stream developers read holds no result at all.
  const evt = await server.relay.log.read(sessionId, "evt", 0);
  assert.deepEqual(evt.filter((e) => e.entry.type === "result"), [], "a result entered evt");
  assert.ok(!JSON.stringify(evt).includes(ACCOUNT_CANARY));

  // Telemetry after the result: once the controller has it, it had everything before it.
  device.send({ type: "telemetry", seq: 2, event: consoleEvent("watch me") });
  const watched = await controller.next((m) => m.type === "telemetry");
  assert.equal(watched.event.text, "watch me");
  await sse.waitFor((events) => events.some((e) => e.data?.event?.text === "watch me"));

  // The second command fails with the canary in its message: the link fails, the session ends.
  device.send({
    type: "result",
    seq: 3,
    id: second.id,
    ok: false,
    error: { code: "selector_not_found", message: `no ${ACCOUNT_CANARY} here` },
  });
  const live = await untilClosed(controller);
  assert.equal(live.close.code, CLOSE_CODES.sessionEnded);
  await sse.waitFor((_, ended) => ended);
  await sse.close();
  await device.close();

  // Replayed from the start after the end, over both paths.
  const replay = await connectController(server.url, sessionId, server.apiKey, 0);
  const replayed = await untilClosed(replay);
  const sseReplay = await openSse(
    `${server.url}/v1/sessions/${sessionId}/events`,
    server.apiKey,
    "0",
  );
  await sseReplay.waitFor((_, ended) => ended);
  await sseReplay.close();
  const rest = await server.api(`/v1/sessions/${sessionId}`);

  for (
    const [where, messages] of [
      ["live controller", live.seen],
      ["replayed controller", replayed.seen],
      ["live SSE", sse.events],
      ["replayed SSE", sseReplay.events],
      ["REST", [rest.body]],
    ] as const
  ) {
    const text = JSON.stringify(messages);
    assert.ok(!text.includes(ACCOUNT_CANARY), `${where} saw the engine's result: ${text}`);
    assert.ok(!text.includes(first.id) && !text.includes(second.id), `${where}: ${text}`);
    assert.deepEqual(
      (messages as any[]).filter((m) => m.type === "result"),
      [],
      `${where} got a result`,
    );
  }
  assert.ok(replayed.seen.some((m) => m.type === "telemetry" && m.event.text === "watch me"));
  assert.ok(sseReplay.events.some((e) => e.data?.event?.text === "watch me"));
  assert.ok(sseReplay.events.some((e) => e.data?.status === "ended"));
});

Deno.test("a Sessions API session still takes commands and returns results to its controller", async () => {
  await using server = await startServer();
  const { id, token } = await claimedSession(server);
  const controller = await connectController(server.url, id, server.apiKey);
  const device = await connectDevice(server, token);
  controller.send({ type: "command", id: "c1", name: "url", params: {} });
  await controller.next((m) => m.type === "accepted" && m.id === "c1");
  const cmd = await device.next((m) => m.type === "command");
  device.send({ type: "result", seq: 1, id: cmd.id, ok: true, value: { url: "https://a.test/" } });
  const result = await controller.next((m) => m.type === "result");
  assert.deepEqual(result.value, { url: "https://a.test/" });
  await controller.close();
  await device.close();
});

// ------------------------------------------------------------ 2. revocation is live

Deno.test("revoking an API key closes its controller sockets with 4003 and ends its SSE streams at once, and no other key's", async () => {
  // A poll far beyond the deadline: only the in-process wake-up can pass this.
  await using server = await startServer({ revocationCheckMs: 600_000 });
  const a = await claimedSession(server);
  const b = await claimedSession(server);
  const first = await connectController(server.url, a.id, server.apiKey);
  const second = await connectController(server.url, b.id, server.apiKey);
  const sse = await openSse(`${server.url}/v1/sessions/${a.id}/events`, server.apiKey);

  const other = await createApiKey(server.kv, { name: "other" });
  const mine = await server.api("/v1/sessions", {
    method: "POST",
    json: {},
    apiKey: other.secret,
  });
  const bystander = await connectController(server.url, mine.body.id, other.secret);

  const started = Date.now();
  await revokeApiKey(server.kv, server.keyId);
  const closes = await Promise.race([
    Promise.all([first.closed, second.closed]),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("sockets still open after 3 s")), 3_000)
    ),
  ]);
  assert.deepEqual(closes.map((e) => e.code), [CLOSE_CODES.keyRevoked, CLOSE_CODES.keyRevoked]);
  await sse.waitFor((_, ended) => ended, 3_000);
  const last = sse.events.at(-1);
  assert.equal(last?.event, "error");
  assert.equal(last?.data.error.code, "revoked_api_key");
  assert.ok(Date.now() - started < 3_000);
  await sse.close();

  // The other key's socket is still served.
  bystander.send({ type: "command", id: "still", name: "url", params: {} });
  await bystander.next((m) => m.type === "accepted" && m.id === "still");
  await bystander.close();
});

Deno.test("revoking an API key closes its sockets and SSE streams on every server process sharing the KV file", async () => {
  await using kvFile = await tempKvFile("passage_revocation_");
  const apiKey = await createKeyWithCli(kvFile.path);
  const env = { PASSAGE_REVOCATION_CHECK_MS: "200" };
  const [a, b] = await Promise.all([
    startProcess(kvFile.path, env),
    startProcess(kvFile.path, env),
  ]);
  await using _a = a;
  await using _b = b;
  const kv = await Deno.openKv(kvFile.path);
  try {
    const session = async (url: string) => {
      const res = await fetch(`${url}/v1/sessions`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: "{}",
      });
      assert.equal(res.status, 201);
      return (await res.json()).id as string;
    };
    const onA = await connectController(a.url, await session(a.url), apiKey);
    const idB = await session(b.url);
    const onB = await connectController(b.url, idB, apiKey);
    const sseB = await openSse(`${b.url}/v1/sessions/${idB}/events`, apiKey);

    // Revoked by a third process (this one): neither server hears of it but by its check.
    const [key] = await listApiKeys(kv);
    await revokeApiKey(kv, key.id);
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("sockets still open after 5 s")), 5_000)
    );
    const closes = await Promise.race([Promise.all([onA.closed, onB.closed]), timeout]);
    assert.deepEqual(closes.map((e) => e.code), [CLOSE_CODES.keyRevoked, CLOSE_CODES.keyRevoked]);
    await sseB.waitFor((_, ended) => ended, 5_000);
    assert.equal(sseB.events.at(-1)?.data.error.code, "revoked_api_key");
    await sseB.close();
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n--- process A\n${a.output()}\n--- process B\n${b.output()}`,
    );
  } finally {
    kv.close();
  }
});

// ------------------------------------------------------------ 3. crypto-shredding

const RESULT_CANARY = "CANARY-RESULT-7c1f3a9e";
const PARAM_CANARY = "CANARY-PARAM-5d2b8e41";
const TELEMETRY_CANARY = "CANARY-TELEMETRY-a4e6c2d0";

/** How many times `needle` occurs in the raw bytes of a KV file and its -wal and -shm files. */
async function rawOccurrences(path: string, needle: string): Promise<number> {
  const pattern = new TextEncoder().encode(needle);
  let count = 0;
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(file);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    outer: for (let i = 0; i + pattern.length <= bytes.length; i++) {
      if (bytes[i] !== pattern[0]) continue;
      for (let j = 1; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
      count++;
    }
  }
  return count;
}

/**
 * One session over a KV file: a command whose params carry a canary, a result
 * and a telemetry event that carry canaries, through real sockets; then the
 * session ends. Returns the canaries' raw occurrences in the closed KV file.
 */
async function shreddingRun(): Promise<{ result: number; param: number; telemetry: number }> {
  await using kvFile = await tempKvFile("passage_shred_");
  const server = await startServer({ kvPath: kvFile.path });
  try {
    const { id, token } = await claimedSession(server);
    const controller = await connectController(server.url, id, server.apiKey);
    const device = await connectDevice(server, token);
    device.send({ type: "telemetry", seq: 1, event: consoleEvent(TELEMETRY_CANARY) });
    controller.send({
      type: "command",
      id: "t1",
      name: "textContent",
      params: { selector: `#${PARAM_CANARY}` },
    });
    const cmd = await device.next((m) => m.type === "command");
    assert.equal(cmd.params.selector, `#${PARAM_CANARY}`);
    device.send({ type: "result", seq: 2, id: cmd.id, ok: true, value: { text: RESULT_CANARY } });
    assert.equal((await controller.next((m) => m.type === "result")).value.text, RESULT_CANARY);

    const ended = await server.api(`/v1/sessions/${id}/end`, { method: "POST" });
    assert.equal(ended.status, 200, ended.text);
    await controller.closed;
    await device.close();
    await eventually(async () => {
      const key = await server.kv.get<StoredLogKey>(sessionLogKeyKey(id, "data"));
      return key.value?.shredded === true;
    }, "the session's data key was not shredded");
    // Telemetry stays readable for look-back.
    const sse = await openSse(`${server.url}/v1/sessions/${id}/events`, server.apiKey, "0");
    await sse.waitFor((_, ended) => ended);
    await sse.close();
    assert.ok(
      sse.events.some((e) => e.data?.event?.text === TELEMETRY_CANARY),
      `telemetry is gone: ${JSON.stringify(sse.events)}`,
    );
  } finally {
    await server.close();
  }
  return {
    result: await rawOccurrences(kvFile.path, RESULT_CANARY),
    param: await rawOccurrences(kvFile.path, PARAM_CANARY),
    telemetry: await rawOccurrences(kvFile.path, TELEMETRY_CANARY),
  };
}

Deno.test("after a session ends, its command params and results are nowhere in the raw KV file, and with encryption off they are", async (t) => {
  await t.step("encrypted: zero occurrences of the result and param canaries", async () => {
    const found = await shreddingRun();
    assert.equal(found.result, 0, `the result canary is in the KV file ${found.result} times`);
    assert.equal(found.param, 0, `the param canary is in the KV file ${found.param} times`);
    assert.equal(found.telemetry, 0, "telemetry is stored encrypted too");
  });
  await t.step("teeth: with encryption off, the canaries are in the raw file", async () => {
    disableLogEncryptionForTests();
    try {
      const found = await shreddingRun();
      assert.ok(found.result > 0, "deleting alone removed the result canary from disk");
      assert.ok(found.telemetry > 0);
    } finally {
      restoreLogEncryptionForTests();
    }
  });
});

Deno.test("an ended session's telemetry reads until its retention ends, then its key is shredded and it reads as absent", async () => {
  await using server = await startServer();
  const { id, token } = await claimedSession(server);
  const device = await connectDevice(server, token);
  device.send({ type: "telemetry", seq: 1, event: consoleEvent("look back") });
  await device.next((m) => m.type === "ack" && m.seq === 1);
  await server.api(`/v1/sessions/${id}/end`, { method: "POST" });
  await device.close();
  const texts = async () =>
    (await server.relay.log.read(id, "evt", 0)).flatMap((e) =>
      e.entry.type === "telemetry" && e.entry.event.kind === "console" ? [e.entry.event.text] : []
    );
  assert.deepEqual(await texts(), ["look back"]);

  const key = await server.kv.get<StoredLogKey>(sessionLogKeyKey(id, "telemetry"));
  const retentionMs = server.config.telemetryRetentionSeconds * 1000;
  assert.ok(key.value!.expiresAt! > Date.now() + retentionMs - 60_000, "expiry set at the end");
  assert.equal(await server.relay.log.sweepExpiredKeys(), 0, "not due yet");

  // A stored expiry that has passed is honoured before KV deletes anything.
  await server.kv.set(key.key, { ...key.value!, expiresAt: Date.now() - 1 });
  // `log.read` is what controller sockets and SSE streams read through.
  assert.deepEqual(await texts(), [], "telemetry read past its key's expiry");
  assert.equal((await server.api(`/v1/sessions/${id}`)).status, 200);

  assert.equal(await server.relay.log.sweepExpiredKeys(Date.now() + retentionMs + 1), 1);
  assert.equal((await server.kv.get(key.key)).value, null, "the telemetry key was not deleted");
});

// ------------------------------------------------------------ 4. quotas

Deno.test("a session stores at most its quota of screenshot bytes and telemetry events, and notices each once", async () => {
  await using server = await startServer({
    sessionScreenshotQuotaBytes: 1_000,
    sessionTelemetryQuotaEvents: 6,
  });
  const { id, token } = await claimedSession(server);
  const controller = await connectController(server.url, id, server.apiKey);
  const device = await connectDevice(server, token);
  const shot = () => ({
    kind: "screenshot",
    at: new Date().toISOString(),
    format: "png",
    data: "A".repeat(400),
    masked: false,
  });
  const sent = [
    shot(), // 400 bytes, event 1
    shot(), // 800 bytes, event 2
    shot(), // over 1,000 bytes: the screenshot notice
    shot(), // dropped
    consoleEvent("c1"), // events 3..6
    consoleEvent("c2"),
    consoleEvent("c3"),
    consoleEvent("c4"),
    consoleEvent("c5"), // over 6 events: the telemetry notice
    consoleEvent("c6"), // dropped
    shot(), // dropped
  ];
  sent.forEach((event, i) => device.send({ type: "telemetry", seq: i + 1, event }));
  await device.next((m) => m.type === "ack" && m.seq === sent.length);
  await server.api(`/v1/sessions/${id}/end`, { method: "POST" });
  const { seen } = await untilClosed(controller);
  await device.close();

  const describe = (e: any) =>
    e.kind === "notice" ? e.code : e.kind === "console" ? e.text : e.kind;
  const expected = [
    "screenshot",
    "screenshot",
    "screenshot_quota_reached",
    "c1",
    "c2",
    "c3",
    "c4",
    "telemetry_quota_reached",
  ];
  assert.deepEqual(
    seen.filter((m) => m.type === "telemetry").map((m) => describe(m.event)),
    expected,
  );
  const stored = await server.relay.log.read(id, "evt", 0);
  assert.deepEqual(
    stored.flatMap((e) => e.entry.type === "telemetry" ? [describe(e.entry.event)] : []),
    expected,
    "what is stored",
  );
  const usage = (await server.kv.get<any>(telemetryUsageKey(id))).value;
  assert.equal(usage.events, 6);
  assert.equal(usage.screenshotBytes, 800);
});

Deno.test("the encryption switch throws outside tests", async () => {
  const program = `import { disableLogEncryptionForTests } from "${
    new URL("../lib/log_crypto.ts", import.meta.url).href
  }";
disableLogEncryptionForTests();
console.log("SWITCHED OFF");`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", program],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.notEqual(out.code, 0);
  assert.ok(!new TextDecoder().decode(out.stdout).includes("SWITCHED OFF"));
  assert.match(new TextDecoder().decode(out.stderr), /only be switched off inside a test/);
});
