// deno-lint-ignore-file no-explicit-any
/**
 * Relay test helpers over real servers reached by URL: a session claimed
 * through the API, its device and controller sockets (on the same server or on
 * two that share one KV), and the relay scenarios that the multi-process and
 * multi-Worker tests both run.
 */
import assert from "node:assert/strict";
import { request } from "./_harness.ts";
import { openSocket, type TestSocket } from "./_socket.ts";

/** A KV file in a fresh temporary folder (named from `prefix`), removed when disposed. */
export async function tempKvFile(prefix: string): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix });
  return {
    path: `${dir}/passage.kv3`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** The WebSocket URL of `path` on the server at `serverUrl`. */
export const wsUrl = (serverUrl: string, path: string) => serverUrl.replace(/^http/, "ws") + path;

/** Creates a session with `apiKey` and claims its code (with no key); returns its id and device token. */
export async function claimedSession(serverUrl: string, apiKey: string) {
  const created = await request(`${serverUrl}/v1/sessions`, { method: "POST", json: {}, apiKey });
  assert.equal(created.status, 201, created.text);
  const claimed = await request(`${serverUrl}/v1/device/claim`, {
    method: "POST",
    json: { claimCode: created.body.claimCode },
  });
  assert.equal(claimed.status, 200, claimed.text);
  return { id: created.body.id as string, token: claimed.body.deviceToken as string };
}

/** The device's socket, welcomed. */
export async function connectDevice(serverUrl: string, token: string): Promise<TestSocket> {
  const device = await openSocket(wsUrl(serverUrl, "/v1/device/socket"));
  device.send({ type: "hello", v: 1, token, lastCommandSeq: 0 });
  await device.next((m) => m.type === "welcome");
  return device;
}

/** A controller's socket, welcomed; with `after`, it replays the events after that seq. */
export async function connectController(
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

/** A claimed session with its device connected to `deviceServer` and a controller to `controllerServer`. */
export async function connectedSession(
  deviceServer: string,
  controllerServer: string,
  apiKey: string,
) {
  const { id, token } = await claimedSession(deviceServer, apiKey);
  const device = await connectDevice(deviceServer, token);
  const controller = await connectController(controllerServer, id, apiKey);
  return { id, token, device, controller };
}

/** A console telemetry event saying `text`. */
export const consoleEvent = (text: string) => ({
  kind: "console",
  at: new Date().toISOString(),
  level: "log",
  text,
});

/** How a socket ended, for failure messages ("open" while it is not closed). */
async function howClosed(socket: TestSocket): Promise<string> {
  if (socket.ws.readyState !== WebSocket.CLOSED) return "open";
  const e = await socket.closed;
  return `closed ${e.code} "${e.reason}"`;
}

/**
 * Device on `deviceServer`, controller on `controllerServer`: commands one at a
 * time (each needs a fresh delivery in both directions), then a burst; every
 * result and telemetry event must reach the controller, in order, numbered
 * without gaps, and so must the device's disconnection. The two servers never
 * write at the same moment here (`writeConcurrently` does).
 */
export async function relayAcross(deviceServer: string, controllerServer: string, apiKey: string) {
  const { device, controller } = await connectedSession(deviceServer, controllerServer, apiKey);
  try {
    let deviceSeq = 0;
    const answer = (cmd: any) => {
      device.send({
        type: "telemetry",
        seq: ++deviceSeq,
        event: consoleEvent(`before ${cmd.id}`),
      });
      device.send({
        type: "result",
        seq: ++deviceSeq,
        id: cmd.id,
        ok: true,
        value: { url: `https://example.test/${cmd.id}` },
      });
    };
    const seen: any[] = [];
    const nextEvent = async () => {
      const m = await controller.next((m) => m.type === "result" || m.type === "telemetry");
      seen.push(m);
      return m;
    };

    // One at a time: the tails are idle in between, so each step needs a fresh delivery.
    for (const [i, cid] of ["c1", "c2", "c3"].entries()) {
      controller.send({ type: "command", id: cid, name: "url", params: {} });
      await controller.next((m) => m.type === "accepted" && m.id === cid);
      const cmd = await device.next((m) => m.type === "command");
      assert.equal(cmd.id, cid);
      assert.equal(cmd.seq, i + 1);
      answer(cmd);
      assert.equal((await nextEvent()).event?.text, `before ${cid}`);
      assert.equal((await nextEvent()).id, cid);
    }

    // A burst: all sent and accepted before the device answers, then all answered back to back.
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

    // The device's server records the disconnection; the controller's hears of it.
    await device.close();
    const gone = await controller.next((m) => m.type === "session");
    assert.equal(gone.device, "disconnected");
    assert.equal(gone.seq, seqs.at(-1)! + 1);
  } finally {
    await device.close();
    await controller.close();
  }
}

/**
 * Device on `deviceServer`, controller on `controllerServer`, both writing the
 * session's logs at the same moment: the controller's server appends commands
 * while the device's appends telemetry, then results. Nothing may be lost and
 * no socket closed; a failure says how each socket ended.
 */
export async function writeConcurrently(
  deviceServer: string,
  controllerServer: string,
  apiKey: string,
) {
  const { device, controller } = await connectedSession(deviceServer, controllerServer, apiKey);
  const n = 10;
  try {
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
}
