// deno-lint-ignore-file no-explicit-any
/**
 * The relay across isolates: two Workers of this process each serve the real
 * app over the same KV file, and the device and the controller of one session
 * connect to different Workers. The poll is set to ten minutes, so anything that
 * arrives in time was woken by the `BroadcastChannel` bus; a control with the
 * Workers on different channels shows that nothing arrives without it.
 */
import assert from "node:assert/strict";
import { createApiKey } from "../lib/api_keys.ts";
import { request } from "./_harness.ts";
import { openSocket, type TestSocket } from "./_socket.ts";
import type { RelayWorkerReply, RelayWorkerRequest } from "./fixtures/relay_worker.ts";

/** Long enough that no poll fires during a test: only bus wake-ups deliver. */
const NO_POLL_MS = 600_000;

interface RelayWorker extends AsyncDisposable {
  url: string;
}

/** A Worker serving the app over `kvPath` with its bus on `busName` (the default channel if omitted). */
async function startWorker(kvPath: string, busName?: string): Promise<RelayWorker> {
  const worker = new Worker(new URL("./fixtures/relay_worker.ts", import.meta.url), {
    type: "module",
  });
  const replies: RelayWorkerReply[] = [];
  let waiter: (() => void) | null = null;
  let crashed: string | null = null;
  worker.onmessage = (e: MessageEvent<RelayWorkerReply>) => {
    replies.push(e.data);
    waiter?.();
  };
  worker.onerror = (e) => {
    e.preventDefault();
    crashed = e.message;
    waiter?.();
  };
  const reply = async <T extends RelayWorkerReply["type"]>(type: T) => {
    for (;;) {
      const found = replies.shift();
      if (found?.type === "failed") throw new Error(`relay worker failed: ${found.message}`);
      if (found?.type === type) return found as Extract<RelayWorkerReply, { type: T }>;
      if (found) continue;
      if (crashed) throw new Error(`relay worker crashed: ${crashed}`);
      await new Promise<void>((resolve) => waiter = resolve);
      waiter = null;
    }
  };
  const post = (msg: RelayWorkerRequest) => worker.postMessage(msg);
  post({ type: "start", kvPath, relayPollMs: NO_POLL_MS, busName });
  let url: string;
  try {
    url = (await reply("ready")).url;
  } catch (err) {
    worker.terminate();
    throw err;
  }
  return {
    url,
    async [Symbol.asyncDispose]() {
      try {
        post({ type: "close" });
        await reply("closed");
      } finally {
        worker.terminate();
      }
    },
  };
}

