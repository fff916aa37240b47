// deno-lint-ignore-file no-explicit-any
/**
 * The relay, exercised at the protocol level: the test plays the device with a
 * raw WebSocket speaking relay/PROTOCOL.md (as an App Clip would) and drives it
 * through the SDK's `Browser` or a raw controller socket. Real server, real KV.
 */
import { fixedClock } from "../lib/services.ts";
import assert from "node:assert/strict";
import { Passage } from "@passage/connect";
import { BrowserCommandError } from "@passage/connect";
import { CLOSE_CODES } from "@passage/connect/protocol";
import { sweepSessions } from "../lib/sessions.ts";
import { GroupCommit } from "../relay/commits.ts";
import { startServer, type TestServer } from "./_harness.ts";
import { openSocket, type TestSocket } from "./_socket.ts";
import { consoleEvent } from "./_relay_helpers.ts";

const ws = (server: TestServer, path: string) => server.url.replace(/^http/, "ws") + path;

async function claimedSession(server: TestServer, body: Record<string, unknown> = {}) {
  const created = await server.api("/v1/sessions", { method: "POST", json: body });
  assert.equal(created.status, 201, created.text);
  const claim = await server.api("/v1/device/claim", {
    method: "POST",
    apiKey: null,
    json: { claimCode: created.body.claimCode },
  });
  assert.equal(claim.status, 200, claim.text);
  return { id: created.body.id as string, token: claim.body.deviceToken as string };
}

async function connectDevice(server: TestServer, token: string, lastCommandSeq = 0) {
  const device = await openSocket(ws(server, "/v1/device/socket"));
  device.send({ type: "hello", v: 1, token, lastCommandSeq });
  const welcome = await device.next((m) => m.type === "welcome");
  return { device, welcome };
}

async function connectController(server: TestServer, sessionId: string, after?: number) {
  const controller = await openSocket(ws(server, `/v1/sessions/${sessionId}/socket`));
  controller.send({ type: "hello", v: 1, apiKey: server.apiKey, after });
  await controller.next((m) => m.type === "welcome");
  return controller;
}

/** Answers every command the device socket receives with `answer(command)`. */
function serve(device: TestSocket, answer: (cmd: any) => unknown, startSeq = 1) {
  let seq = startSeq;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const cmd = await device.next((m) => m.type === "command", 60_000).catch(() => null);
      if (!cmd) return;
      device.send({ type: "result", seq: seq++, id: cmd.id, ok: true, value: answer(cmd) });
    }
  })();
  return { stop: () => (stopped = true, done) };
}

Deno.test("a controller's command reaches the device and its result comes back through the SDK", async () => {
  await using server = await startServer();
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const session = await passage.sessions.create();
  const claim = await server.api("/v1/device/claim", {
    method: "POST",
    apiKey: null,
    json: { claimCode: session.claimCode },
  });
  const { device, welcome } = await connectDevice(server, claim.body.deviceToken);
  assert.equal(welcome.sessionId, session.id);
  assert.equal(welcome.lastDeviceSeq, 0);
  const browser = await session.connect();
  const loop = serve(device, (cmd) => cmd.name === "url" ? { url: "https://example.com/x" } : {});
  assert.equal(await browser.url(), "https://example.com/x");
  await browser.click({ selector: "#go" });
  await browser.close();
  await device.close();
  await loop.stop();
});

Deno.test("commands sent before the device connects wait for it", async () => {
  await using server = await startServer();
  const { id, token } = await claimedSession(server);
  const controller = await connectController(server, id);
  controller.send({ type: "command", id: "early", name: "url", params: {} });
  await controller.next((m) => m.type === "accepted" && m.id === "early");
  const { device } = await connectDevice(server, token);
  const cmd = await device.next((m) => m.type === "command");
  assert.equal(cmd.id, "early");
  assert.equal(cmd.seq, 1);
  assert.ok(cmd.timeoutMs > 0 && cmd.timeoutMs <= 30_000);
  device.send({ type: "result", seq: 1, id: "early", ok: true, value: { url: "https://a.test/" } });
  const result = await controller.next((m) => m.type === "result");
  assert.deepEqual(result.value, { url: "https://a.test/" });
  await controller.close();
  await device.close();
});

