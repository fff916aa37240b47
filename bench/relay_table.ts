// deno-lint-ignore-file no-explicit-any
/**
 * The relay's benchmark table (`deno task bench`): every figure next to a
 * baseline measured in the same run, as a ratio, with the absolute value for
 * reference. Prints one Markdown table and writes `.data/bench.json`.
 *
 * - round trip (controller → server → device → server → controller) against
 *   a WebSocket echo (client → server → client): in one isolate; across two
 *   Workers that share only a KV file (own handles, no BroadcastChannel: only
 *   `kv.watch` wakes); across two processes on one KV file (the safety net's
 *   poll, the slow path);
 * - throughput, one session and 100 at once, against echo;
 * - 1,000 idle sessions (device and controller connected) in a server
 *   process: memory per session and CPU, against the same process idle;
 * - `GET /v1/links/:id` against a bare `Deno.serve` hello.
 *
 * @module
 */
import { createApiKey } from "../lib/api_keys.ts";
import { startServer } from "../tests/_harness.ts";
import {
  claimedSession,
  connectController,
  connectDevice,
  consoleEvent,
  tempKvFile,
} from "../tests/_relay_helpers.ts";
import { createKeyWithCli, startProcess } from "../tests/_server_process.ts";
import { openSocket, type TestSocket } from "../tests/_socket.ts";
import type { RelayWorkerReply } from "../tests/fixtures/relay_worker.ts";

interface Row {
  figure: string;
  value: number;
  unit: string;
  baseline: string;
  baselineValue: number;
  /** value ÷ baseline (for times and costs: lower is better; for rates: higher). */
  ratio: number;
  target?: string;
}
const rows: Row[] = [];
const add = (row: Omit<Row, "ratio">) =>
  rows.push({ ...row, ratio: row.value / row.baselineValue });

function percentiles(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999) };
}

// ---- baseline: a WebSocket echo in this isolate
const echo = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.onmessage = (e) => socket.send(e.data);
  return response;
});
const echoUrl = `ws://127.0.0.1:${echo.addr.port}/`;

async function echoRoundTrips(n: number): Promise<number[]> {
  const s = await openSocket(echoUrl);
  const out: number[] = [];
  for (let i = 0; i < n + 200; i++) {
    const t = performance.now();
    s.send({ type: "ping", i });
    await s.next((m) => m.i === i);
    if (i >= 200) out.push(performance.now() - t);
  }
  await s.close();
  return out;
}

/** Round trips of one command through a connected device and controller (warm-up first). */
async function relayRoundTrips(device: TestSocket, controller: TestSocket, n: number, warm = 50) {
  let seq = 0;
  const out: number[] = [];
  for (let i = 0; i < n + warm; i++) {
    const id = `r${i}`;
    const t = performance.now();
    controller.send({ type: "command", id, name: "url", params: {} });
    const cmd = await device.next((m) => m.type === "command" && m.id === id, 60_000);
    device.send({
      type: "result",
      seq: ++seq,
      id: cmd.id,
      ok: true,
      value: { url: "https://a.test/" },
    });
    await controller.next((m) => m.type === "result" && m.id === id, 60_000);
    if (i >= warm) out.push(performance.now() - t);
  }
  return out;
}

function roundTripRows(
  name: string,
  samples: number[],
  base: ReturnType<typeof percentiles>,
  targets: Partial<Record<"p50" | "p99" | "p999", string>> = {},
) {
  const p = percentiles(samples);
  for (const q of ["p50", "p99", "p999"] as const) {
    add({
      figure: `round trip ${name} ${q.replace("p999", "p99.9")}`,
      value: p[q] * 1000,
      unit: "µs",
      baseline: `echo ${q.replace("p999", "p99.9")}`,
      baselineValue: base[q] * 1000,
      target: targets[q],
    });
  }
}

const echoSamples = await echoRoundTrips(3000);
const echoP = percentiles(echoSamples);

// ---- one isolate, KV in a file
{
  await using kvFile = await tempKvFile("passage_bench_");
  await using server = await startServer({ kvPath: kvFile.path });
  const { id, token } = await claimedSession(server.url, server.apiKey);
  const device = await connectDevice(server.url, token);
  const controller = await connectController(server.url, id, server.apiKey);
  roundTripRows("in one isolate", await relayRoundTrips(device, controller, 3000), echoP, {
    p50: "≤ 3×",
    p99: "≤ 5×",
  });
  await device.close();
  await controller.close();
}

