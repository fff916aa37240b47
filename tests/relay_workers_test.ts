// deno-lint-ignore-file no-explicit-any
/**
 * The relay across isolates: two Workers of this process each serve the real
 * app over the same KV file (each with its own KV handle), and the device and
 * the controller of one session connect to different Workers. The safety net's
 * poll is set to ten minutes, so anything that arrives in time was woken by the
 * `BroadcastChannel` bus (with `kv.watch` off) or by `kv.watch` alone (with no
 * channel in common, as two Deno Deploy instances); a control with neither
 * shows that nothing arrives without them.
 */
import assert from "node:assert/strict";
import { createApiKey } from "../lib/api_keys.ts";
import {
  connectController,
  connectedSession,
  consoleEvent,
  relayAcross,
  tempKvFile,
  writeConcurrently,
  wsUrl,
} from "./_relay_helpers.ts";
import { openSocket, type TestSocket } from "./_socket.ts";
import type { RelayWorkerReply, RelayWorkerRequest } from "./fixtures/relay_worker.ts";

/** Long enough that no poll fires during a test: only bus wake-ups deliver. */
const NO_POLL_MS = 600_000;

interface RelayWorker extends AsyncDisposable {
  url: string;
}

/** How a Worker's relay is woken by the other's appends. */
interface Wiring {
  /** Its BroadcastChannel (the default one if omitted; null for none). */
  busName?: string | null;
  /** Whether `kv.watch` wakes it. */
  watch: boolean;
}

/** A Worker serving the app over `kvPath`, wired as `wiring` says. */
async function startWorker(kvPath: string, wiring: Wiring): Promise<RelayWorker> {
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
  post({ type: "start", kvPath, relayPollMs: NO_POLL_MS, ...wiring });
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

/** Creates a test API key in the KV file from this (the main) isolate. */
async function createKeyIn(kvPath: string): Promise<string> {
  const kv = await Deno.openKv(kvPath);
  try {
    return (await createApiKey(kv, { name: "workers", mode: "test" })).secret;
  } finally {
    kv.close();
  }
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

/** Two Workers wired as `wiring` over one fresh KV file with a key in it; `run` gets their URLs and the key. */
async function acrossTwoWorkers(
  wiring: (worker: "a" | "b") => Wiring,
  run: (a: string, b: string, apiKey: string) => Promise<void>,
): Promise<void> {
  await using kv = await tempKvFile("passage_relay_workers_");
  const apiKey = await createKeyIn(kv.path);
  await using a = await startWorker(kv.path, wiring("a"));
  await using b = await startWorker(kv.path, wiring("b"));
  await run(a.url, b.url, apiKey);
}

/**
 * Both on one BroadcastChannel of their own, no watch (test modules run in one process, so
 * the default name would carry every other test server's wake-ups too).
 */
const channel = `passage-relay-workers-${crypto.randomUUID()}`;
const broadcastOnly = (): Wiring => ({ busName: channel, watch: false });
/** No channel in common (each only hears itself), only `kv.watch`: two Deploy instances. */
const watchOnly = (): Wiring => ({ busName: null, watch: true });

Deno.test("two sockets of one session in two Workers relay correctly through BroadcastChannel", () =>
  acrossTwoWorkers(broadcastOnly, async (a, b, apiKey) => {
    // Device on A, controller on B; then the converse.
    await relayAcross(a, b, apiKey);
    await relayAcross(b, a, apiKey);
  }));

Deno.test("two Workers that share only KV (no channel, no poll in reach) relay through kv.watch", () =>
  acrossTwoWorkers(watchOnly, async (a, b, apiKey) => {
    await relayAcross(a, b, apiKey);
    await relayAcross(b, a, apiKey);
  }));

Deno.test("with no channel in common, no watch and no poll in reach, nothing crosses: the wake-ups are what deliver", async () => {
  await using kv = await tempKvFile("passage_relay_workers_");
  const apiKey = await createKeyIn(kv.path);
  await using a = await startWorker(kv.path, { busName: null, watch: false });
  await using b = await startWorker(kv.path, { busName: null, watch: false });
  const { id, token, device, controller } = await connectedSession(a.url, b.url, apiKey);

  controller.send({ type: "command", id: "stranded", name: "url", params: {} });
  await controller.next((m) => m.type === "accepted" && m.id === "stranded");
  device.send({ type: "telemetry", seq: 1, event: consoleEvent("stranded too") });
  await device.next((m) => m.type === "ack" && m.seq === 1);

  // Both are in KV now. The one bounded wait for an absence in this suite:
  // with no wake-up crossing, neither tail is woken within the window.
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

// Worker B appends the commands while Worker A appends the telemetry and results.
Deno.test("two Workers writing one session's logs at the same moment lose nothing and close no socket", () =>
  acrossTwoWorkers(broadcastOnly, writeConcurrently));

Deno.test("two Workers that share only KV, writing one session's logs at the same moment, lose nothing", () =>
  acrossTwoWorkers(watchOnly, writeConcurrently));