Deno.test("a resent device message is acknowledged but stored once", async () => {
  await using server = await startServer();
  const { id, token } = await claimedSession(server);
  const controller = await connectController(server, id, 0);
  const { device } = await connectDevice(server, token);
  const event = { kind: "console", at: new Date().toISOString(), level: "log", text: "hello" };
  device.send({ type: "telemetry", seq: 1, event });
  device.send({ type: "telemetry", seq: 1, event });
  device.send({ type: "telemetry", seq: 2, event: { ...event, text: "second" } });
  for (const seq of [1, 1, 2]) assert.equal((await device.next((m) => m.type === "ack")).seq, seq);
  // A gap (seq 4 before 3) is refused, not stored.
  device.send({ type: "telemetry", seq: 4, event: { ...event, text: "gap" } });
  assert.equal((await device.next((m) => m.type === "error")).code, "out_of_order");
  device.send({ type: "telemetry", seq: 3, event: { ...event, text: "third" } });
  await device.next((m) => m.type === "ack" && m.seq === 3);
  const texts: string[] = [];
  while (texts.length < 3) {
    const m = await controller.next((m) => m.type === "telemetry");
    texts.push(m.event.text);
  }
  assert.deepEqual(texts, ["hello", "second", "third"]);
  // Nothing else was stored: a fresh controller replaying from 0 sees the same.
  const replay = await connectController(server, id, 0);
  const again: string[] = [];
  while (again.length < 3) {
    again.push((await replay.next((m) => m.type === "telemetry")).event.text);
  }
  assert.deepEqual(again, texts);
  await replay.close();
  await controller.close();
  await device.close();
});

Deno.test("a reconnecting device gets only the commands after the last one it saw", async () => {
  await using server = await startServer();
  const { id, token } = await claimedSession(server);
  const controller = await connectController(server, id);
  const first = await connectDevice(server, token);
  controller.send({ type: "command", id: "one", name: "url", params: {} });
  assert.equal((await first.device.next((m) => m.type === "command")).id, "one");
  first.device.send({
    type: "result",
    seq: 1,
    id: "one",
    ok: true,
    value: { url: "https://a.test/1" },
  });
  await first.device.next((m) => m.type === "ack");
  assert.equal((await controller.next((m) => m.type === "result")).id, "one");
  await first.device.close();
  assert.equal(
    (await controller.next((m) => m.type === "session" && m.device === "disconnected")).status,
    "active",
  );

  controller.send({ type: "command", id: "two", name: "url", params: {} });
  await controller.next((m) => m.type === "accepted" && m.id === "two");
  const second = await connectDevice(server, token, 1);
  assert.equal(
    second.welcome.lastDeviceSeq,
    1,
    "the server tells the device what it already stored",
  );
  const cmd = await second.device.next((m) => m.type === "command");
  assert.equal(cmd.id, "two", "command one was not sent again");
  second.device.send({
    type: "result",
    seq: 2,
    id: "two",
    ok: true,
    value: { url: "https://a.test/2" },
  });
  assert.equal((await controller.next((m) => m.type === "result")).id, "two");
  await controller.close();
  await second.device.close();
});

Deno.test("a device socket with a wrong, expired or missing token is closed with 4001, a non-hello with 4400", async () => {
  await using server = await startServer();
  for (const token of ["dt_" + "0".repeat(64), "nonsense"]) {
    const s = await openSocket(ws(server, "/v1/device/socket"));
    s.send({ type: "hello", v: 1, token, lastCommandSeq: 0 });
    assert.equal((await s.closed).code, CLOSE_CODES.unauthorized);
  }
  const s = await openSocket(ws(server, "/v1/device/socket"));
  s.send("{not json");
  assert.equal((await s.closed).code, CLOSE_CODES.protocolError);
  const t = await openSocket(ws(server, "/v1/device/socket"));
  t.send({ type: "telemetry", seq: 1, event: { kind: "navigation", at: "x", url: "https://a/" } });
  assert.equal((await t.closed).code, CLOSE_CODES.protocolError);
});

Deno.test("a plain GET of a socket endpoint answers 426 upgrade_required", async () => {
  await using server = await startServer();
  const res = await server.api("/v1/device/socket");
  assert.equal(res.status, 426);
  assert.equal(res.body.error.code, "upgrade_required");
});

