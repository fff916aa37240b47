/**
 * Evidence for the promise's proofs (`canary_test.ts`, `attacks_test.ts`):
 * everything Passage held or emitted during a run, as text, and a search of
 * it for canary values in every spelling.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Browser as Chromium } from "puppeteer-core";
import type { TestServer } from "./_harness.ts";

/** Everything Passage held or emitted during a run, as text, by where it was seen. */
export class Evidence {
  readonly items: Array<{ where: string; text: string }> = [];
  add(where: string, text: string): void {
    this.items.push({ where, text });
  }
}

/** Every string inside a value (keys included), bytes decoded as UTF-8. */
export function stringsOf(value: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 100) return out;
  if (typeof value === "string") out.push(value);
  else if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    out.push(String(value));
  } else if (value instanceof Uint8Array) out.push(new TextDecoder().decode(value));
  else if (value instanceof Deno.KvU64) out.push(String(value.value));
  else if (value instanceof Date) out.push(value.toISOString());
  else if (value instanceof Map) {
    for (const [k, v] of value) stringsOf(k, out, depth + 1), stringsOf(v, out, depth + 1);
  } else if (value instanceof Set) { for (const v of value) stringsOf(v, out, depth + 1); }
  else if (Array.isArray(value)) { for (const v of value) stringsOf(v, out, depth + 1); }
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      stringsOf(v, out, depth + 1);
    }
  }
  return out;
}

/** A KV key and value as text; chunks of large values are also joined and decoded whole. */
class KvText {
  readonly #chunks = new Map<string, Map<number, Uint8Array>>();
  constructor(readonly evidence: Evidence, readonly where: string) {}

  add(key: Deno.KvKey, value: unknown): void {
    const k = JSON.stringify(stringsOf(key));
    this.evidence.add(`${this.where} ${k}`, [...stringsOf(key), ...stringsOf(value)].join("\n"));
    if (key[0] === "blob_chunks" && value instanceof Uint8Array) {
      const id = String(key[1]);
      const parts = this.#chunks.get(id) ?? new Map<number, Uint8Array>();
      parts.set(Number(key[2]), value);
      this.#chunks.set(id, parts);
    }
  }

