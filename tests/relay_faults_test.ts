// deno-lint-ignore-file no-explicit-any
/**
 * Faults across real server processes (`deno run main.ts`) sharing one KV
 * file, as on several instances: the process holding a device is killed
 * without a word, sessions are ended and links cancelled through another
 * process, a process gets SIGINT with clients that never let go, and a
 * webhook deliverer dies mid-send. What must hold: the other processes see it
 * and finish the job, and nobody waits for the minute sweep.
 */
import assert from "node:assert/strict";
import { CLOSE_CODES } from "@passage/connect/protocol";
import { claim, createLinkViaApi, request, startServer } from "./_harness.ts";
import { connectedSession, tempKvFile, wsUrl } from "./_relay_helpers.ts";
import { createKeyWithCli, type ServerProcess, startProcess } from "./_server_process.ts";
import { openSocket } from "./_socket.ts";
import { COMPLETE, startReceiver } from "./_webhooks.ts";
import { addWebhookEvent } from "../lib/webhooks.ts";
import { transitionLink } from "../lib/lifecycle.ts";
import { retryLockedCommits } from "../lib/kv_retry.ts";
import { createServices } from "../lib/services.ts";
import { loadConfig } from "../lib/config.ts";

const LINK = { provider: "tmobile", operations: [{ type: "mobileBillingStatement:read" }] };

/** Runs `run` with `count` processes over one fresh KV file holding a key; failures show their output. */
async function withProcesses(
  count: number,
  env: Record<string, string>,
  run: (processes: ServerProcess[], apiKey: string, kvPath: string) => Promise<void>,
): Promise<void> {
  await using kv = await tempKvFile("passage_relay_faults_");
  const apiKey = await createKeyWithCli(kv.path);
  const processes = await Promise.all(
    Array.from({ length: count }, () => startProcess(kv.path, env)),
  );
  try {
    await run(processes, apiKey, kv.path);
  } catch (err) {
    const outputs = processes.map((p, i) => `--- process ${i}\n${p.output()}`).join("\n");
    throw new Error(`${(err as Error).stack}\n${outputs}`);
  } finally {
    for (const p of processes) await p[Symbol.asyncDispose]();
  }
}

Deno.test("SIGKILL of the device's process: a controller on another process hears the device disconnect and the session ends device_lost", () =>
  withProcesses(2, { PASSAGE_DEVICE_GRACE_SECONDS: "1" }, async ([a, b], apiKey) => {
    const { id, device, controller } = await connectedSession(a.url, b.url, apiKey);
    a.kill("SIGKILL");
    await a.status;
    const gone = await controller.next(
      (m) => m.type === "session" && m.device === "disconnected",
      30_000,
    );
    assert.equal(gone.status, "active");
    const ended = await controller.next(
      (m) => m.type === "session" && m.status === "ended",
      30_000,
    );
    assert.equal(ended.reason, "device_lost");
    assert.equal((await controller.closed).code, CLOSE_CODES.sessionEnded);
    const session = await request(`${b.url}/v1/sessions/${id}`, { apiKey });
    assert.equal(session.body.endReason, "device_lost");
    await device.close();
  }));