Deno.test("malformed, oversized and unknown messages get clear errors and leave the session working", async () => {
  await using server = await startServer();
  const { id, token } = await claimedSession(server);
  const controller = await connectController(server, id);
  const { device } = await connectDevice(server, token);

  device.send("{oops");
  assert.equal((await device.next((m) => m.type === "error")).code, "invalid_message");
  device.send({ type: "telemetry", seq: 1, event: { kind: "keylog", at: "now" } });
  assert.equal((await device.next((m) => m.type === "error")).code, "invalid_message");

  controller.send({ type: "command", id: "c1", name: "stealPasswords", params: {} });
  const unknown = await controller.next((m) => m.type === "error");
  assert.equal(unknown.code, "invalid_message");
  assert.equal(unknown.id, "c1");
  controller.send({ type: "command", id: "c2", name: "click", params: { selector: 42 } });
  const invalid = await controller.next((m) => m.type === "error");
  assert.equal(invalid.code, "invalid_command");
  assert.match(invalid.message, /click: invalid params "selector"/);

  // The session still works after all that.
  controller.send({ type: "command", id: "c3", name: "url", params: {} });
  const cmd = await device.next((m) => m.type === "command");
  assert.equal(cmd.id, "c3");
  device.send({ type: "result", seq: 1, id: "c3", ok: true, value: { url: "https://ok.test/" } });
  assert.deepEqual((await controller.next((m) => m.type === "result")).value, {
    url: "https://ok.test/",
  });

  controller.send("x".repeat(300 * 1024));
  assert.equal((await controller.closed).code, CLOSE_CODES.tooBig);
  device.send("x".repeat(5 * 1024 * 1024));
  assert.equal((await device.closed).code, CLOSE_CODES.tooBig);
});

Deno.test("a device result that does not match its command's schema reaches the controller as device_error", async () => {
  await using server = await startServer();
  const { id, token } = await claimedSession(server);
  const controller = await connectController(server, id);
  const { device } = await connectDevice(server, token);
  controller.send({ type: "command", id: "h", name: "innerHTML", params: { selector: "body" } });
  const cmd = await device.next((m) => m.type === "command");
  device.send({ type: "result", seq: 1, id: cmd.id, ok: true, value: { html: 12 } });
  const result = await controller.next((m) => m.type === "result");
  assert.equal(result.ok, false);
  assert.equal(result.error.code, "device_error");
  await controller.close();
  await device.close();
});

Deno.test("controllers authenticate with the owner's key: a wrong key gets 4001, another key's 4404", async () => {
  await using server = await startServer();
  const { id } = await claimedSession(server);
  const wrong = await openSocket(ws(server, `/v1/sessions/${id}/socket`));
  wrong.send({ type: "hello", v: 1, apiKey: "sk_test_nope" });
  assert.equal((await wrong.closed).code, CLOSE_CODES.unauthorized);

  const { createApiKey } = await import("../lib/api_keys.ts");
  const other = await createApiKey(server.kv, { name: "other" });
  const stranger = await openSocket(ws(server, `/v1/sessions/${id}/socket`));
  stranger.send({ type: "hello", v: 1, apiKey: other.secret });
  assert.equal((await stranger.closed).code, CLOSE_CODES.notFound);
});

Deno.test("a second device on the same session replaces the first with 4009", async () => {
  await using server = await startServer({ relayPollMs: 50 });
  const { token } = await claimedSession(server);
  const first = await connectDevice(server, token);
  const second = await connectDevice(server, token);
  assert.equal((await first.device.closed).code, CLOSE_CODES.replaced);
  await second.device.close();
});

Deno.test("ending a session fails its pending commands and tells the device to stop", async () => {
  await using server = await startServer();
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const { id, token } = await claimedSession(server);
  const { device } = await connectDevice(server, token);
  const browser = await (await passage.sessions.get(id)).connect();
  const pending = browser.innerHTML({ selector: "#slow" });
  pending.catch(() => {}); // asserted below; the rejection may land before that
  await device.next((m) => m.type === "command");
  const ended = await passage.sessions.end(id);
  assert.equal(ended.status, "ended");
  assert.equal(ended.endReason, "ended_by_developer");
  await assert.rejects(
    pending,
    (err) =>
      err instanceof BrowserCommandError && err.code === "session_ended" &&
      err.command === "innerHTML",
  );
  assert.equal((await device.next((m) => m.type === "end")).reason, "ended_by_developer");
  assert.equal((await device.closed).code, CLOSE_CODES.sessionEnded);
  // A device that comes back to the ended session is told `end`, not "invalid token".
  const late = await openSocket(ws(server, "/v1/device/socket"));
  late.send({ type: "hello", v: 1, token, lastCommandSeq: 0 });
  assert.equal((await late.next((m) => m.type === "end")).reason, "ended_by_developer");
  assert.equal((await late.closed).code, CLOSE_CODES.sessionEnded);
  await browser.close();
});

