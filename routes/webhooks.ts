/**
 * Webhook routes: the public verification keys (no API key: they are public),
 * each account's key set and the server-wide one, and, per link, the events
 * with their attempts and a manual redelivery.
 */
import { z } from "zod";
import type { Context } from "hono";
import { PassageError } from "../lib/errors.ts";
import type { Api, AppEnv } from "../lib/http.ts";
import {
  redeliverLatestWebhook,
  sendTestWebhook,
  TEST_WEBHOOK_LIMIT,
} from "../lib/webhook_delivery.ts";
import { getAccount } from "../lib/accounts.ts";
import {
  accountWebhookKeySet,
  getWebhookPublicKey,
  servableWebhookKeys,
} from "../lib/webhook_keys.ts";
import { listLinkWebhooks } from "../lib/webhooks.ts";
import { webhookEventTypeSchema } from "../lib/openapi.ts";

const keyIdSchema = z.string().min(1).max(200).describe(
  "The `kid` from the protected header of the webhook's `Passage-Verification` JWT",
);

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
}).meta({ id: "WebhookPublicKey", description: "A webhook verification key: a P-256 public JWK" });

const attemptSchema = z.object({
  number: z.int(),
  at: z.iso.datetime(),
  statusCode: z.int().nullable(),
  error: z.string().nullable(),
  durationMs: z.int(),
  trigger: z.enum(["automatic", "manual"]),
}).meta({ id: "WebhookAttempt", description: "One attempt to deliver a webhook event" });

const eventListSchema = z.object({
  object: z.literal("list"),
  data: z.array(
    z.object({
      id: z.string(),
      type: webhookEventTypeSchema,
      status: z.enum(["pending", "delivered", "failed", "disabled"]).meta({
        id: "WebhookEventStatus",
        description: "Where an event's delivery stands",
      }),
      createdAt: z.iso.datetime(),
      attempts: z.array(attemptSchema),
      nextAttemptAt: z.iso.datetime().nullable(),
    }).meta({ id: "WebhookEventDelivery", description: "A webhook event and its attempts" }),
  ),
}).meta({ id: "WebhookEventDeliveryList", description: "A link's webhook events, newest first" });

