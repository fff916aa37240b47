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
 * - `GET /v1/links/:id` against a bare `Deno.serve` hello;
 * - `innerHTML` through Passage (SDK → server → reference device → Chromium)
 *   against `page.$eval` on the same page of the same Chromium;
 * - a Connect link (sandbox, scripted user) by phase, against the same
 *   sandbox pages loaded and read with puppeteer directly.
 *
 * @module
 */
import { Passage, verifyWebhook } from "@passage/connect";
import type { Browser } from "puppeteer-core";
import { launchChromium, startDevice } from "../device/mod.ts";
import { createApiKey } from "../lib/api_keys.ts";
import { loadConfig } from "../lib/config.ts";
import { startServer } from "../tests/_harness.ts";
import {
  claimedSession,
  connectController,
  connectDevice,
  consoleEvent,
  tempKvFile,
} from "../tests/_relay_helpers.ts";
import { createKeyWithCli, startProcess } from "../tests/_server_process.ts";
import { submitCode, submitPassword, Turns } from "../tests/_human.ts";
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
const add = (row: Omit<Row, "ratio">) => {
  const full = { ...row, ratio: row.value / row.baselineValue };
  rows.push(full);
  // As it comes, so a section that fails later loses nothing measured before it.
  console.error(`${full.figure}: ${full.value} ${full.unit} (${full.ratio}× ${full.baseline})`);
};

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

/**
 * `BENCH_ONLY=a,b` runs only those sections (names below); the default runs all.
 * Sections: isolate, workers, processes, parallel, throughput, links, load, idle, innerhtml,
 * connect.
 */
const only = Deno.env.get("BENCH_ONLY")?.split(",");
const want = (section: string) => !only || only.includes(section);

const echoSamples = await echoRoundTrips(3000);
const echoP = percentiles(echoSamples);