Deno.test("the sweep ends idle, overlong and device-lost sessions and fails their commands", async () => {
  await using server = await startServer();
  const idle = await claimedSession(server, { idleTimeout: 10 });
  const controller = await connectController(server, idle.id);
  controller.send({ type: "command", id: "waiting", name: "url", params: {} });
  await controller.next((m) => m.type === "accepted");
  const lost = await claimedSession(server, { idleTimeout: 3600, maxDuration: 4 * 3600 });
  const { device } = await connectDevice(server, lost.token);
  await device.close();
  await new Promise((r) => setTimeout(r, 5)); // let the disconnect be recorded (it is awaited below)
  const ended = await sweepSessions({ ...server.services, clock: fixedClock(Date.now() + 11_000) });
  assert.equal(ended, 1, "only the idle session is due 11 s from now");
  const failure = await controller.next((m) => m.type === "result");
  assert.equal(failure.error.code, "session_ended");
  assert.equal((await controller.next((m) => m.type === "session")).reason, "idle_timeout");
  await controller.closed;

  const later = Date.now() + (server.config.deviceGraceSeconds + 1) * 1000;
  assert.equal(await sweepSessions({ ...server.services, clock: fixedClock(later) }), 1);
  const lostSession = await server.api(`/v1/sessions/${lost.id}`);
  assert.equal(lostSession.body.endReason, "device_lost");
});

Deno.test("an SDK command that gets no answer fails with a timeout naming the command", async () => {
  await using server = await startServer();
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const { id } = await claimedSession(server);
  const browser = await (await passage.sessions.get(id)).connect();
  await assert.rejects(
    browser.waitForSelector({ selector: "#never" }, { timeout: 150 }),
    (err) =>
      err instanceof BrowserCommandError && err.code === "timeout" &&
      err.command === "waitForSelector",
  );
  await browser.close();
});

Deno.test("session telemetry streams over SSE and resumes from Last-Event-ID", async () => {
  await using server = await startServer();
  const { id, token } = await claimedSession(server);
  const { device } = await connectDevice(server, token);
  const at = new Date().toISOString();
  device.send({
    type: "telemetry",
    seq: 1,
    event: { kind: "navigation", at, url: "https://a.test/" },
  });
  device.send({
    type: "telemetry",
    seq: 2,
    event: { kind: "console", at, level: "log", text: "hi" },
  });
  await device.next((m) => m.type === "ack" && m.seq === 2);

  const read = async (headers: Record<string, string>, want: number) => {
    const res = await fetch(`${server.url}/v1/sessions/${id}/events`, {
      headers: { authorization: `Bearer ${server.apiKey}`, ...headers },
    });
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const events: Array<{ id: string; event: string; data: any }> = [];
    while (events.length < want) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      let i;
      while ((i = text.indexOf("\n\n")) >= 0) {
        const block = text.slice(0, i);
        text = text.slice(i + 2);
        const f = Object.fromEntries(
          block.split("\n").filter((l) => !l.startsWith(":")).map((
            l,
          ) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
        );
        if (f.data) events.push({ id: f.id, event: f.event, data: JSON.parse(f.data) });
      }
    }
    await reader.cancel();
    return events;
  };
  const all = await read({ "last-event-id": "0" }, 3);
  assert.deepEqual(all.map((e) => e.event), ["session", "telemetry", "telemetry"]);
  assert.equal(all[1].data.event.url, "https://a.test/");
  const resumed = await read({ "last-event-id": all[1].id }, 1);
  assert.equal(resumed[0].data.event.text, "hi");
  assert.equal(resumed[0].id, all[2].id);
  await device.close();
});

