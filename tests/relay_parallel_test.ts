// deno-lint-ignore-file no-explicit-any
/**
 * The relay under `deno serve --parallel` (`serve.ts`): one process, two
 * isolates, one KV file. The safety net's poll is set to ten minutes, so what
 * arrives between a device and a controller that landed on different workers
 * was carried by the wake-ups (BroadcastChannel, kv.watch), not by a poll.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  claimedSession,
  connectController,
  connectDevice,
  consoleEvent,
  tempKvFile,
} from "./_relay_helpers.ts";
import { createKeyWithCli } from "./_server_process.ts";
import type { TestSocket } from "./_socket.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** A free loopback port (there is a small race until the server binds it). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("under deno serve --parallel, a device and a controller on different workers relay", async () => {
  await using kv = await tempKvFile("passage_relay_parallel_");
  const apiKey = await createKeyWithCli(kv.path);
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "--allow-all",
      "--parallel",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "tests/fixtures/parallel_serve.ts",
    ],
    cwd: ROOT,
    env: {
      NO_COLOR: "1",
      DENO_JOBS: "2",
      PASSAGE_KV_PATH: kv.path,
      PASSAGE_RELAY_POLL_MS: "600000",
      PASSAGE_PUBLIC_URL: `http://127.0.0.1:${port}`,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let changed: () => void = () => {};
  const drained = Promise.all([
    (async () => {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        out += chunk;
        changed();
      }
    })(),
    child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => (out += chunk, changed()) }),
    ),
  ]);
  /** Waits (at most 30 s) until the output matches `pattern` `count` times; answers the matches. */
  const lines = async (pattern: RegExp, count: number) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = [...out.matchAll(pattern)];
      if (found.length >= count) return found;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const status = await Promise.race([
        new Promise<null>((resolve) => changed = () => resolve(null)),
        new Promise<"late">((resolve) =>
          timer = setTimeout(resolve, deadline - Date.now(), "late")
        ),
        child.status,
      ]).finally(() => clearTimeout(timer));
      if (status === "late") throw new Error(`no ${pattern} ×${count} within 30 s`);
      if (status) throw new Error("deno serve exited");
    }
  };
  const sockets: TestSocket[] = [];
  try {
    await lines(/Listening on/g, 1);
    const url = `http://127.0.0.1:${port}`;
    const upgrades = /isolate (\w+) /g;
    // Connections are spread over the workers by the OS: try sessions until a
    // device and its controller land apart (each try is a coin toss).
    let apart: { device: TestSocket; controller: TestSocket } | null = null;
    let isolates = new Set<string>();
    for (let i = 0; i < 30 && !apart; i++) {
      const { id, token } = await claimedSession(url, apiKey);
      const device = await connectDevice(url, token);
      const deviceOn = (await lines(upgrades, sockets.length + 1)).at(-1)![1];
      sockets.push(device);
      const controller = await connectController(url, id, apiKey);
      const controllerOn = (await lines(upgrades, sockets.length + 1)).at(-1)![1];
      sockets.push(controller);
      isolates = new Set([...isolates, deviceOn, controllerOn]);
      if (deviceOn !== controllerOn) apart = { device, controller };
    }
    assert.ok(apart, `every device landed with its controller (isolates seen: ${[...isolates]})`);
    const { device, controller } = apart;
    for (let i = 1; i <= 5; i++) {
      controller.send({ type: "command", id: `p${i}`, name: "url", params: {} });
      const cmd: any = await device.next((m) => m.type === "command");
      assert.equal(cmd.id, `p${i}`);
      assert.equal(cmd.seq, i);
      device.send({ type: "telemetry", seq: 2 * i - 1, event: consoleEvent(`t${i}`) });
      device.send({ type: "result", seq: 2 * i, id: cmd.id, ok: true, value: { url: `u${i}` } });
      const telemetry: any = await controller.next((m) => m.type === "telemetry");
      assert.equal(telemetry.event.text, `t${i}`);
      const result: any = await controller.next((m) => m.type === "result");
      assert.deepEqual([result.id, result.value], [`p${i}`, { url: `u${i}` }]);
      assert.equal(result.seq, telemetry.seq + 1);
    }
  } catch (err) {
    throw new Error(`${(err as Error).stack}\n--- deno serve\n${out}`);
  } finally {
    for (const socket of sockets) await socket.close();
    child.kill("SIGINT"); // `deno serve --parallel` stops on SIGINT (not on SIGTERM)
    await child.status;
    await drained;
  }
});