Deno.test("ending a session and cancelling a link through another process reach the device with end and 4010", () =>
  withProcesses(2, {}, async ([a, b], apiKey) => {
    // A Sessions API session: device on A, ended through B.
    const { id, token, device, controller } = await connectedSession(a.url, b.url, apiKey);
    const ended = await request(`${b.url}/v1/sessions/${id}/end`, { method: "POST", apiKey });
    assert.equal(ended.status, 200, ended.text);
    assert.equal((await device.next((m) => m.type === "end")).reason, "ended_by_developer");
    assert.equal((await device.closed).code, CLOSE_CODES.sessionEnded);
    await controller.close();
    // Coming back to the ended session, on either process: told `end`, not "invalid token".
    for (const server of [a, b]) {
      const late = await openSocket(wsUrl(server.url, "/v1/device/socket"));
      late.send({ type: "hello", v: 1, token, lastCommandSeq: 0 });
      assert.equal((await late.next((m) => m.type === "end")).reason, "ended_by_developer");
      assert.equal((await late.closed).code, CLOSE_CODES.sessionEnded);
    }

    // A link: created and cancelled through B, its device on A (where its run starts).
    const link = await request(`${b.url}/v1/links`, { method: "POST", json: LINK, apiKey });
    assert.equal(link.status, 201, link.text);
    const claimed = await request(`${a.url}/v1/device/claim`, {
      method: "POST",
      json: { claimCode: link.body.claimCode },
    });
    assert.equal(claimed.status, 200, claimed.text);
    const linkDevice = await openSocket(wsUrl(a.url, "/v1/device/socket"));
    linkDevice.send({ type: "hello", v: 1, token: claimed.body.deviceToken, lastCommandSeq: 0 });
    await linkDevice.next((m) => m.type === "welcome");
    await linkDevice.next((m) => m.type === "command"); // the run is at work on A
    const cancelled = await request(`${b.url}/v1/links/${link.body.id}/cancel`, {
      method: "POST",
      apiKey,
    });
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal((await linkDevice.next((m) => m.type === "end")).reason, "cancelled");
    assert.equal((await linkDevice.closed).code, CLOSE_CODES.sessionEnded);
  }));

/** A raw TCP client that sends `head` and then never reads nor answers anything. */
async function hangingClient(url: string, head: string): Promise<Deno.TcpConn> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  await conn.write(new TextEncoder().encode(head));
  // Wait for the first bytes of the answer (the upgrade, the stream's headers), then go silent.
  await conn.read(new Uint8Array(1));
  return conn;
}

Deno.test("SIGINT with a hanging SSE client and a WebSocket that never says hello exits cleanly in under 5 s", () =>
  withProcesses(1, {}, async ([a], apiKey) => {
    const created = await request(`${a.url}/v1/sessions`, { method: "POST", json: {}, apiKey });
    const host = new URL(a.url).host;
    const sse = await hangingClient(
      a.url,
      `GET /v1/sessions/${created.body.id}/events HTTP/1.1\r\nHost: ${host}\r\n` +
        `Authorization: Bearer ${apiKey}\r\nAccept: text/event-stream\r\n\r\n`,
    );
    const ws = await hangingClient(
      a.url,
      `GET /v1/device/socket HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`,
    );
    try {
      const started = performance.now();
      a.kill("SIGINT");
      const status = await a.status;
      const tookMs = performance.now() - started;
      // Deno Deploy kills 5 s after SIGINT: the process must be gone before, by itself.
      assert.equal(status.signal, null, "the process was killed instead of exiting");
      assert.equal(status.code, 0);
      assert.ok(tookMs < 5_000, `the process took ${Math.round(tookMs)} ms to exit`);
    } finally {
      sse.close();
      ws.close();
    }
  }));