Deno.test("an ended session keeps its telemetry for look-back but not its commands or results", async () => {
  await using server = await startServer();
  const { id, token } = await claimedSession(server);
  const controller = await connectController(server, id);
  const { device } = await connectDevice(server, token);
  controller.send({
    type: "command",
    id: "cap",
    name: "readCapturedResponses",
    params: {},
  });
  const cmd = await device.next((m) => m.type === "command");
  const body = JSON.stringify({ balance: "ACCOUNT-DATA-" + "x".repeat(70_000) });
  device.send({
    type: "result",
    seq: 1,
    id: cmd.id,
    ok: true,
    value: {
      responses: [{ url: "https://a.test/api", method: "GET", status: 200, responseBody: body }],
    },
  });
  device.send({
    type: "telemetry",
    seq: 2,
    event: { kind: "navigation", at: new Date().toISOString(), url: "https://a.test/home" },
  });
  await device.next((m) => m.type === "ack" && m.seq === 2);
  assert.equal(
    (await controller.next((m) => m.type === "result")).value.responses[0].responseBody,
    body,
  );

  const ended = await server.api(`/v1/sessions/${id}/end`, { method: "POST" });
  assert.equal(ended.status, 200);
  await controller.closed;
  let text = "";
  for await (const { key, value } of server.kv.list({ prefix: [] })) {
    text += JSON.stringify(key) +
      (value instanceof Uint8Array ? new TextDecoder().decode(value) : JSON.stringify(value));
  }
  assert.ok(!text.includes("ACCOUNT-DATA-"), "a captured body outlived its session");
  assert.ok(!text.includes('"readCapturedResponses"'), "a command outlived its session");
  // Telemetry is stored encrypted (lib/log_crypto.ts): it is read back through the log.
  const kept = JSON.stringify(await server.relay.log.read(id, "evt", 0));
  assert.ok(kept.includes("https://a.test/home"), "telemetry should stay for look-back");
  await device.close();
});

Deno.test("the server masks URLs and drops undeclared telemetry fields even when a device does not", async () => {
  await using server = await startServer();
  const { id, token } = await claimedSession(server);
  const controller = await connectController(server, id);
  const { device } = await connectDevice(server, token);
  const at = new Date().toISOString();
  device.send({
    type: "telemetry",
    seq: 1,
    event: {
      kind: "request",
      at,
      requestId: "r1",
      method: "POST",
      url: "https://bank.test/login?session=SECRET-SESSION&page=2",
      resourceType: "fetch",
      headers: { cookie: "sid=SECRET-COOKIE" },
      postData: "password=SECRET-PASSWORD",
    },
  });
  device.send({
    type: "telemetry",
    seq: 2,
    event: { kind: "console", at, level: "log", text: "see https://bank.test/?token=SECRET-TOKEN" },
  });
  controller.send({
    type: "command",
    id: "n",
    name: "navigate",
    params: { url: "https://bank.test/" },
  });
  const cmd = await device.next((m) => m.type === "command");
  device.send({
    type: "result",
    seq: 3,
    id: cmd.id,
    ok: false,
    error: {
      code: "navigation_failed",
      message: "failed at https://bank.test/cb?code=SECRET-CODE",
    },
  });
  const seen: unknown[] = [];
  seen.push(await controller.next((m) => m.type === "telemetry"));
  seen.push(await controller.next((m) => m.type === "telemetry"));
  seen.push(await controller.next((m) => m.type === "result"));
  const text = JSON.stringify(seen);
  for (
    const secret of [
      "SECRET-SESSION",
      "SECRET-COOKIE",
      "SECRET-PASSWORD",
      "SECRET-TOKEN",
      "SECRET-CODE",
    ]
  ) {
    assert.ok(!text.includes(secret), `${secret} reached a controller: ${text}`);
  }
  assert.match(text, /page=2/, "harmless parameters are kept");
  await controller.close();
  await device.close();
});