/** A KV file in a fresh temporary folder, removed when disposed. */
async function tempKvFile(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "passage_relay_workers_" });
  return {
    path: `${dir}/passage.kv3`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Creates a test API key in the KV file from this (the main) isolate. */
async function createKeyIn(kvPath: string): Promise<string> {
  const kv = await Deno.openKv(kvPath);
  try {
    return (await createApiKey(kv, { name: "workers", mode: "test" })).secret;
  } finally {
    kv.close();
  }
}

async function claimedSession(serverUrl: string, apiKey: string) {
  const created = await request(`${serverUrl}/v1/sessions`, { method: "POST", json: {}, apiKey });
  assert.equal(created.status, 201, created.text);
  const claimed = await request(`${serverUrl}/v1/device/claim`, {
    method: "POST",
    json: { claimCode: created.body.claimCode },
  });
  assert.equal(claimed.status, 200, claimed.text);
  return { id: created.body.id as string, token: claimed.body.deviceToken as string };
}

const wsUrl = (serverUrl: string, path: string) => serverUrl.replace(/^http/, "ws") + path;

async function connectDevice(serverUrl: string, token: string): Promise<TestSocket> {
  const device = await openSocket(wsUrl(serverUrl, "/v1/device/socket"));
  device.send({ type: "hello", v: 1, token, lastCommandSeq: 0 });
  await device.next((m) => m.type === "welcome");
  return device;
}

async function connectController(
  serverUrl: string,
  sessionId: string,
  apiKey: string,
  after?: number,
): Promise<TestSocket> {
  const controller = await openSocket(wsUrl(serverUrl, `/v1/sessions/${sessionId}/socket`));
  controller.send({ type: "hello", v: 1, apiKey, after });
  await controller.next((m) => m.type === "welcome");
  return controller;
}

/** Whether a message matching `match` arrives within `ms` (false on the timeout only). */
async function arrivesWithin(
  socket: TestSocket,
  match: (m: any) => boolean,
  ms: number,
): Promise<boolean> {
  try {
    await socket.next(match, ms);
    return true;
  } catch (err) {
    if (String((err as Error).message).startsWith("no matching message")) return false;
    throw err;
  }
}

const consoleEvent = (text: string) => ({
  kind: "console",
  at: new Date().toISOString(),
  level: "log",
  text,
});

/**
 * Device on `deviceServer`, controller on `controllerServer`: commands one at a
 * time (each needs a fresh wake-up in both directions), then a burst; every
 * result and telemetry event must reach the controller, in order, numbered
 * without gaps, and so must the device's disconnection. The two isolates never
 * write at the same moment here (see the concurrent-writes test for that).
 */
async function relayAcross(deviceServer: string, controllerServer: string, apiKey: string) {
  const { id, token } = await claimedSession(deviceServer, apiKey);
  const device = await connectDevice(deviceServer, token);
  const controller = await connectController(controllerServer, id, apiKey);
  let deviceSeq = 0;
  const answer = (cmd: any) => {
    device.send({ type: "telemetry", seq: ++deviceSeq, event: consoleEvent(`before ${cmd.id}`) });
    device.send({
      type: "result",
      seq: ++deviceSeq,
      id: cmd.id,
      ok: true,
      value: { url: `https://example.test/${cmd.id}` },
    });
  };
  const seen: any[] = [];
  const nextEvent = () =>
    controller.next((m) => m.type === "result" || m.type === "telemetry").then((m) => {
      seen.push(m);
      return m;
    });

  // One at a time: the tails are idle in between, so each step needs a wake-up.
  let commandSeq = 0;
  for (const cid of ["c1", "c2", "c3"]) {
    controller.send({ type: "command", id: cid, name: "url", params: {} });
    await controller.next((m) => m.type === "accepted" && m.id === cid);
    const cmd = await device.next((m) => m.type === "command");
    assert.equal(cmd.id, cid);
    assert.equal(cmd.seq, ++commandSeq);
    answer(cmd);
    assert.equal((await nextEvent()).event?.text, `before ${cid}`);
    assert.equal((await nextEvent()).id, cid);
  }

  // A burst: all sent and accepted, then all answered back to back.
  const burst = ["c4", "c5", "c6", "c7"];
  for (const cid of burst) controller.send({ type: "command", id: cid, name: "url", params: {} });
  for (const cid of burst) await controller.next((m) => m.type === "accepted" && m.id === cid);
  const received = [];
  for (const _ of burst) received.push(await device.next((m) => m.type === "command"));
  assert.deepEqual(received.map((c) => c.id), burst, "commands reach the device in order");
  assert.deepEqual(received.map((c) => c.seq), [4, 5, 6, 7]);
  received.forEach(answer);
  while (seen.length < 14) await nextEvent();
  await device.next((m) => m.type === "ack" && m.seq === deviceSeq);

  const all = ["c1", "c2", "c3", ...burst];
  assert.deepEqual(
    seen.map((m) => m.type === "result" ? `result ${m.id}` : m.event.text),
    all.flatMap((cid) => [`before ${cid}`, `result ${cid}`]),
  );
  for (const m of seen.filter((m) => m.type === "result")) {
    assert.equal(m.ok, true);
    assert.deepEqual(m.value, { url: `https://example.test/${m.id}` });
  }
  const seqs = seen.map((m) => m.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), `event seqs have gaps: ${seqs}`);

  // The device's isolate records the disconnection; the controller's hears of it.
  await device.close();
  const gone = await controller.next((m) => m.type === "session");
  assert.equal(gone.device, "disconnected");
  assert.equal(gone.seq, seqs.at(-1)! + 1);
  await controller.close();
}

Deno.test("two sockets of one session in two Workers relay correctly through BroadcastChannel", async () => {
  await using kv = await tempKvFile();
  const apiKey = await createKeyIn(kv.path);
  await using a = await startWorker(kv.path);
  await using b = await startWorker(kv.path);
  // Device on A, controller on B; then the converse.
  await relayAcross(a.url, b.url, apiKey);
  await relayAcross(b.url, a.url, apiKey);
});

