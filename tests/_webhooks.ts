/**
 * Webhook test helpers: a real HTTP receiver on loopback (`Deno.serve`) whose
 * answers a test scripts, finishing a link the way the engine does (final
 * state and event in one commit), and waiting on KV changes with `watch`.
 */
import assert from "node:assert/strict";
import { verifyWebhook, type VerifyWebhookOptions, type WebhookPayload } from "@passage/connect";
import { webhookEventKey } from "../lib/kv_keys.ts";
import { transitionLink } from "../lib/links.ts";
import { fixedClock } from "../lib/services.ts";
import { addWebhookEvent, type LinkOutcome, type WebhookEventRecord } from "../lib/webhooks.ts";
import { storedLink, type TestServer } from "./_harness.ts";
import { TMOBILE_BILL } from "./_results.ts";

/** How the receiver answers one request: a status, a status with headers, or never (until closed). */
export type Reply = number | { status: number; headers?: Record<string, string> } | "hang";

/** One request the receiver got. */
export interface Received {
  headers: Headers;
  /** The exact body bytes. */
  body: Uint8Array<ArrayBuffer>;
  /** With `verify`: what `verifyWebhook` made of the live request. */
  payload?: WebhookPayload;
  verifyError?: unknown;
}

export interface Receiver extends AsyncDisposable {
  url: string;
  port: number;
  requests: Received[];
  /** Answers every held ("hang") request with 200, now and from then on. */
  release(): void;
  /** Resolves once `count` requests have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** The body as text. */
export const text = (r: Received): string => new TextDecoder().decode(r.body);

/** The decoded header and claims of a received `Passage-Verification` JWT. */
export function jwtParts(
  r: Received,
): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const token = r.headers.get("passage-verification");
  assert.ok(token, "no Passage-Verification header");
  const [header, claims] = token.split(".").slice(0, 2).map((part) =>
    JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")))
  );
  return { header, claims };
}

/** A port nothing listens on (bound, then released). */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Starts a receiver on 127.0.0.1. Answers come from `replies` in order (then
 * 200). With `verify`, each live request goes through `verifyWebhook` first
 * and a failure answers 400.
 */
export function startReceiver(
  options: { port?: number; replies?: Reply[]; verify?: VerifyWebhookOptions } = {},
): Receiver {
  const replies = [...(options.replies ?? [])];
  const requests: Received[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const controller = new AbortController();

  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: options.port ?? 0,
      signal: controller.signal,
      onListen() {},
    },
    async (req) => {
      const copy = req.clone();
      const received: Received = {
        headers: req.headers,
        body: new Uint8Array(await copy.arrayBuffer()),
      };
      if (options.verify) {
        try {
          received.payload = await verifyWebhook(req, options.verify);
        } catch (err) {
          received.verifyError = err;
        }
      }
      requests.push(received);
      for (const w of waiters.filter((w) => requests.length >= w.count)) w.resolve();
      if (received.verifyError) return new Response("verification failed", { status: 400 });
      const reply = replies.shift() ?? 200;
      if (reply === "hang") {
        await released;
        return new Response("too late", { status: 200 });
      }
      const { status, headers } = typeof reply === "number"
        ? { status: reply, headers: {} }
        : reply;
      return new Response(status === 204 || status === 304 ? null : "ok", { status, headers });
    },
  );

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    release();
    controller.abort();
    await server.finished;
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks/passage`,
    port: server.addr.port,
    requests,
    release,
    waitFor(count, timeoutMs = 10_000) {
      if (requests.length >= count) return Promise.resolve(requests);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`receiver got ${requests.length} of ${count} requests`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(requests);
          },
        });
      });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Finishes a link as the engine does, through the lifecycle's door: claimed
 * and running first if it is not yet, then its final state and its webhook
 * event in one atomic commit. Returns the event id (null without a webhookUrl).
 */
export async function finishLink(
  server: TestServer,
  linkId: string,
  outcome: LinkOutcome,
  now: Date = new Date(),
): Promise<string | null> {
  const link = await storedLink(server.kv, linkId);
  assert.ok(link, `no stored link ${linkId}`);
  const svc = { ...server.services, clock: fixedClock(now) };
  if (link.status === "pending") await transitionLink(svc, linkId, "claimed");
  if (link.status !== "running") await transitionLink(svc, linkId, "running");
  let eventId: string | null = null;
  await transitionLink(svc, linkId, outcome.status, {
    patch: outcome.error ? { error: outcome.error } : {},
    extra: (op, next) => eventId = addWebhookEvent(svc, op, next, outcome),
  });
  return eventId;
}

/** The stored event. */
export async function storedEvent(kv: Deno.Kv, eventId: string): Promise<WebhookEventRecord> {
  const event = (await kv.get<WebhookEventRecord>(webhookEventKey(eventId))).value;
  assert.ok(event, `no stored event ${eventId}`);
  return event;
}

/** Waits (on `kv.watch`, no polling) until the stored event satisfies `predicate`. */
export async function waitForEvent(
  kv: Deno.Kv,
  eventId: string,
  predicate: (event: WebhookEventRecord) => boolean,
  timeoutMs = 10_000,
): Promise<WebhookEventRecord> {
  const reader = kv.watch([webhookEventKey(eventId)]).getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`event ${eventId} did not reach the state`)),
      timeoutMs,
    );
  });
  try {
    for (;;) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) throw new Error("watch ended");
      const event = value[0].value as WebhookEventRecord | null;
      if (event && predicate(event)) return event;
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel();
  }
}

/** A `complete` outcome with a small, valid bill. */
export const COMPLETE: LinkOutcome = {
  status: "complete",
  results: { "mobileBillingStatement:read": TMOBILE_BILL },
};