// ---- one isolate, KV in a file
if (want("isolate")) {
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
if (want("workers")) {
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
if (want("processes")) {
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

// ---- across `deno serve --parallel` workers (serve.ts): BroadcastChannel and kv.watch cross
/** A free loopback port (there is a small race until the server binds it). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
if (want("parallel")) {
  await using kvFile = await tempKvFile("passage_bench_parallel_");
  const apiKey = await createKeyWithCli(kvFile.path);
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
    env: {
      NO_COLOR: "1",
      DENO_JOBS: "2",
      PASSAGE_KV_PATH: kvFile.path,
      PASSAGE_RELAY_POLL_MS: "600000",
      PASSAGE_PUBLIC_URL: `http://127.0.0.1:${port}`,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // The workers' lines come on stderr, `deno serve`'s own on stdout.
  let out = "";
  const drained = Promise.all([child.stdout, child.stderr].map(async (stream) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) out += chunk;
  }));
  const lineCount = async (pattern: RegExp, count: number) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = [...out.matchAll(pattern)];
      if (found.length >= count) return found;
      if (Date.now() > deadline) throw new Error(`no ${pattern} ×${count}:\n${out}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await lineCount(/Listening on/g, 1);
  const url = `http://127.0.0.1:${port}`;
  const sockets: TestSocket[] = [];
  let apart: { device: TestSocket; controller: TestSocket } | null = null;
  for (let i = 0; i < 30 && !apart; i++) {
    const { id, token } = await claimedSession(url, apiKey);
    const device = await connectDevice(url, token);
    sockets.push(device);
    const deviceOn = (await lineCount(/isolate (\w+) /g, sockets.length)).at(-1)![1];
    const controller = await connectController(url, id, apiKey);
    sockets.push(controller);
    const controllerOn = (await lineCount(/isolate (\w+) /g, sockets.length)).at(-1)![1];
    if (deviceOn !== controllerOn) apart = { device, controller };
  }
  if (!apart) throw new Error("every device landed with its controller");
  roundTripRows(
    "across deno serve --parallel workers (BroadcastChannel)",
    await relayRoundTrips(apart.device, apart.controller, 1000),
    echoP,
    { p50: "≤ 5×" },
  );
  for (const s of sockets) await s.close();
  child.kill("SIGINT");
  await child.status;
  await drained;
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

async function connectedPairs(server: { url: string; apiKey: string }, sessions: number) {
  const pairs = [];
  for (let i = 0; i < sessions; i++) {
    const { id, token } = await claimedSession(server.url, server.apiKey);
    pairs.push({
      device: await connectDevice(server.url, token),
      controller: await connectController(server.url, id, server.apiKey),
      seq: 0,
    });
  }
  return pairs;
}

async function relayThroughput(
  pairs: Array<{ device: TestSocket; controller: TestSocket; seq: number }>,
  each: number,
  tag: string,
): Promise<number> {
  const t = performance.now();
  await Promise.all(pairs.map(async (pair) => {
    const { device, controller } = pair;
    const answering = (async () => {
      for (let i = 0; i < each; i++) {
        const cmd = await device.next((m) => m.type === "command", 120_000);
        device.send({
          type: "result",
          seq: ++pair.seq,
          id: cmd.id,
          ok: true,
          value: { url: "u" },
        });
      }
    })();
    for (let i = 0; i < each; i++) {
      controller.send({ type: "command", id: `${tag}${i}`, name: "url", params: {} });
    }
    await answering;
    await controller.next((m) => m.type === "result" && m.id === `${tag}${each - 1}`, 120_000);
  }));
  return (pairs.length * each) / ((performance.now() - t) / 1000);
}
if (want("throughput")) {
  await using kvFile = await tempKvFile("passage_bench_throughput_");
  await using server = await startServer({ kvPath: kvFile.path });
  const commits = server.relay.log.commits;
  const echoOne = await echoThroughput(1, 5000);
  const one = await connectedPairs(server, 1);
  add({
    figure: "throughput, one session",
    value: await relayThroughput(one, 2000, "o"),
    unit: "commands/s",
    baseline: "echo, one socket",
    baselineValue: echoOne,
  });
  const echoMany = await echoThroughput(100, 200);
  const many = await connectedPairs(server, 100);
  commits.enabled = false;
  add({
    figure: "throughput, 100 sessions at once, before: one commit per append",
    value: await relayThroughput(many, 20, "b"),
    unit: "commands/s",
    baseline: "echo, 100 sockets",
    baselineValue: echoMany,
    target: "≥ 0.3×",
  });
  commits.enabled = true;
  const before = { ...commits.stats };
  add({
    figure: "throughput, 100 sessions at once, after: group commit",
    value: await relayThroughput(many, 20, "a"),
    unit: "commands/s",
    baseline: "echo, 100 sockets",
    baselineValue: echoMany,
    target: "≥ 0.3×",
  });
  const appendsPerCommit = (commits.stats.appends - before.appends) /
    (commits.stats.commits - before.commits);
  add({
    figure: "appends per KV commit, 100 sessions at once (group commit)",
    value: appendsPerCommit,
    unit: "appends",
    baseline: "one per commit before",
    baselineValue: 1,
  });
  for (const { device, controller } of [...one, ...many]) {
    await device.close();
    await controller.close();
  }
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
if (want("links")) {
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

// ---- server processes: idle sessions (CPU, memory), and 1,000 sessions under a steady load
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
/** A `main.ts` process on a fresh KV file with the default safety net, its pid and a key. */
async function serverProcess(name: string) {
  const kvFile = await tempKvFile(`passage_bench_${name}_`);
  const apiKey = await createKeyWithCli(kvFile.path);
  const pollMs = loadConfig({ PASSAGE_KV_PATH: ":memory:" }).relayPollMs;
  const server = await startProcess(kvFile.path, {
    PASSAGE_RELAY_POLL_MS: String(pollMs),
    // Setting up 10,000 sessions takes minutes: none may idle out meanwhile.
    PASSAGE_SESSION_IDLE_SECONDS: "3600",
  });
  // The server's pid: the newest `deno run … main.ts` child of this process.
  const ps = new TextDecoder().decode(
    (await new Deno.Command("ps", { args: ["-o", "pid=,args=", "--ppid", String(Deno.pid)] })
      .output()).stdout,
  );
  const pid = Number(
    ps.trim().split("\n").filter((l) => l.includes("main.ts")).at(-1)!.trim().split(/\s+/)[0],
  );
  return {
    url: server.url,
    apiKey,
    pid,
    pollMs,
    async close() {
      await server[Symbol.asyncDispose]();
      await kvFile[Symbol.asyncDispose]();
    },
  };
}
const WINDOW_MS = 10_000;
/** Sessions set up at once (each: create, claim, device socket, controller socket). */
const SETUP_CONCURRENCY = 64;
/** `count` idle sessions on `server`, each with its device and controller sockets welcomed. */
async function idleSessions(server: { url: string; apiKey: string }, count: number) {
  const sockets: TestSocket[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: SETUP_CONCURRENCY }, async () => {
    while (next < count) {
      next++;
      const { id, token } = await claimedSession(server.url, server.apiKey);
      const [device, controller] = await Promise.all([
        connectDevice(server.url, token),
        connectController(server.url, id, server.apiKey),
      ]);
      sockets.push(device, controller);
    }
  }));
  return sockets;
}
/**
 * 10,000 sessions are 20,000 sockets in the server and as many here: more
 * than the usual limit of open files. Raised for this process (and so the
 * server it starts) when it may be; otherwise the sizes that do not fit are
 * skipped, and say so.
 */
async function raiseOpenFiles(wanted: number): Promise<number> {
  const limit = async () => {
    const text = await Deno.readTextFile(`/proc/${Deno.pid}/limits`);
    return Number(/Max open files\s+(\d+)/.exec(text)![1]);
  };
  if (await limit() >= wanted) return await limit();
  await new Deno.Command("prlimit", {
    args: ["--pid", String(Deno.pid), `--nofile=${wanted}:${wanted}`],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => {});
  return await limit();
}
const IDLE_COUNTS = (Deno.env.get("BENCH_IDLE_SESSIONS") ?? "1000,10000").split(",").map(Number);
if (want("idle")) {
  const openFiles = await raiseOpenFiles(65_536);
  for (const asked of IDLE_COUNTS) {
    // two sockets a session, in the server and here, and a margin for the rest
    const idle = Math.min(asked, Math.floor((openFiles - 1000) / 2 / 100) * 100);
    if (idle < asked) {
      console.error(`${asked} idle sessions do not fit in ${openFiles} open files: ${idle}`);
    }
    const server = await serverProcess("idle");
    await new Promise((r) => setTimeout(r, 2000));
    const idleCpu = await cpuOver(server.pid, WINDOW_MS);
    const idleRss = (await processUsage(server.pid)).rss;
    const setupStarted = performance.now();
    const sockets = await idleSessions(server, idle);
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    console.error(`${idle} idle sessions set up in ${setupSeconds.toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 3000));
    // Over at least two of the safety net's ticks.
    const busyCpu = await cpuOver(server.pid, Math.max(WINDOW_MS, 2 * server.pollMs));
    const rss = (await processUsage(server.pid)).rss;
    add({
      figure: `CPU of ${idle.toLocaleString("en-US")} idle sessions (safety net every ${
        server.pollMs / 1000
      } s)`,
      value: busyCpu * 100,
      unit: "% of a core",
      baseline: "the same process with no session",
      baselineValue: idleCpu * 100,
      target: asked === 1000 ? "< 5% of a core" : undefined,
    });
    add({
      figure: `memory per idle session, at ${idle.toLocaleString("en-US")}`,
      value: (rss - idleRss) / idle / 1024,
      unit: "KiB (RSS)",
      baseline: "the idle process's RSS",
      baselineValue: idleRss / 1024,
      target: asked === 10_000 ? "10,000 in < 1 GiB (≤ 105 KiB each)" : undefined,
    });
    add({
      figure: `RSS of the process with ${idle.toLocaleString("en-US")} idle sessions`,
      value: rss / 1024 / 1024,
      unit: "MiB",
      baseline: "the idle process",
      baselineValue: idleRss / 1024 / 1024,
      target: asked === 10_000 ? "< 1,024 MiB at 10,000" : undefined,
    });
    add({
      figure: `setup of ${
        idle.toLocaleString("en-US")
      } idle sessions (claim + 2 sockets each, ${SETUP_CONCURRENCY} at a time)`,
      value: setupSeconds,
      unit: "s",
      baseline: `no baseline (${(idle / setupSeconds).toFixed(0)} sessions/s)`,
      baselineValue: NaN,
    });
    // The telemetry still flows after all that idling (a sanity check, not a figure).
    sockets.at(-2)!.send({ type: "telemetry", seq: 1, event: consoleEvent("still there") });
    await sockets.at(-1)!.next((m) => m.type === "telemetry");
    for (const s of sockets) s.ws.close();
    await server.close();
  }
}

// ---- 1,000 sessions, each sending a command every second, in a server process
const LOAD = Number(Deno.env.get("BENCH_LOAD_SESSIONS") ?? 1000);
const LOAD_SECONDS = 20;
if (want("load")) {
  const server = await serverProcess("load");
  const pairs = await connectedPairs(server, LOAD);
  // Each device answers every command at once.
  for (const pair of pairs) {
    pair.device.ws.addEventListener("message", (e) => {
      const m = JSON.parse(e.data);
      if (m.type !== "command") return;
      pair.device.send({
        type: "result",
        seq: ++pair.seq,
        id: m.id,
        ok: true,
        value: { url: "u" },
      });
    });
  }
  const samples: number[] = [];
  const sent = new Map<string, number>();
  for (const pair of pairs) {
    pair.controller.ws.addEventListener("message", (e) => {
      const m = JSON.parse(e.data);
      if (m.type !== "result") return;
      const t = sent.get(m.id);
      if (t !== undefined) samples.push(performance.now() - t);
    });
  }
  // Each session's second starts at its own offset, so the load is even.
  const timers: Array<ReturnType<typeof setTimeout>> = [];
  const stopAt = performance.now() + LOAD_SECONDS * 1000;
  const cpuWindow = cpuOver(server.pid, LOAD_SECONDS * 1000);
  await Promise.all(pairs.map((pair, i) =>
    new Promise<void>((resolve) => {
      let n = 0;
      const fire = () => {
        if (performance.now() >= stopAt) return resolve();
        const id = `l${i}_${n++}`;
        sent.set(id, performance.now());
        pair.controller.send({ type: "command", id, name: "url", params: {} });
      };
      timers.push(setTimeout(() => {
        fire();
        timers.push(setInterval(fire, 1000));
      }, (i * 1000) / pairs.length));
    })
  ));
  for (const t of timers) clearInterval(t);
  const cpu = await cpuWindow;
  await new Promise((r) => setTimeout(r, 1000));
  const p = percentiles(samples);
  for (const q of ["p50", "p99"] as const) {
    add({
      figure: `round trip ${q}, ${LOAD.toLocaleString("en-US")} sessions × 1 command/s`,
      value: p[q] * 1000,
      unit: "µs",
      baseline: `echo ${q}`,
      baselineValue: echoP[q] * 1000,
      target: q === "p99" ? "< 50 ms" : undefined,
    });
  }
  add({
    figure: `answered, ${LOAD.toLocaleString("en-US")} sessions × 1 command/s`,
    value: samples.length,
    unit: "results",
    baseline: "commands sent",
    baselineValue: sent.size,
  });
  add({
    figure: `server CPU, ${LOAD.toLocaleString("en-US")} sessions × 1 command/s`,
    value: cpu * 100,
    unit: "% of a core",
    baseline: "one core",
    baselineValue: 100,
  });
  for (const { device, controller } of pairs) {
    device.ws.close();
    controller.ws.close();
  }
  await server.close();
}

// ---- Chromium: innerHTML through Passage, and a Connect link by phase
let chromium: Browser | null = null;
const sharedChromium = async () => chromium ??= await launchChromium();

/** A page of the size of an account page: a details block, a table of 50 rows, a form. */
const ACCOUNT_PAGE = `<!doctype html><html><head><title>Account</title>
<script>window.ready = true</script></head><body><h1>Account</h1>
<div class="account-details"><p>Name: <span class="name">Ada Lovelace</span></p>
<p>Email: <span class="email">ada@example.com</span></p><p>Plan: Unlimited</p></div>
<table>${
  Array.from({ length: 50 }, (_, i) =>
    `<tr><td>${i}</td><td>Item ${i}</td><td><a href="/item/${i}?ref=list">open</a></td></tr>`).join(
      "",
    )
}</table><form><input name="q" value="search"><button>Go</button></form></body></html>`;
const INNER_HTML_CALLS = 300;
if (want("innerhtml")) {
  const site = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(ACCOUNT_PAGE, { headers: { "content-type": "text/html" } }),
  );
  const siteUrl = `http://127.0.0.1:${site.addr.port}`;
  await using server = await startServer();
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const session = await passage.sessions.create();
  const browser = await session.connect();
  const device = await startDevice({
    server: server.url,
    claimCode: session.claimCode!,
    browser: await sharedChromium(),
    allowPrivateOrigins: [siteUrl],
  });
  await browser.navigate({ url: `${siteUrl}/` });
  const selector = ".account-details";
  const direct = () => device.page.$eval(selector, (e) => e.innerHTML);
  const through = () => browser.innerHTML({ selector });
  const url = () => browser.url();
  // The same answer both ways (nothing on this page is a secret; CDP's copy has no
  // white-space-only text nodes).
  const bare = (html: string) => html.replace(/>\s+</g, "><");
  if (bare(await through()) !== bare(await direct())) {
    throw new Error("innerHTML differs from $eval");
  }
  // Interleaved, so both see the same load on the machine.
  const samples = { direct: [] as number[], through: [] as number[], url: [] as number[] };
  for (let i = 0; i < INNER_HTML_CALLS + 20; i++) {
    for (const [name, call] of [["direct", direct], ["through", through], ["url", url]] as const) {
      const t = performance.now();
      await call();
      if (i >= 20) samples[name].push(performance.now() - t);
    }
  }
  const d = percentiles(samples.direct);
  const p = percentiles(samples.through);
  const u = percentiles(samples.url);
  for (const q of ["p50", "p99"] as const) {
    add({
      figure: `innerHTML through Passage (SDK, relay, device, Chromium) ${q}`,
      value: p[q] * 1000,
      unit: "µs",
      baseline: `page.$eval on the same page, ${q}`,
      baselineValue: d[q] * 1000,
      target: q === "p50" ? "≤ 1.5×" : undefined,
    });
  }
  add({
    figure: "of which relay and device around any command: url through Passage p50",
    value: u.p50 * 1000,
    unit: "µs",
    baseline: "page.$eval p50",
    baselineValue: d.p50 * 1000,
  });
  await browser.close();
  await passage.sessions.end(session.id);
  await device.ended;
  await device.close();
  await site.shutdown();
}

/** Phases of a Connect link, in ms. */
interface Phases {
  [phase: string]: number;
}
/** One Connect link on the sandbox, `tmobile`, bill and payment methods, by phase. */
async function connectLinkPhases(browser: Browser): Promise<Phases> {
  await using server = await startServer({ allowLoopbackWebhooks: true });
  const received = Promise.withResolvers<number>();
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const at = performance.now();
    try {
      const payload = await verifyWebhook(req, { jwksUrl: `${server.url}/.well-known/jwks.json` });
      if (payload.status !== "complete") throw new Error(`link ${payload.status}`);
      received.resolve(at);
    } catch (error) {
      received.reject(error);
    }
    return new Response("ok");
  });
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const link = await passage.links.create({
    provider: "tmobile",
    operations: [{ type: "mobileBillingStatement:read" }, { type: "paymentMethod:read" }],
    webhookUrl: `http://127.0.0.1:${receiver.addr.port}/passage/webhook`,
  });
  const lines: Array<{ at: number; line: string }> = [];
  const turns = new Turns();
  let shownAt = 0;
  const started = performance.now();
  const device = await startDevice({
    server: server.url,
    claimCode: link.claimCode!,
    browser,
    log: (line) => lines.push({ at: performance.now(), line }),
    onStatus: (status) => {
      if (status && !shownAt) shownAt = performance.now();
      turns.onStatus(status);
    },
  });
  await turns.next(() => true, 0);
  const typingStarted = performance.now();
  await submitPassword(device.page, "user_good", "pass_good");
  await submitCode(device.page, "1234");
  const typed = performance.now();
  const webhookAt = await received.promise;
  await device.ended;
  await device.close();
  await receiver.shutdown();
  const at = (pattern: RegExp) => {
    const found = lines.find((l) => pattern.test(l.line));
    if (!found) throw new Error(`no ${pattern} in the device's log:\n${lines.map((l) => l.line)}`);
    return found.at;
  };
  const claimed = at(/^claimed: /);
  const connected = at(/^connected: /);
  const loginDone = at(/^result \d+ yieldToUser: ok/);
  const bill = at(/^result \d+ readCapturedResponses: ok/);
  const cards = at(/^result \d+ fetch: ok/);
  return {
    "device start and claim": claimed - started,
    "claim → device connected": connected - claimed,
    "connected → login page shown": shownAt - connected,
    "the user types (scripted; not ours)": typed - typingStarted,
    "user done → login seen": loginDone - typed,
    "operation mobileBillingStatement:read": bill - loginDone,
    "operation paymentMethod:read": cards - bill,
    "last operation → webhook received": webhookAt - cards,
    "in all, without the typing": webhookAt - started - (typed - typingStarted),
  };
}

/** The same sandbox pages, loaded and read with puppeteer in a fresh context of the same Chromium. */
async function directSandboxPhases(browser: Browser): Promise<Phases> {
  await using server = await startServer();
  const base = `${server.url}/sandbox/tmobile`;
  const context = await browser.createBrowserContext();
  try {
    const started = performance.now();
    const page = await context.newPage();
    const opened = performance.now();
    await page.goto(`${base}/login`);
    await page.waitForSelector("#username");
    const shown = performance.now();
    const account = page.waitForResponse((r) => r.url().includes(`${base}/api/account`));
    await submitPassword(page, "user_good", "pass_good");
    await submitCode(page, "1234");
    const typed = performance.now();
    await account;
    const loginDone = performance.now();
    const bill = page.waitForResponse((r) => r.url().includes(`${base}/api/billing/current`));
    await page.goto(`${base}/bill`, { waitUntil: "networkidle0" });
    JSON.parse(await (await bill).text());
    const billRead = performance.now();
    JSON.parse(
      await page.evaluate((url) => fetch(url).then((r) => r.text()), `${base}/api/payment-methods`),
    );
    const cardsRead = performance.now();
    return {
      "device start and claim": opened - started,
      "connected → login page shown": shown - opened,
      "the user types (scripted; not ours)": typed - shown,
      "user done → login seen": loginDone - typed,
      "operation mobileBillingStatement:read": billRead - loginDone,
      "operation paymentMethod:read": cardsRead - billRead,
      "in all, without the typing": cardsRead - started - (typed - shown),
    };
  } finally {
    await context.close();
  }
}
const CONNECT_RUNS = Number(Deno.env.get("BENCH_CONNECT_RUNS") ?? 5);
if (want("connect")) {
  const browser = await sharedChromium();
  const ours: Phases[] = [];
  const theirs: Phases[] = [];
  for (let i = 0; i < CONNECT_RUNS + 1; i++) {
    // the first of each is a warm-up (page caches, the sandbox's modules)
    const a = await connectLinkPhases(browser);
    const b = await directSandboxPhases(browser);
    if (i > 0) ours.push(a), theirs.push(b);
  }
  const median = (runs: Phases[], phase: string) => {
    const values = runs.map((r) => r[phase]).filter((v) => v !== undefined).sort((x, y) => x - y);
    return values.length ? values[Math.floor(values.length / 2)] : undefined;
  };
  for (const phase of Object.keys(ours[0])) {
    const value = median(ours, phase)!;
    const base = median(theirs, phase);
    add({
      figure: `Connect link (sandbox, scripted user), median of ${CONNECT_RUNS}: ${phase}`,
      value,
      unit: "ms",
      baseline: base === undefined ? "no such step directly" : "puppeteer directly",
      baselineValue: base ?? NaN,
    });
  }
}
if (chromium) await (chromium as Browser).close();

await echo.shutdown();

// ---- the table
const fmt = (n: number) =>
  n >= 100 ? Math.round(n).toLocaleString("en-US") : n >= 10 ? n.toFixed(1) : n.toFixed(2);
const lines = [
  "| figure | value | baseline (same run) | ratio | target |",
  "| --- | --- | --- | --- | --- |",
  ...rows.map((r) =>
    !Number.isFinite(r.ratio)
      ? `| ${r.figure} | ${fmt(r.value)} ${r.unit} | ${r.baseline}${
        Number.isNaN(r.baselineValue) ? "" : `: ${fmt(r.baselineValue)}`
      } | — | ${r.target ?? ""} |`
      : `| ${r.figure} | ${fmt(r.value)} ${r.unit} | ${r.baseline}: ${fmt(r.baselineValue)} | ${
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