// ---- two Workers sharing only the KV file: kv.watch wakes, nothing else
async function startWorker(kvPath: string) {
  const worker = new Worker(new URL("../tests/fixtures/relay_worker.ts", import.meta.url), {
    type: "module",
  });
  const replies: RelayWorkerReply[] = [];
  let waiter: (() => void) | null = null;
  worker.onmessage = (e) => (replies.push(e.data), waiter?.());
  const reply = async (type: RelayWorkerReply["type"]) => {
    for (;;) {
      const r = replies.shift();
      if (r?.type === "failed") throw new Error(r.message);
      if (r?.type === type) return r as any;
      if (!r) await new Promise<void>((resolve) => waiter = resolve);
    }
  };
  worker.postMessage({ type: "start", kvPath, relayPollMs: 600_000, busName: null, watch: true });
  const { url } = await reply("ready");
  return {
    url: url as string,
    async close() {
      worker.postMessage({ type: "close" });
      await reply("closed");
      worker.terminate();
    },
  };
}
{
  await using kvFile = await tempKvFile("passage_bench_workers_");
  const kv = await Deno.openKv(kvFile.path);
  const apiKey = (await createApiKey(kv, { name: "bench", mode: "test" })).secret;
  kv.close();
  const a = await startWorker(kvFile.path);
  const b = await startWorker(kvFile.path);
  const { id, token } = await claimedSession(a.url, apiKey);
  const device = await connectDevice(a.url, token);
  const controller = await connectController(b.url, id, apiKey);
  roundTripRows(
    "across two isolates sharing only KV (kv.watch)",
    await relayRoundTrips(device, controller, 1000),
    echoP,
    { p50: "< 10 ms", p99: "< 50 ms" },
  );
  await device.close();
  await controller.close();
  await a.close();
  await b.close();
}

// ---- two processes on one KV file: only the safety net's poll crosses
const CROSS_POLL_MS = 250;
{
  await using kvFile = await tempKvFile("passage_bench_processes_");
  const apiKey = await createKeyWithCli(kvFile.path);
  const env = { PASSAGE_RELAY_POLL_MS: String(CROSS_POLL_MS) };
  const [a, b] = await Promise.all([
    startProcess(kvFile.path, env),
    startProcess(kvFile.path, env),
  ]);
  const { id, token } = await claimedSession(a.url, apiKey);
  const device = await connectDevice(a.url, token);
  const controller = await connectController(b.url, id, apiKey);
  roundTripRows(
    `across two processes on one KV file (poll ${CROSS_POLL_MS} ms)`,
    await relayRoundTrips(device, controller, 40, 3),
    echoP,
  );
  await device.close();
  await controller.close();
  await a[Symbol.asyncDispose]();
  await b[Symbol.asyncDispose]();
}

// ---- throughput: pipelined commands against pipelined echoes
async function echoThroughput(sockets: number, each: number): Promise<number> {
  const all = await Promise.all(Array.from({ length: sockets }, () => openSocket(echoUrl)));
  const t = performance.now();
  await Promise.all(all.map(async (s) => {
    for (let i = 0; i < each; i++) s.send({ i });
    await s.next((m) => m.i === each - 1, 120_000);
  }));
  const rate = (sockets * each) / ((performance.now() - t) / 1000);
  await Promise.all(all.map((s) => s.close()));
  return rate;
}

async function relayThroughput(
  server: { url: string; apiKey: string },
  sessions: number,
  each: number,
): Promise<number> {
  const pairs = [];
  for (let i = 0; i < sessions; i++) {
    const { id, token } = await claimedSession(server.url, server.apiKey);
    pairs.push({
      device: await connectDevice(server.url, token),
      controller: await connectController(server.url, id, server.apiKey),
    });
  }
  const t = performance.now();
  await Promise.all(pairs.map(async ({ device, controller }) => {
    let seq = 0;
    const answering = (async () => {
      for (let i = 0; i < each; i++) {
        const cmd = await device.next((m) => m.type === "command", 120_000);
        device.send({ type: "result", seq: ++seq, id: cmd.id, ok: true, value: { url: "u" } });
      }
    })();
    for (let i = 0; i < each; i++) {
      controller.send({ type: "command", id: `t${i}`, name: "url", params: {} });
    }
    await answering;
    await controller.next((m) => m.type === "result" && m.id === `t${each - 1}`, 120_000);
  }));
  const rate = (sessions * each) / ((performance.now() - t) / 1000);
  for (const { device, controller } of pairs) {
    await device.close();
    await controller.close();
  }
  return rate;
}
{
  await using kvFile = await tempKvFile("passage_bench_throughput_");
  await using server = await startServer({ kvPath: kvFile.path });
  const echoOne = await echoThroughput(1, 5000);
  add({
    figure: "throughput, one session",
    value: await relayThroughput(server, 1, 2000),
    unit: "commands/s",
    baseline: "echo, one socket",
    baselineValue: echoOne,
  });
  const echoMany = await echoThroughput(100, 200);
  add({
    figure: "throughput, 100 sessions at once",
    value: await relayThroughput(server, 100, 20),
    unit: "commands/s",
    baseline: "echo, 100 sockets",
    baselineValue: echoMany,
    target: "≥ 0.3×",
  });
}