  /** Adds each chunked value, joined in order. */
  finish(): void {
    for (const [id, parts] of this.#chunks) {
      const ordered = [...parts.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
      const bytes = new Uint8Array(ordered.reduce((n, p) => n + p.byteLength, 0));
      let offset = 0;
      for (const part of ordered) {
        bytes.set(part, offset);
        offset += part.byteLength;
      }
      this.evidence.add(`${this.where} blob ${id} (joined)`, new TextDecoder().decode(bytes));
    }
  }
}

/** Records every value written to `kv` (set, atomic set, enqueue) until the returned function runs. */
export function recordKvWrites(kv: Deno.Kv, evidence: Evidence): () => void {
  const writes = new KvText(evidence, "KV write");
  const { set, atomic, enqueue } = kv;
  kv.set = (key, value, options) => {
    writes.add(key, value);
    return set.call(kv, key, value, options);
  };
  kv.enqueue = (value, options) => {
    writes.add(["(queue)"], value);
    return enqueue.call(kv, value, options);
  };
  kv.atomic = () => {
    const op = atomic.call(kv);
    const opSet = op.set.bind(op);
    const opEnqueue = op.enqueue.bind(op);
    op.set = (key, value, options) => {
      writes.add(key, value);
      return opSet(key, value, options);
    };
    op.enqueue = (value, options) => {
      writes.add(["(queue)"], value);
      return opEnqueue(value, options);
    };
    return op;
  };
  return () => {
    Object.assign(kv, { set, atomic, enqueue });
    writes.finish();
  };
}

/** Every KV entry now, keys included. */
export async function dumpKv(kv: Deno.Kv, evidence: Evidence): Promise<number> {
  const entries = new KvText(evidence, "KV entry");
  let count = 0;
  for await (const entry of kv.list({ prefix: [] })) {
    entries.add(entry.key, entry.value);
    count++;
  }
  entries.finish();
  return count;
}

const CONSOLE_METHODS = ["log", "info", "warn", "error", "debug"] as const;

/** Captures what the in-process server prints (and still prints it) until the returned function runs. */
export function captureConsole(evidence: Evidence): () => void {
  const originals = CONSOLE_METHODS.map((m) => console[m]);
  for (const [i, method] of CONSOLE_METHODS.entries()) {
    console[method] = (...args: unknown[]) => {
      evidence.add(
        `server console.${method}`,
        args.map((a) =>
          typeof a === "string" ? a : Deno.inspect(a, { depth: 20, strAbbreviateSize: 1e9 })
        ).join(" "),
      );
      originals[i].apply(console, args);
    };
  }
  return () => CONSOLE_METHODS.forEach((m, i) => console[m] = originals[i]);
}

/**
 * A raw controller socket that asks for every event from the start
 * (`after: 0`) and records each frame as sent; ends when the server closes it
 * (after the session's end).
 */
export function recordControllerSocket(
  server: TestServer,
  sessionId: string,
  evidence: Evidence,
  label: string,
): { closed: Promise<void>; close(): void; frames: string[] } {
  const frames: string[] = [];
  const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/v1/sessions/${sessionId}/socket`);
  const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
  ws.onopen = () =>
    ws.send(JSON.stringify({ type: "hello", v: 1, apiKey: server.apiKey, after: 0 }));
  ws.onmessage = (e) => {
    frames.push(String(e.data));
    evidence.add(label, String(e.data));
  };
  ws.onerror = () => {};
  return {
    closed,
    frames,
    close: () => ws.readyState === WebSocket.OPEN && ws.close(1000),
  };
}

/** `GET /v1/sessions/:id/events` from the start (`Last-Event-ID: 0`), recorded raw. */
export function recordSse(
  server: TestServer,
  sessionId: string,
  evidence: Evidence,
  label = "SSE stream",
): { done: Promise<void>; stop(): void } {
  const abort = new AbortController();
  const done = (async () => {
    try {
      const res = await fetch(`${server.url}/v1/sessions/${sessionId}/events`, {
        headers: { authorization: `Bearer ${server.apiKey}`, "last-event-id": "0" },
        signal: abort.signal,
      });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let all = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        all += value;
      }
      evidence.add(label, all);
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  })();
  return { done, stop: () => abort.abort() };
}

/** Resolves once `promise` has, or fails after `ms` with `what`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------ canaries

export interface Canary {
  name: string;
  value: string;
}

/** How a canary can be written: as is, percent-encoded, form-encoded, decoded, JSON- or HTML-escaped. */
export function spellings(value: string): string[] {
  const out = new Set([value, encodeURIComponent(value)]);
  out.add(new URLSearchParams({ v: value }).toString().slice(2));
  out.add(JSON.stringify(value).slice(1, -1));
  out.add(value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;"));
  try {
    out.add(decodeURIComponent(value));
  } catch {
    // not percent-encoded
  }
  return [...out];
}

/** Every place a canary appears in the evidence, with a little context. */
export function findCanaries(evidence: Evidence, canaries: Canary[]): string[] {
  const found: string[] = [];
  for (const canary of canaries) {
    assert.ok(canary.value.length >= 6, `the ${canary.name} canary is too short to be distinctive`);
    for (const spelling of spellings(canary.value)) {
      const escaped = spelling.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      // a numeric canary (the MFA code) counts only when it is not part of a longer number
      const pattern = /^\d+$/.test(spelling)
        ? new RegExp(`(?<!\\d)${escaped}(?!\\d)`, "g")
        : new RegExp(escaped, "g");
      for (const { where, text } of evidence.items) {
        for (const match of text.matchAll(pattern)) {
          const from = Math.max(0, match.index - 60);
          found.push(
            `the ${canary.name} (${spelling}) in ${where}: …${
              text.slice(from, match.index + spelling.length + 60)
            }…`,
          );
        }
      }
    }
  }
  return found;
}

// ------------------------------------------------------------ the human

/**
 * Resolves each time the device hands the human control. A status the device
 * repeats during one turn (the page's origin changed) is the same turn.
 */
export function humanTurns() {
  let started = 0;
  let active = false;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  return {
    onStatus(status: unknown) {
      if (!status) {
        active = false;
        return;
      }
      if (active) return;
      active = true;
      started++;
      for (const w of waiters.filter((w) => w.n <= started)) w.resolve();
    },
    /** Waits for the `n`th yield (1-based) to have started. */
    nth(n: number): Promise<void> {
      if (started >= n) return Promise.resolve();
      return within(
        new Promise<void>((resolve) => waiters.push({ n, resolve })),
        60_000,
        `yield ${n}`,
      );
    },
  };
}

/** Every text a hostile script could decode from an answer: as is, unjoined, base64-decoded, char codes. */
export function decodings(answer: unknown): string[] {
  const text = typeof answer === "string" ? answer : JSON.stringify(answer) ?? "";
  const out = [text, text.replaceAll("|", "")];
  for (const chunk of text.match(/[A-Za-z0-9+/]{4,}={0,2}/g) ?? []) {
    try {
      out.push(atob(chunk));
    } catch {
      // not base64
    }
  }
  for (const list of text.match(/\[\s*\d+(?:\s*,\s*\d+)*\s*\]/g) ?? []) {
    out.push(String.fromCharCode(...(JSON.parse(list) as number[])));
  }
  return out;
}

/**
 * Decodes an image in Chromium (a canvas in a page of its own) and counts the
 * text-coloured (dark) pixels inside `box`.
 */
export async function darkPixels(
  chromium: Chromium,
  base64: string,
  box: { x: number; y: number; width: number; height: number },
): Promise<number> {
  const context = await chromium.createBrowserContext();
  try {
    const page = await context.newPage();
    return await page.evaluate(
      async (data, box) => {
        const image = new Image();
        image.src = `data:image/${data.startsWith("iVBOR") ? "png" : "jpeg"};base64,${data}`;
        await image.decode();
        const canvas = document.createElement("canvas");
        canvas.width = image.naturalWidth;
        canvas.height = image.naturalHeight;
        const ctx = canvas.getContext("2d")!;
        ctx.drawImage(image, 0, 0);
        const pixels = ctx.getImageData(box.x, box.y, box.width, box.height).data;
        let dark = 0;
        for (let i = 0; i < pixels.length; i += 4) {
          if (pixels[i] < 100 && pixels[i + 1] < 100 && pixels[i + 2] < 100) dark++;
        }
        return dark;
      },
      base64,
      box,
    );
  } finally {
    await context.close();
  }
}
