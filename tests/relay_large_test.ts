// deno-lint-ignore-file no-explicit-any
/**
 * Messages bigger than one KV value (64 KiB) cross the relay whole: the session
 * logs store them in chunks (`lib/kv_blobs.ts`) and every reader (the device's
 * socket, a controller's socket, the SSE stream, a replay) puts them back
 * together byte for byte.
 */
import assert from "node:assert/strict";
import { logEntryKey } from "../lib/kv_keys.ts";
import { startServer, type TestServer } from "./_harness.ts";
import { connectController, connectedSession } from "./_relay_helpers.ts";

/** Base64 of `size` random bytes (random, so a misplaced chunk cannot go unnoticed). */
function randomBase64(size: number): string {
  const parts: string[] = [];
  // 49,152 bytes: a multiple of 3 (so the parts join into one valid base64
  // string) and within getRandomValues' 65,536-byte limit.
  for (let done = 0; done < size; done += 49_152) {
    const bytes = crypto.getRandomValues(new Uint8Array(Math.min(49_152, size - done)));
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    parts.push(btoa(binary));
  }
  return parts.join("");
}

/**
 * HTML of about `chars` characters, with multi-byte characters throughout so that
 * chunk boundaries (counted in UTF-8 bytes) fall inside characters.
 */
function bigHtml(chars: number): string {
  const rows: string[] = [];
  let length = 0;
  for (let i = 0; length < chars; i++) {
    const row = `<li data-i="${i}">Commande n° ${i}: 北京 → Zürich 🚆 ${i * 7919 % 1000}€</li>`;
    rows.push(row);
    length += row.length;
  }
  return `<ul>${rows.join("")}</ul>`;
}

/** Asserts two long strings are equal without printing megabytes on failure. */
function assertSameText(actual: unknown, expected: string, what: string): void {
  assert.equal(typeof actual, "string", `${what} is not a string`);
  const text = actual as string;
  if (text === expected) return;
  let i = 0;
  while (i < text.length && text[i] === expected[i]) i++;
  assert.fail(
    `${what} differs: ${text.length} chars instead of ${expected.length}, first difference at ${i}`,
  );
}

/** The stored (raw) form of a log entry: a chunk reference when it was too big. */
async function storedEntry(
  server: TestServer,
  sessionId: string,
  stream: "cmd" | "evt",
  seq: number,
) {
  return (await server.kv.get<any>(logEntryKey(sessionId, stream, seq))).value;
}

function assertChunked(stored: any, what: string): void {
  assert.equal(stored?.type, "chunked", `${what} was stored inline, not in chunks`);
  assert.ok(stored.count >= 2, `${what} has ${stored.count} chunk(s)`);
}