Deno.test("a webhook whose deliverer is SIGKILLed mid-send is sent again by another process, with the same id", async () => {
  await using kvFile = await tempKvFile("passage_relay_faults_");
  const apiKey = await createKeyWithCli(kvFile.path);
  const env = { PASSAGE_WEBHOOK_ALLOW_LOOPBACK: "1", PASSAGE_QUEUES: "off" };
  await using receiver = startReceiver({ replies: ["hang"] });
  const a = await startProcess(kvFile.path, env);
  let b: ServerProcess | null = null;
  try {
    // A link claimed through A whose device never connects: A's engine never
    // starts its run (a run waits for the session's device), so this test
    // finishes it through the lifecycle's door, as the engine would, its event
    // in the same commit. Queues off: the event waits in the outbox for the
    // frequent check of the only running process, A.
    const link = await request(`${a.url}/v1/links`, {
      method: "POST",
      json: { ...LINK, webhookUrl: receiver.url },
      apiKey,
    });
    const claimed = await request(`${a.url}/v1/device/claim`, {
      method: "POST",
      json: { claimCode: link.body.claimCode },
    });
    assert.equal(claimed.status, 200, claimed.text);
    const kv = retryLockedCommits(await Deno.openKv(kvFile.path));
    const svc = createServices(
      kv,
      loadConfig({ PASSAGE_KV_PATH: kvFile.path, PASSAGE_QUEUES: "off" }),
    );
    try {
      await transitionLink(svc, link.body.id, "running", { from: ["claimed"] });
      await transitionLink(svc, link.body.id, "complete", {
        from: ["running"],
        extra: (op, next) => addWebhookEvent(svc, op, next, COMPLETE),
      });
    } finally {
      kv.close();
    }
    const [first] = await receiver.waitFor(1, 30_000);
    b = await startProcess(kvFile.path, env);
    a.kill("SIGKILL");
    await a.status;
    const requests = await receiver.waitFor(2, 30_000);
    assert.equal(requests[1].headers.get("webhook-id"), first.headers.get("webhook-id"));
  } catch (err) {
    throw new Error(`${(err as Error).stack}\n--- A\n${a.output()}\n--- B\n${b?.output()}`);
  } finally {
    await a[Symbol.asyncDispose]();
    await b?.[Symbol.asyncDispose]();
  }
});

Deno.test("a link's run on a SIGKILLed process is taken over by another process while the device stays", () =>
  withProcesses(2, {}, async ([a, b], apiKey) => {
    const link = await request(`${a.url}/v1/links`, { method: "POST", json: LINK, apiKey });
    const claimed = await request(`${a.url}/v1/device/claim`, {
      method: "POST",
      json: { claimCode: link.body.claimCode },
    });
    const hello = (lastCommandSeq: number) => ({
      type: "hello",
      v: 1,
      token: claimed.body.deviceToken,
      lastCommandSeq,
    });
    // The device connects to A, which starts the run; then it moves to B.
    const onA = await openSocket(wsUrl(a.url, "/v1/device/socket"));
    onA.send(hello(0));
    await onA.next((m) => m.type === "welcome");
    const first: any = await onA.next((m) => m.type === "command");
    await onA.close();
    const onB = await openSocket(wsUrl(b.url, "/v1/device/socket"));
    onB.send(hello(first.seq));
    await onB.next((m) => m.type === "welcome");
    // The run is A's; A dies without a word and its lease lapses.
    a.kill("SIGKILL");
    await a.status;
    const again: any = await onB.next((m) => m.type === "command", 30_000);
    assert.notEqual(again.id, first.id, "a new run sends its own commands");
    assert.equal(again.name, first.name, "the new run starts where a run starts");
    const stored = await request(`${b.url}/v1/links/${link.body.id}`, { apiKey });
    assert.equal(stored.body.status, "running");
    await onB.close();
  }));

Deno.test("a device that connects the moment its link is claimed gets its run at once, without a sweep", async () => {
  // In one process with queues on and no sweep at all: the queue's run and the
  // device's kick race for every link, and each run must start anyway. (The
  // interleaving that lost a kick is not forced here, only made likely.)
  await using server = await startServer();
  for (let i = 0; i < 30; i++) {
    const link = await createLinkViaApi(server);
    const claimed = await claim(server, link.claimCode);
    assert.equal(claimed.status, 200, claimed.text);
    // Somewhere inside the queue's dequeue jitter (0 to 100 ms), where its run looks for the device.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 100));
    const device = await openSocket(wsUrl(server.url, "/v1/device/socket"));
    device.send({ type: "hello", v: 1, token: claimed.body.deviceToken, lastCommandSeq: 0 });
    await device.next((m) => m.type === "welcome");
    assert.equal((await device.next((m) => m.type === "command")).seq, 1);
    await device.close();
  }
});