async function keyResponse(c: Context<AppEnv>, kid: string): Promise<Response> {
  const key = await getWebhookPublicKey(c.var.services.kv, kid);
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
    summary: "Retrieve a webhook verification key",
    description:
      "Get the public key that verifies a webhook's `Passage-Verification` JWT, by the `kid` " +
      "of its header, whichever account's it is (no API key: the keys are public). A key " +
      "stays served for a day after a rotation.",
    tag: "Webhooks",
    auth: "none" as const,
    responses: {
      200: {
        description: "The public key (a JWK)",
        schema: z.object({ key: publicKeySchema }).meta({
          id: "WebhookKeyResponse",
          description: "A webhook verification key",
        }),
      },
    },
    errors: ["webhook_key_not_found" as const],
  };

  api.route(
    {
      ...keySpec,
      method: "post" as const,
      operationId: "webhookKeys.retrieve",
      body: z.strictObject({ key_id: keyIdSchema }).meta({
        id: "WebhookKeyLookup",
        description: "Which webhook verification key to get",
      }),
    },
    (c, { body }) => keyResponse(c, body.key_id),
  );

  api.route(
    {
      ...keySpec,
      method: "get" as const,
      operationId: "webhookKeys.lookup",
      query: z.strictObject({ key_id: keyIdSchema }),
    },
    (c, { query }) => keyResponse(c, query.key_id),
  );

  const keySetSchema = z.object({ keys: z.array(publicKeySchema) }).meta({
    id: "JsonWebKeySet",
    description: "Webhook verification keys still valid",
  });

  api.route({
    method: "get",
    path: "/v1/accounts/{id}/jwks.json",
    operationId: "webhookKeys.account",
    summary: "List an account's webhook verification keys",
    description:
      "The keys that verify one account's webhooks, as a JSON Web Key Set: its current key " +
      "and any still in their overlap after a rotation. The id is the `aud` of the account's " +
      "webhooks; no API key (the keys are public). `verifyWebhook` fetches it for its " +
      "`audience`.",
    params: { id: "The account's id (`acct_…`), the `aud` claim of its webhooks" },
    tag: "Webhooks",
    auth: "none",
    responses: { 200: { description: "The account's key set", schema: keySetSchema } },
    errors: ["account_not_found"],
  }, async (c) => {
    const id = c.req.param("id")!;
    if (!(await getAccount(c.var.services.kv, id))) {
      throw new PassageError("account_not_found", `No account with id "${id}"`, { param: "id" });
    }
    return c.json({ keys: await accountWebhookKeySet(c.var.services.kv, id) });
  });

  api.route({
    method: "get",
    path: "/.well-known/jwks.json",
    operationId: "webhookKeys.list",
    summary: "List the server-wide webhook verification keys",
    description:
      "The server-wide webhook verification keys still valid, as a JSON Web Key Set: the keys " +
      "that sign for accounts made before keys were per account, until each rotates its own. " +
      "Verify against `/v1/accounts/{id}/jwks.json` instead: it holds these while the account " +
      "uses them.",
    tag: "Webhooks",
    auth: "none",
    responses: { 200: { description: "The key set", schema: keySetSchema } },
  }, async (c) => c.json({ keys: await servableWebhookKeys(c.var.services.kv) }));

  api.route(
    {
      method: "get",
      path: "/v1/links/{id}/webhooks",
      operationId: "links.webhooks.list",
      summary: "List a link's webhook events",
      description:
        "List a link's webhook events, newest first, each with every delivery attempt and when " +
        "the next one is due.",
      params: { id: "The link's id (`link_…`)" },
      tag: "Webhooks",
      auth: "apiKey",
      responses: { 200: { description: "The link's events", schema: eventListSchema } },
      errors: ["link_not_found"],
    },
    async (c) =>
      c.json(await listLinkWebhooks(c.var.services.kv, c.var.apiKey, c.req.param("id")!)),
  );

  api.route({
    method: "post",
    path: "/v1/links/{id}/webhooks/redeliver",
    operationId: "links.webhooks.redeliver",
    summary: "Redeliver a link's latest webhook event",
    description:
      "Send a link's latest webhook event again now, to the link's `webhookUrl`: the same " +
      "event id and body, with a fresh signature. The automatic retries go on as planned.",
    params: { id: "The link's id (`link_…`)" },
    tag: "Webhooks",
    auth: "apiKey",
    idempotent: true,
    responses: {
      200: {
        description: "The attempt just made, whatever the receiver answered",
        schema: attemptSchema.extend({ eventId: z.string() }).meta({
          id: "WebhookRedelivery",
          description: "The attempt a redelivery made, and its event's id",
        }),
      },
    },
    errors: ["link_not_found", "no_webhook_event", "webhook_delivery_in_progress"],
  }, async (c) => {
    const { eventId, attempt } = await redeliverLatestWebhook(
      c.var.services,
      c.var.apiKey,
      c.req.param("id")!,
    );
    return c.json({ eventId, ...attempt });
  });

  api.route({
    method: "post",
    path: "/v1/webhooks/test",
    operationId: "webhooks.test",
    summary: "Send a test webhook",
    description:
      'Send a signed test event (`type: "webhook.test"`) to a URL now: once, not stored, not ' +
      "retried, signed for your account and mode like real events. At most " +
      `${TEST_WEBHOOK_LIMIT.limit} a minute per account.`,
    tag: "Webhooks",
    auth: "apiKey",
    idempotent: true,
    body: testWebhookBodySchema,
    responses: {
      200: {
        description: "What the receiver answered (a refused address or a timeout is not an error)",
        schema: testWebhookResultSchema,
      },
    },
    errors: ["too_many_attempts"],
  }, async (c, { body }) => {
    return c.json(
      await sendTestWebhook(c.var.services, c.var.apiKey, body.url),
    );
  });
}

/** `POST /v1/webhooks/test`'s body (the console's form posts the same). */
export const testWebhookBodySchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2048).describe("Where to send the test event"),
}).meta({ id: "TestWebhookParams", description: "The body of `POST /v1/webhooks/test`" });

const testWebhookResultSchema = z.object({
  eventId: z.string(),
  url: z.string(),
  statusCode: z.int().nullable(),
  error: z.string().nullable(),
  durationMs: z.int(),
}).meta({ id: "TestWebhookResult", description: "What the test event's receiver answered" });