// ---- GET /v1/links/:id against a bare hello
async function requestsPerSecond(url: string, init: RequestInit, ms = 3000, concurrency = 16) {
  let count = 0;
  const until = performance.now() + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      const res = await fetch(url, init);
      await res.arrayBuffer();
      count++;
    }
  }));
  return count / (ms / 1000);
}
{
  await using server = await startServer();
  const link = await server.api("/v1/links", {
    method: "POST",
    json: { provider: "tmobile", operations: [{ type: "mobileBillingStatement:read" }] },
  });
  const hello = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("hello"),
  );
  const bare = await requestsPerSecond(`http://127.0.0.1:${hello.addr.port}/`, {});
  const links = await requestsPerSecond(`${server.url}/v1/links/${link.body.id}`, {
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  add({
    figure: "GET /v1/links/:id",
    value: links,
    unit: "requests/s",
    baseline: "bare Deno.serve hello",
    baselineValue: bare,
    target: "≥ 0.3×",
  });
  await hello.shutdown();
}

// ---- 1,000 idle sessions in a server process: its CPU and memory
const IDLE = Number(Deno.env.get("BENCH_IDLE_SESSIONS") ?? 1000);
const WINDOW_MS = 10_000;
/** CPU seconds (user + system) and resident bytes of process `pid`. */
async function processUsage(pid: number) {
  const stat = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1].split(" ");
  const ticks = Number(stat[11]) + Number(stat[12]);
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
  return { cpu: ticks / 100, rss };
}
async function cpuOver(pid: number, ms: number) {
  const before = await processUsage(pid);
  await new Promise((r) => setTimeout(r, ms));
  return ((await processUsage(pid)).cpu - before.cpu) / (ms / 1000);
}
{
  await using kvFile = await tempKvFile("passage_bench_idle_");
  const apiKey = await createKeyWithCli(kvFile.path);
  const server = await startProcess(kvFile.path, { PASSAGE_RELAY_POLL_MS: "5000" });
  // The server's pid: the newest `deno run … main.ts` child of this process.
  const ps = new TextDecoder().decode(
    (await new Deno.Command("ps", { args: ["-o", "pid=,args=", "--ppid", String(Deno.pid)] })
      .output()).stdout,
  );
  const serverPid = Number(
    ps.trim().split("\n").filter((l) => l.includes("main.ts")).at(-1)!.trim().split(/\s+/)[0],
  );
  await new Promise((r) => setTimeout(r, 2000));
  const idleCpu = await cpuOver(serverPid, WINDOW_MS);
  const idleRss = (await processUsage(serverPid)).rss;
  const sockets: TestSocket[] = [];
  for (let i = 0; i < IDLE; i++) {
    const { id, token } = await claimedSession(server.url, apiKey);
    sockets.push(await connectDevice(server.url, token));
    sockets.push(await connectController(server.url, id, apiKey));
  }
  await new Promise((r) => setTimeout(r, 3000));
  const busyCpu = await cpuOver(serverPid, WINDOW_MS);
  const rss = (await processUsage(serverPid)).rss;
  add({
    figure: `CPU of ${IDLE} idle sessions (share of one core)`,
    value: busyCpu * 100,
    unit: "% of a core",
    baseline: "the same process with no session",
    baselineValue: idleCpu * 100,
    target: "< 5% of a core",
  });
  add({
    figure: `memory per idle session, at ${IDLE}`,
    value: (rss - idleRss) / IDLE / 1024,
    unit: "KiB (RSS)",
    baseline: "the idle process's RSS",
    baselineValue: idleRss / 1024,
  });
  // The telemetry still flows after all that idling (a sanity check, not a figure).
  sockets[0].send({ type: "telemetry", seq: 1, event: consoleEvent("still there") });
  await sockets[1].next((m) => m.type === "telemetry");
  for (const s of sockets) s.ws.close();
  await server[Symbol.asyncDispose]();
}

await echo.shutdown();

// ---- the table
const fmt = (n: number) =>
  n >= 100 ? Math.round(n).toLocaleString("en-US") : n >= 10 ? n.toFixed(1) : n.toFixed(2);
const lines = [
  "| figure | value | baseline (same run) | ratio | target |",
  "| --- | --- | --- | --- | --- |",
  ...rows.map((r) =>
    `| ${r.figure} | ${fmt(r.value)} ${r.unit} | ${r.baseline}: ${fmt(r.baselineValue)} | ${
      fmt(r.ratio)
    }× | ${r.target ?? ""} |`
  ),
];
console.log(lines.join("\n"));
await Deno.mkdir(".data", { recursive: true });
await Deno.writeTextFile(
  ".data/bench.json",
  JSON.stringify({ at: new Date().toISOString(), rows }, null, 2) + "\n",
);
Deno.exit(0);
