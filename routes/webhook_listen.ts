/**
 * `GET /v1/webhooks/listen`: the account's webhook deliveries as Server-Sent
 * Events, for `deno task webhooks listen --forward-to …` (see
 * `lib/webhook_listen.ts`). Revoking the key ends the stream; a key holds at
 * most `MAX_LISTEN_STREAMS_PER_KEY` at once.
 */
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import type { Api } from "../lib/http.ts";
import { log } from "../lib/log.ts";
import {
  listenDeliveries,
  MAX_LISTEN_STREAMS_PER_KEY,
  takeListenSlot,
} from "../lib/webhook_listen.ts";

/**
 * The longest a listen stream waits for an event stored by another isolate (a
 * link's, made by the engine): one poller per account and mode, so it can be
 * more eager than the relay's 10 s safety net.
 */
const LISTEN_POLL_MS = 1_000;

/** Seconds between keep-alive comments on an idle stream. */
const KEEP_ALIVE_MS = 15_000;

export function registerWebhookListenRoute(api: Api): void {
  api.route({
    method: "get",
    path: "/v1/webhooks/listen",
    operationId: "webhooks.listen",
    summary: "Stream webhook deliveries to forward to a local receiver",
    description:
      "Server-Sent Events: the key's account and mode's webhook deliveries (stored events and " +
      "test events) as they are created, each signed afresh, for " +
      "`deno task webhooks listen --forward-to …`. Resume with `Last-Event-ID`. An API key " +
      `holds at most ${MAX_LISTEN_STREAMS_PER_KEY} streams at once; a stream that falls far ` +
      "behind is ended (resume it).",
    tag: "Webhooks",
    auth: "apiKey",
    errors: ["too_many_attempts"],
    responses: {
      200: {
        description:
          "text/event-stream: a `ready` event, then one `delivery` event per webhook (`id` = event id; data `{id, type, linkId, livemode, headers, body}`: POST `body` with exactly `headers` and it verifies as Passage sent it); an `error` event (`revoked_api_key`) ends it when the key is revoked",
        mediaType: "text/event-stream",
        schema: z.string(),
      },
    },
  }, async (c) => {
    const { kv, relay, config } = c.var.services;
    const { apiKey } = c.var;
    // Before the stream starts, so a key at its cap gets a plain 429.
    const lease = await takeListenSlot(kv, apiKey);
    return streamSSE(c, async (stream) => {
      await using _lease = lease;
      const stop = new AbortController();
      stream.onAbort(() => stop.abort());
      // Another stream took the slot (this one's renewal lapsed): end, the client resumes.
      lease.lost.addEventListener("abort", () => stop.abort(), { once: true });
      let revoked = false;
      const unwatch = relay.watchApiKey(apiKey.id, () => {
        revoked = true;
        stop.abort();
      });
      stream.onAbort(unwatch);
      let lastWrite = Date.now();
      // Joined before `ready`: whatever is made after the client reads it reaches it.
      const deliveries = listenDeliveries(kv, apiKey, {
        after: c.req.header("last-event-id"),
        pollMs: Math.min(config.relayPollMs, LISTEN_POLL_MS),
        signal: stop.signal,
        onIdle: async () => {
          if (Date.now() - lastWrite < KEEP_ALIVE_MS) return;
          lastWrite = Date.now();
          await stream.write(": keep-alive\n\n");
        },
      });
      log.info("webhook.listen.start", { account_id: apiKey.accountId, key_id: apiKey.id });
      try {
        await stream.writeSSE({
          event: "ready",
          data: JSON.stringify({ accountId: apiKey.accountId, livemode: apiKey.mode === "live" }),
        });
        for await (const delivery of deliveries) {
          await stream.writeSSE({
            id: delivery.id,
            event: "delivery",
            data: JSON.stringify(delivery),
          });
          lastWrite = Date.now();
          log.info("webhook.listen.delivery", {
            account_id: apiKey.accountId,
            event_id: delivery.id,
            link_id: delivery.linkId,
          });
        }
      } finally {
        stop.abort(); // leaves the poller, had the loop not started
        unwatch();
        log.info("webhook.listen.end", { account_id: apiKey.accountId, key_id: apiKey.id });
      }
      if (revoked) {
        await stream.writeSSE({
          event: "error",
          data: JSON.stringify({
            error: {
              type: "authentication_error",
              code: "revoked_api_key",
              message: `API key ${apiKey.id} was revoked`,
            },
          }),
        }).catch(() => {});
      }
    });
  });
}