Deno.test("with the direct path, a device and a controller that drop and reconnect mid-stream see every message once, in order", async () => {
  await using server = await startServer();
  const { id, token } = await claimedSession(server);
  let { device } = await connectDevice(server, token);
  let controller = await connectController(server, id);
  const events: any[] = [];
  const commands: any[] = [];
  let deviceSeq = 0;
  for (let i = 1; i <= 30; i++) {
    controller.send({ type: "command", id: `m${i}`, name: "url", params: {} });
    await controller.next((m) => m.type === "accepted" && m.id === `m${i}`);
    if (i % 10 === 4) {
      // The device drops with the command unread, and resumes from the last one it saw.
      await device.close();
      device = (await connectDevice(server, token, commands.at(-1)?.seq ?? 0)).device;
    }
    const cmd = await device.next((m) => m.type === "command");
    commands.push(cmd);
    device.send({ type: "telemetry", seq: ++deviceSeq, event: consoleEvent(`t${i}`) });
    device.send({
      type: "result",
      seq: ++deviceSeq,
      id: cmd.id,
      ok: true,
      value: { url: `u${i}` },
    });
    await device.next((m) => m.type === "ack" && m.seq === deviceSeq);
    if (i % 10 === 7) {
      // The controller drops with two events unread, and resumes after the last one it saw.
      await controller.close();
      controller = await connectController(server, id, events.at(-1)?.seq ?? 0);
    }
    for (let k = 0; k < 2; k++) {
      events.push(
        await controller.next((m) => m.type === "telemetry" || m.type === "result"),
      );
    }
  }
  assert.deepEqual(commands.map((c) => c.id), commands.map((_, i) => `m${i + 1}`));
  assert.deepEqual(commands.map((c) => c.seq), commands.map((_, i) => i + 1));
  assert.deepEqual(
    events.map((e) => e.type === "result" ? e.id : e.event.text),
    commands.flatMap((_, i) => [`t${i + 1}`, `m${i + 1}`]),
  );
  const seqs = events.map((e) => e.seq);
  // Numbered by the log: rising, and the only gaps are the device's own session events.
  assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), `out of order: ${seqs}`);
  await device.close();
  await controller.close();
});

Deno.test("group commit: a batch whose one append's check fails still commits the others, once each", async () => {
  await using kv = await Deno.openKv(":memory:");
  await kv.set(["moved"], 1);
  const stale = await kv.get(["moved"]);
  await kv.set(["moved"], 2);
  const commits = new GroupCommit(kv);
  // The first commits alone; the next four wait for it and go together.
  const results = await Promise.all([
    commits.commit("a", (op) => op.set(["a"], 1)),
    commits.commit("b", (op) => op.set(["b"], 1)),
    commits.commit("c", (op) => op.check(stale).set(["c"], 1)),
    commits.commit("d", (op) => op.set(["d"], 1)),
    commits.commit("b", (op) => op.set(["b"], 2)),
  ]);
  assert.deepEqual(results.map((r) => r.ok), [true, true, false, true, true]);
  const values = (await kv.getMany([["a"], ["b"], ["c"], ["d"]])).map((e) => e.value);
  assert.deepEqual(values, [1, 2, null, 1], "b's second append came after its first");
});

Deno.test("with many sessions at once, appends share commits and every controller sees its results once, in order", async () => {
  await using server = await startServer();
  const sessions = await Promise.all(Array.from({ length: 20 }, async () => {
    const { id, token } = await claimedSession(server);
    const { device } = await connectDevice(server, token);
    const controller = await connectController(server, id);
    const answering = serve(device, (cmd) => ({ url: `https://a.test/${cmd.id}` }));
    return { device, controller, answering };
  }));
  const before = { ...server.relay.log.commits.stats };
  await Promise.all(sessions.map(async ({ controller }) => {
    for (let i = 0; i < 10; i++) {
      controller.send({ type: "command", id: `g${i}`, name: "url", params: {} });
    }
    const seen: Array<{ id: string; seq: number }> = [];
    while (seen.length < 10) {
      const m: any = await controller.next((m) => m.type === "result");
      assert.equal(m.value.url, `https://a.test/${m.id}`);
      seen.push({ id: m.id, seq: m.seq });
    }
    assert.deepEqual(seen.map((s) => s.id), Array.from({ length: 10 }, (_, i) => `g${i}`));
    seen.forEach((s, i) => i > 0 && assert.ok(s.seq > seen[i - 1].seq));
  }));
  const stats = server.relay.log.commits.stats;
  const appends = stats.appends - before.appends;
  assert.ok(appends >= 400, `appends: ${appends}`);
  assert.ok(stats.commits - before.commits < appends, "no two appends shared a commit");
  for (const { device, controller, answering } of sessions) {
    answering.stop();
    await device.close();
    await controller.close();
  }
});
