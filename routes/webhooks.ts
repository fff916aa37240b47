/**
 * Webhook routes: the public verification keys (no API key: they are public),
 * and, per link, the events with their attempts and a manual redelivery.
 */
import { z } from "zod";
import type { Context } from "hono";
import { PassageError } from "../lib/errors.ts";
import type { Api, AppEnv } from "../lib/http.ts";
import { redeliverLatestWebhook, sendTestWebhook } from "../lib/webhook_delivery.ts";
import { getWebhookPublicKey, servableWebhookKeys } from "../lib/webhook_keys.ts";
import { listLinkWebhooks } from "../lib/webhooks.ts";

const keyIdSchema = z.string().min(1).max(200);

const publicKeySchema = z.object({
  alg: z.literal("ES256"),
  crv: z.literal("P-256"),
  kid: z.string(),
  kty: z.literal("EC"),
  use: z.literal("sig"),
  x: z.string(),
  y: z.string(),
  created_at: z.int().describe("Unix seconds"),
  expired_at: z.int().nullable().describe("Unix seconds; null while the key is current"),
});

const attemptSchema = z.object({
  number: z.int(),
  at: z.iso.datetime(),
  statusCode: z.int().nullable(),
  error: z.string().nullable(),
  durationMs: z.int(),
  trigger: z.enum(["automatic", "manual"]),
});

const eventListSchema = z.object({
  object: z.literal("list"),
  data: z.array(z.object({
    id: z.string(),
    type: z.enum(["link.completed", "link.failed"]),
    status: z.enum(["pending", "delivered", "failed", "disabled"]),
    createdAt: z.iso.datetime(),
    attempts: z.array(attemptSchema),
    nextAttemptAt: z.iso.datetime().nullable(),
  })),
});

async function keyResponse(c: Context<AppEnv>, kid: string): Promise<Response> {
  const key = await getWebhookPublicKey(c.var.kv, kid);
  if (!key) {
    throw new PassageError(
      "webhook_key_not_found",
      `No webhook verification key with id "${kid}" (unknown, or expired after a rotation)`,
      { param: "key_id" },
    );
  }
  return c.json({ key });
}

export function registerWebhookRoutes(api: Api): void {
  const keySpec = {
    path: "/webhook_verification_key/get",
    summary: "Get the public key that verifies a webhook's Passage-Verification JWT, by its kid",
    tag: "Webhooks",
    auth: "none" as const,
    responses: {
      200: { description: "The public key (a JWK)", schema: z.object({ key: publicKeySchema }) },
    },
    errors: ["webhook_key_not_found" as const],
  };

  api.route(
    { ...keySpec, method: "post" as const, body: z.strictObject({ key_id: keyIdSchema }) },
    (c, { body }) => keyResponse(c, body.key_id),
  );

  api.route(
    { ...keySpec, method: "get" as const, query: z.strictObject({ key_id: keyIdSchema }) },
    (c, { query }) => keyResponse(c, query.key_id),
  );

  api.route({
    method: "get",
    path: "/.well-known/jwks.json",
    summary: "Every webhook verification key still valid, as a JSON Web Key Set",
    tag: "Webhooks",
    auth: "none",
    responses: {
      200: { description: "The key set", schema: z.object({ keys: z.array(publicKeySchema) }) },
    },
  }, async (c) => c.json({ keys: await servableWebhookKeys(c.var.kv) }));

  api.route({
    method: "get",
    path: "/v1/links/{id}/webhooks",
    summary: "List a link's webhook events, newest first, with every delivery attempt",
    tag: "Webhooks",
    auth: "apiKey",
    responses: { 200: { description: "The link's events", schema: eventListSchema } },
    errors: ["link_not_found"],
  }, async (c) => c.json(await listLinkWebhooks(c.var.kv, c.var.apiKey, c.req.param("id")!)));

  api.route({
    method: "post",
    path: "/v1/links/{id}/webhooks/redeliver",
    summary: "Send a link's latest webhook event again now (same id, fresh signature)",
    tag: "Webhooks",
    auth: "apiKey",
    responses: {
      200: {
        description: "The attempt just made, whatever the receiver answered",
        schema: attemptSchema.extend({ eventId: z.string() }),
      },
    },
    errors: ["link_not_found", "no_webhook_event", "webhook_delivery_in_progress"],
  }, async (c) => {
    const { eventId, attempt } = await redeliverLatestWebhook(
      c.var.kv,
      c.var.apiKey,
      c.req.param("id")!,
      { config: c.var.config, jobs: c.var.jobs },
    );
    return c.json({ eventId, ...attempt });
  });

  api.route({
    method: "post",
    path: "/v1/webhooks/test",
    summary:
      'Send a signed test event (`type: "webhook.test"`) to a URL now: once, not stored, not retried',
    tag: "Webhooks",
    auth: "apiKey",
    body: testWebhookBodySchema,
    responses: {
      200: {
        description: "What the receiver answered (a refused address or a timeout is not an error)",
        schema: testWebhookResultSchema,
      },
    },
  }, async (c, { body }) =>
    c.json(
      await sendTestWebhook(c.var.kv, c.var.apiKey, body.url, {
        config: c.var.config,
      }),
    ));
}

/** `POST /v1/webhooks/test`'s body (the console's form posts the same). */
export const testWebhookBodySchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2048).describe("Where to send the test event"),
});

const testWebhookResultSchema = z.object({
  eventId: z.string(),
  url: z.string(),
  statusCode: z.int().nullable(),
  error: z.string().nullable(),
  durationMs: z.int(),
});
