// deno-lint-ignore-file no-explicit-any
/**
 * The relay across processes, as on several server instances: two real server
 * processes (`deno run main.ts`) share one KV file, and the device and the
 * controller of one session connect to different ones. BroadcastChannel does
 * not cross processes, so what arrives was found by the KV poll
 * (`PASSAGE_RELAY_POLL_MS`).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { request } from "./_harness.ts";
import { openSocket, type TestSocket } from "./_socket.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SECRET_LINE = /^sk_test_[0-9A-Za-z]{38}$/;
const LISTENING = /listening on http:\/\/[^\s/]+:(\d+)/;
/** How long a server process may take to start before the test gives up on it. */
const START_DEADLINE_MS = 60_000;

/** A KV file in a fresh temporary folder, removed when disposed. */
async function tempKvFile(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "passage_relay_multiprocess_" });
  return {
    path: `${dir}/passage.kv3`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Creates an API key in the KV file with the keys CLI; returns its secret (the last line). */
async function createKeyWithCli(kvPath: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "lib/keys_cli.ts", "create", "--name", "t"],
    cwd: ROOT,
    env: { NO_COLOR: "1", PASSAGE_KV_PATH: kvPath },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const secret = stdout.trimEnd().split("\n").at(-1)!;
  assert.match(secret, SECRET_LINE);
  return secret;
}

interface ServerProcess extends AsyncDisposable {
  url: string;
  /** Everything the process wrote so far, for failure messages. */
  output(): string;
}

/** Reads a stream to its end into `sink`, calling `onText` with all text so far. */
async function drain(
  stream: ReadableStream<Uint8Array<ArrayBuffer>>,
  sink: { text: string },
  onText: () => void = () => {},
): Promise<void> {
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    sink.text += chunk;
    onText();
  }
}

/** Starts `deno run --allow-all main.ts` on port 0 over `kvPath`; resolves once it listens. */
async function startProcess(kvPath: string): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts"],
    cwd: ROOT,
    env: {
      NO_COLOR: "1",
      PORT: "0",
      PASSAGE_KV_PATH: kvPath,
      PASSAGE_RELAY_POLL_MS: "100",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = { text: "" };
  const stderr = { text: "" };
  const output = () => `stdout:\n${stdout.text}\nstderr:\n${stderr.text}`;
  let listening: (port: number) => void = () => {};
  const port = new Promise<number | null>((resolve) => listening = resolve);
  const drained = Promise.all([
    drain(child.stdout, stdout, () => {
      const m = LISTENING.exec(stdout.text);
      if (m) listening(Number(m[1]));
    }),
    drain(child.stderr, stderr),
  ]).finally(() => listening(0));
  const giveUp = setTimeout(() => child.kill("SIGKILL"), START_DEADLINE_MS);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await drained;
  };
  const found = await port;
  clearTimeout(giveUp);
  if (!found) {
    await stop();
    throw new Error(`the server process did not start:\n${output()}`);
  }
  return {
    // It listens on every interface; the loopback address avoids ::1 vs 127.0.0.1.
    url: `http://127.0.0.1:${found}`,
    output,
    [Symbol.asyncDispose]: stop,
  };
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
): Promise<TestSocket> {
  const controller = await openSocket(wsUrl(serverUrl, `/v1/sessions/${sessionId}/socket`));
  controller.send({ type: "hello", v: 1, apiKey });
  await controller.next((m) => m.type === "welcome");
  return controller;
}

const consoleEvent = (text: string) => ({
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

Deno.test("two server processes sharing one KV file relay commands, results and telemetry through the poll", async () => {
  await using kv = await tempKvFile();
  const apiKey = await createKeyWithCli(kv.path);
  const [a, b] = await Promise.all([startProcess(kv.path), startProcess(kv.path)]);
  await using _a = a;
  await using _b = b;
  const { id, token } = await claimedSession(a.url, apiKey);
  const device = await connectDevice(a.url, token);
  const controller = await connectController(b.url, id, apiKey);
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

    // One at a time: process B appends each command, process A's poll finds it.
    for (const [i, cid] of ["p1", "p2", "p3"].entries()) {
      controller.send({ type: "command", id: cid, name: "url", params: {} });
      await controller.next((m) => m.type === "accepted" && m.id === cid);
      const cmd = await device.next((m) => m.type === "command");
      assert.equal(cmd.id, cid);
      assert.equal(cmd.seq, i + 1);
      answer(cmd);
      assert.equal((await nextEvent()).event?.text, `before ${cid}`);
      assert.equal((await nextEvent()).id, cid);
    }
    // A burst, all accepted before the device answers (one process writes at a time).
    const burst = ["p4", "p5", "p6"];
    for (const cid of burst) controller.send({ type: "command", id: cid, name: "url", params: {} });
    for (const cid of burst) await controller.next((m) => m.type === "accepted" && m.id === cid);
    const received = [];
    for (const _ of burst) received.push(await device.next((m) => m.type === "command"));
    assert.deepEqual(received.map((c) => c.id), burst);
    assert.deepEqual(received.map((c) => c.seq), [4, 5, 6]);
    received.forEach(answer);
    while (seen.length < 12) await nextEvent();

    const all = ["p1", "p2", "p3", ...burst];
    assert.deepEqual(
      seen.map((m) => m.type === "result" ? `result ${m.id}` : m.event.text),
      all.flatMap((cid) => [`before ${cid}`, `result ${cid}`]),
    );
    for (const m of seen.filter((m) => m.type === "result")) {
      assert.deepEqual(m.value, { url: `https://example.test/${m.id}` });
    }
    const seqs = seen.map((m) => m.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), `event seqs have gaps: ${seqs}`);

    // Process A records the disconnection; process B's controller hears of it.
    await device.close();
    const gone = await controller.next((m) => m.type === "session");
    assert.equal(gone.device, "disconnected");
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n--- process A\n${a.output()}\n--- process B\n${b.output()}`,
    );
  } finally {
    await device.close();
    await controller.close();
  }
});

Deno.test("two server processes writing one session's logs at the same moment lose nothing and close no socket", async () => {
  await using kv = await tempKvFile();
  const apiKey = await createKeyWithCli(kv.path);
  const [a, b] = await Promise.all([startProcess(kv.path), startProcess(kv.path)]);
  await using _a = a;
  await using _b = b;
  const { id, token } = await claimedSession(a.url, apiKey);
  const device = await connectDevice(a.url, token);
  const controller = await connectController(b.url, id, apiKey);
  const n = 10;
  try {
    // Process B appends the commands while process A appends the telemetry.
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
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n  device socket: ${await howClosed(device)}; ` +
        `controller socket: ${await howClosed(controller)}` +
        `\n--- process A\n${a.output()}\n--- process B\n${b.output()}`,
    );
  } finally {
    await device.close();
    await controller.close();
  }
});
