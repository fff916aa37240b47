/**
 * `GET /v1/webhooks/listen`: the account's webhook deliveries as Server-Sent
 * Events, for `deno task webhooks listen --forward-to …` (see
 * `lib/webhook_listen.ts`). Revoking the key ends the stream.
 */
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import type { Api } from "../lib/http.ts";
import { log } from "../lib/log.ts";
import { listenDeliveries } from "../lib/webhook_listen.ts";

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
      "`deno task webhooks listen --forward-to …`. Resume with `Last-Event-ID`.",
    tag: "Webhooks",
    auth: "apiKey",
    responses: {
      200: {
        description:
          "text/event-stream: a `ready` event, then one `delivery` event per webhook (`id` = event id; data `{id, type, linkId, livemode, headers, body}`: POST `body` with exactly `headers` and it verifies as Passage sent it); an `error` event (`revoked_api_key`) ends it when the key is revoked",
        mediaType: "text/event-stream",
        schema: z.string(),
      },
    },
  }, (c) => {
    const { kv, relay, config, apiKey } = c.var;
    const since = Date.now();
    return streamSSE(c, async (stream) => {
      const stop = new AbortController();
      stream.onAbort(() => stop.abort());
      let revoked = false;
      const unwatch = relay.watchApiKey(apiKey.id, () => {
        revoked = true;
        stop.abort();
      });
      stream.onAbort(unwatch);
      log.info("webhook.listen.start", { account_id: apiKey.accountId, key_id: apiKey.id });
      await stream.writeSSE({
        event: "ready",
        data: JSON.stringify({ accountId: apiKey.accountId, livemode: apiKey.mode === "live" }),
      });
      let lastWrite = Date.now();
      try {
        for await (
          const delivery of listenDeliveries(kv, apiKey, {
            since,
            after: c.req.header("last-event-id"),
            pollMs: config.relayPollMs,
            signal: stop.signal,
            onIdle: async () => {
              if (Date.now() - lastWrite < KEEP_ALIVE_MS) return;
              lastWrite = Date.now();
              await stream.write(": keep-alive\n\n");
            },
          })
        ) {
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