/** Reads SSE events from `GET /v1/sessions/:id/events` until `until` holds for one. */
async function readSse(
  server: TestServer,
  sessionId: string,
  until: (e: { id: string; event: string; data: any }) => boolean,
): Promise<Array<{ id: string; event: string; data: any }>> {
  const res = await fetch(`${server.url}/v1/sessions/${sessionId}/events`, {
    headers: { authorization: `Bearer ${server.apiKey}`, "last-event-id": "0" },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: Array<{ id: string; event: string; data: any }> = [];
  let text = "";
  let scanned = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the SSE stream ended after ${events.length} events`);
      text += value;
      let i;
      while ((i = text.indexOf("\n\n", scanned)) >= 0) {
        const block = text.slice(0, i);
        text = text.slice(i + 2);
        scanned = 0;
        const fields: Record<string, string> = {};
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, "");
        }
        if (!fields.data) continue;
        const event = { id: fields.id, event: fields.event, data: JSON.parse(fields.data) };
        events.push(event);
        if (until(event)) return events;
      }
      scanned = Math.max(0, text.length - 1);
    }
  } finally {
    await reader.cancel();
  }
}

Deno.test("results and telemetry bigger than one KV value relay intact to the controller, to SSE and on replay", async () => {
  await using server = await startServer();
  const { id, device, controller } = await connectedSession(server.url, server.url, server.apiKey);

  // A 300 KB innerHTML (multi-byte characters included) as a command result.
  const html = bigHtml(300_000);
  assert.ok(new TextEncoder().encode(html).byteLength > 300_000);
  controller.send({ type: "command", id: "h", name: "innerHTML", params: { selector: "ul" } });
  const htmlCommand = await device.next((m) => m.type === "command");
  device.send({ type: "result", seq: 1, id: htmlCommand.id, ok: true, value: { html } });
  const htmlResult = await controller.next((m) => m.type === "result");
  assert.equal(htmlResult.ok, true, JSON.stringify(htmlResult.error));
  assertSameText(htmlResult.value.html, html, "the innerHTML result");

  // A 2,000,000-character screenshot, as a command result…
  const shot = randomBase64(1_500_000);
  assert.equal(shot.length, 2_000_000);
  controller.send({ type: "command", id: "s", name: "screenshot", params: { format: "png" } });
  const shotCommand = await device.next((m) => m.type === "command");
  device.send({
    type: "result",
    seq: 2,
    id: shotCommand.id,
    ok: true,
    value: { format: "png", data: shot },
  });
  const shotResult = await controller.next((m) => m.type === "result");
  assert.equal(shotResult.ok, true, JSON.stringify(shotResult.error));
  assert.equal(shotResult.value.format, "png");
  assertSameText(shotResult.value.data, shot, "the screenshot result");

  // …and another as a telemetry event, which SSE carries too.
  const frame = randomBase64(1_500_000);
  const at = new Date().toISOString();
  device.send({
    type: "telemetry",
    seq: 3,
    event: { kind: "screenshot", at, format: "jpeg", data: frame, masked: false },
  });
  await device.next((m) => m.type === "ack" && m.seq === 3);
  const live = await controller.next((m) => m.type === "telemetry");
  assert.equal(live.event.kind, "screenshot");
  assert.equal(live.event.at, at);
  assert.equal(live.event.masked, false);
  assertSameText(live.event.data, frame, "the screenshot telemetry (controller)");

  const sse = await readSse(server, id, (e) => e.event === "telemetry");
  const sseFrame = sse.at(-1)!;
  assert.equal(sseFrame.id, String(live.seq), "SSE ids are the event seqs");
  assert.equal(sseFrame.data.event.kind, "screenshot");
  assertSameText(sseFrame.data.event.data, frame, "the screenshot telemetry (SSE)");
  assert.ok(
    !sse.some((e) => e.event === "result"),
    "SSE carries no command results",
  );

  // They really were stored in chunks, and read back from them.
  assertChunked(await storedEntry(server, id, "evt", htmlResult.seq), "the innerHTML result");
  assertChunked(await storedEntry(server, id, "evt", shotResult.seq), "the screenshot result");
  assertChunked(await storedEntry(server, id, "evt", live.seq), "the screenshot telemetry");

  // A controller replaying from the start gets all three again, intact.
  const replay = await connectController(server.url, id, server.apiKey, 0);
  const replayed = [];
  while (replayed.length < 3) {
    replayed.push(await replay.next((m) => m.type === "result" || m.type === "telemetry"));
  }
  assert.deepEqual(replayed.map((m) => m.seq), [htmlResult.seq, shotResult.seq, live.seq]);
  assertSameText(replayed[0].value.html, html, "the replayed innerHTML result");
  assertSameText(replayed[1].value.data, shot, "the replayed screenshot result");
  assertSameText(replayed[2].event.data, frame, "the replayed screenshot telemetry");

  await replay.close();
  await controller.close();
  await device.close();
});

Deno.test("a command bigger than one KV value reaches the device intact", async () => {
  await using server = await startServer();
  const { id, device, controller } = await connectedSession(server.url, server.url, server.apiKey);
  // 100,000 characters (the schema's maximum), 200,000 bytes of UTF-8.
  const expression = "é".repeat(99_990) + "; 'end'";
  assert.ok(expression.length <= 100_000);
  controller.send({ type: "command", id: "big", name: "evaluate", params: { expression } });
  await controller.next((m) => m.type === "accepted" && m.id === "big");
  const cmd = await device.next((m) => m.type === "command");
  assert.equal(cmd.id, "big");
  assertSameText(cmd.params.expression, expression, "the evaluate expression");
  assertChunked(await storedEntry(server, id, "cmd", cmd.seq), "the evaluate command");
  await controller.close();
  await device.close();
});
