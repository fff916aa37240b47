/**
 * Relay benchmarks, each as a ratio to a baseline measured in the same run
 * (`deno task bench`): what ordering costs over a plain KV write, what chunking
 * costs over plain JSON, what encrypting an entry (per-session AES-GCM key,
 * `lib/log_crypto.ts`) costs over the same ordered append in plaintext, and a
 * full command round trip over real WebSockets compared with one KV
 * write-and-read.
 */
import { loadJson, storeJson } from "../lib/kv_blobs.ts";
import { logEntryKey, logHeadKey } from "../lib/kv_keys.ts";
import { BroadcastChannelBus } from "./bus.ts";
import { SessionLog } from "./log.ts";
import { startServer } from "../tests/_harness.ts";
import { openSocket } from "../tests/_socket.ts";

const kv = await Deno.openKv(":memory:");
const bus = new BroadcastChannelBus("passage-bench");
const log = new SessionLog(kv, bus, 60_000);
const event = {
  kind: "console" as const,
  at: new Date().toISOString(),
  level: "log",
  text: "x".repeat(200),
};
let n = 0;

Deno.bench("kv.set of one telemetry event", { group: "append", baseline: true }, async () => {
  await kv.set(["bench_plain", n++], { type: "telemetry", event });
});

Deno.bench("SessionLog.append (ordered, gap-free)", { group: "append" }, async () => {
  await log.append("sess_bench", "evt", { type: "telemetry", event });
});

/**
 * The append as it was before entries were encrypted: the same ordered,
 * gap-free commit checked against the head, with the entry stored as JSON.
 */
async function plainAppend(sessionId: string, entry: unknown): Promise<number> {
  const stored = await storeJson(kv, entry, 60_000);
  for (;;) {
    const head = await kv.get<number>(logHeadKey(sessionId, "evt"));
    const seq = (head.value ?? 0) + 1;
    const res = await kv.atomic().check(head).set(head.key, seq, { expireIn: 60_000 })
      .set(logEntryKey(sessionId, "evt", seq), stored, { expireIn: 60_000 }).commit();
    if (res.ok) return seq;
  }
}

Deno.bench("plain ordered append of one telemetry event", {
  group: "encryption",
  baseline: true,
}, async () => {
  await plainAppend("sess_bench_plain", { type: "telemetry", event });
});

Deno.bench("encrypted SessionLog.append of one telemetry event", {
  group: "encryption",
}, async () => {
  await log.append("sess_bench_sealed", "evt", { type: "telemetry", event });
});

const screenshot = {
  kind: "screenshot" as const,
  at: new Date().toISOString(),
  format: "jpeg" as const,
  data: "A".repeat(300_000),
  masked: false,
};

Deno.bench("plain ordered append of a 300 KB screenshot (chunked)", {
  group: "encryption, 300 KB",
  baseline: true,
}, async () => {
  await plainAppend("sess_bench_plain_big", { type: "telemetry", event: screenshot });
});

Deno.bench("encrypted SessionLog.append of a 300 KB screenshot (chunked)", {
  group: "encryption, 300 KB",
}, async () => {
  await log.append("sess_bench_sealed_big", "evt", { type: "telemetry", event: screenshot });
});

const big = { html: "<p>" + "y".repeat(300_000) + "</p>" };

Deno.bench("JSON round trip of 300 KB", { group: "large", baseline: true }, () => {
  JSON.parse(JSON.stringify(big));
});

Deno.bench("storeJson + loadJson of 300 KB (chunked in KV)", { group: "large" }, async () => {
  await loadJson(kv, await storeJson(kv, big, 60_000));
});

// A full round trip: controller command → device → result, over real sockets.
const server = await startServer();
const created = await server.api("/v1/sessions", { method: "POST", json: {} });
const claim = await server.api("/v1/device/claim", {
  method: "POST",
  apiKey: null,
  json: { claimCode: created.body.claimCode },
});
const ws = (path: string) => server.url.replace(/^http/, "ws") + path;
const device = await openSocket(ws("/v1/device/socket"));
device.send({ type: "hello", v: 1, token: claim.body.deviceToken, lastCommandSeq: 0 });
await device.next((m) => m.type === "welcome");
const controller = await openSocket(ws(`/v1/sessions/${created.body.id}/socket`));
controller.send({ type: "hello", v: 1, apiKey: server.apiKey });
await controller.next((m) => m.type === "welcome");
let deviceSeq = 1;
let commandId = 0;

Deno.bench("KV write then read", { group: "round trip", baseline: true }, async () => {
  await kv.set(["bench_rt"], n++);
  await kv.get(["bench_rt"]);
});

Deno.bench("command → device → result through the relay", { group: "round trip" }, async () => {
  const id = `b${commandId++}`;
  controller.send({ type: "command", id, name: "url", params: {} });
  const cmd = await device.next((m) => m.type === "command" && m.id === id);
  device.send({
    type: "result",
    seq: deviceSeq++,
    id: cmd.id,
    ok: true,
    value: { url: "https://a.test/" },
  });
  await controller.next((m) => m.type === "result" && m.id === id);
});

globalThis.addEventListener("unload", () => {
  bus.close();
  kv.close();
});