Deno.test("with the Workers on different bus channels and no poll in reach, nothing crosses: the bus is what delivers", async () => {
  await using kv = await tempKvFile();
  const apiKey = await createKeyIn(kv.path);
  await using a = await startWorker(kv.path);
  await using b = await startWorker(kv.path, `passage-relay-elsewhere-${crypto.randomUUID()}`);
  const { id, token } = await claimedSession(a.url, apiKey);
  const device = await connectDevice(a.url, token);
  const controller = await connectController(b.url, id, apiKey);

  controller.send({ type: "command", id: "stranded", name: "url", params: {} });
  await controller.next((m) => m.type === "accepted" && m.id === "stranded");
  device.send({ type: "telemetry", seq: 1, event: consoleEvent("stranded too") });
  await device.next((m) => m.type === "ack" && m.seq === 1);

  // Both are in KV now. The one bounded wait for an absence in this suite:
  // without a shared channel, neither tail is woken within the window.
  const [commandArrived, telemetryArrived] = await Promise.all([
    arrivesWithin(device, (m) => m.type === "command", 700),
    arrivesWithin(controller, (m) => m.type === "telemetry", 700),
  ]);
  assert.equal(commandArrived, false, "the command reached the device without a bus wake-up");
  assert.equal(telemetryArrived, false, "telemetry reached the controller without a bus wake-up");

  // They were stored all along: a fresh read (a reconnect) delivers them at once.
  await device.close();
  const again = await openSocket(wsUrl(a.url, "/v1/device/socket"));
  again.send({ type: "hello", v: 1, token, lastCommandSeq: 0 });
  assert.equal((await again.next((m) => m.type === "command")).id, "stranded");
  const replay = await connectController(b.url, id, apiKey, 0);
  assert.equal((await replay.next((m) => m.type === "telemetry")).event.text, "stranded too");

  await replay.close();
  await controller.close();
  await again.close();
});

/** How a socket ended, for failure messages ("open" while it is not closed). */
async function howClosed(socket: TestSocket): Promise<string> {
  if (socket.ws.readyState !== WebSocket.CLOSED) return "open";
  const e = await socket.closed;
  return `closed ${e.code} "${e.reason}"`;
}

Deno.test("two Workers writing one session's logs at the same moment lose nothing and close no socket", async () => {
  await using kv = await tempKvFile();
  const apiKey = await createKeyIn(kv.path);
  await using a = await startWorker(kv.path);
  await using b = await startWorker(kv.path);
  const { id, token } = await claimedSession(a.url, apiKey);
  const device = await connectDevice(a.url, token);
  const controller = await connectController(b.url, id, apiKey);
  const n = 10;
  try {
    // Worker B appends the commands while Worker A appends the telemetry.
    for (let i = 1; i <= n; i++) {
      controller.send({ type: "command", id: `k${i}`, name: "url", params: {} });
      device.send({ type: "telemetry", seq: i, event: consoleEvent(`t${i}`) });
    }
    const commands = [];
    for (let i = 1; i <= n; i++) commands.push(await device.next((m) => m.type === "command"));
    assert.deepEqual(commands.map((c) => c.id), commands.map((_, i) => `k${i + 1}`));
    const telemetry = [];
    for (let i = 1; i <= n; i++) {
      telemetry.push((await controller.next((m) => m.type === "telemetry")).event.text);
    }
    assert.deepEqual(telemetry, telemetry.map((_, i) => `t${i + 1}`));
    commands.forEach((cmd, i) =>
      device.send({
        type: "result",
        seq: n + i + 1,
        id: cmd.id,
        ok: true,
        value: { url: `https://example.test/${cmd.id}` },
      })
    );
    const results = [];
    for (let i = 1; i <= n; i++) {
      results.push((await controller.next((m) => m.type === "result")).id);
    }
    assert.deepEqual(results, commands.map((c) => c.id));
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n  device socket: ${await howClosed(device)}; ` +
        `controller socket: ${await howClosed(controller)}`,
    );
  } finally {
    await device.close();
    await controller.close();
  }
});
