/**
 * The OpenAPI 3.1 document, built from the zod schemas that validate requests
 * and describe answers, so the contract cannot drift from the server.
 *
 * zod's own `z.toJSONSchema` does the work: every schema with an `id` in its
 * metadata becomes a named component (`#/components/schemas/<id>`) that the
 * others refer to. The SDK's schemas carry their ids (`.meta({ id })` in
 * `connect/schemas.ts`); the result schemas of `connect/results.ts` and the
 * API's errors and webhook events are named here, in `contract`.
 */
import { z } from "zod";
import { type OperationType, resultSchemas } from "@passage/connect/results";
import {
  clientEventSchema,
  LINK_STATUSES,
  linkDeviceSchema,
  linkSchema,
  type LinkStatus,
  OPERATION_TYPES,
} from "@passage/connect/schemas";
import { errorCatalog, type ErrorCode } from "./errors.ts";
import type { RouteSpec } from "./http.ts";
import type { WebhookEventBody } from "./webhooks.ts";

type Meta = z.core.JSONSchemaMeta;

/**
 * A metadata registry that also reads zod's global one, where `.meta()` and
 * `.describe()` write: names given here join those the schemas carry.
 */
class ContractRegistry extends z.core.$ZodRegistry<Meta> {
  override get<S extends z.core.$ZodType>(schema: S): z.core.$replace<Meta, S> | undefined {
    const own = super.get(schema);
    const global = z.globalRegistry.get(schema);
    return own || global ? { ...global, ...own } as z.core.$replace<Meta, S> : undefined;
  }
}

/** Names and descriptions for the schemas the document shows, beyond their own `.meta()`. */
export const contract: z.core.$ZodRegistry<Meta> = new ContractRegistry();

// ------------------------------------------------------------ results

const RESULT_NAMES: Record<OperationType, [id: string, description: string]> = {
  "mobileBillingStatement:read": ["MobileBillingStatement", "The latest phone bill"],
  "utilityBillingStatement:read": ["UtilityBillingStatement", "The latest utility bill"],
  "paymentMethod:read": ["PaymentMethods", "The saved payment methods"],
  "orderHistory:read": ["OrderHistory", "The order history"],
  "insurancePolicy:read": ["InsurancePolicies", "The insurance policies"],
  "accountOwnership:verify": ["AccountOwnership", "Proof that the user holds the account"],
};
for (const type of OPERATION_TYPES) {
  const [id, description] = RESULT_NAMES[type];
  contract.add(resultSchemas[type], { id, description: `${description} (\`${type}\`)` });
}

// The parts of results worth a name of their own. They are not exported, so
// they are found by their path; one that moved stays inline, unnamed.
const RESULT_PARTS: Array<[z.ZodType, string[], string]> = [
  [resultSchemas["mobileBillingStatement:read"], ["lineItems", "[]"], "StatementLineItem"],
  [resultSchemas["paymentMethod:read"], ["paymentMethods", "[]"], "PaymentMethod"],
  [resultSchemas["orderHistory:read"], ["orders", "[]"], "Order"],
  [resultSchemas["orderHistory:read"], ["orders", "[]", "items", "[]"], "OrderItem"],
  [resultSchemas["insurancePolicy:read"], ["policies", "[]"], "InsurancePolicy"],
  [resultSchemas["insurancePolicy:read"], ["policies", "[]", "coverages", "[]"], "Coverage"],
];
for (const [schema, path, id] of RESULT_PARTS) {
  const found = part(schema, path);
  if (found) contract.add(found, { id });
}

/** A link's `results`, as documented: each requested operation's result, by its type. */
export const linkResultsSchema = z.object(
  Object.fromEntries(OPERATION_TYPES.map((type) => [type, resultSchemas[type].optional()])),
) as z.ZodType<{ [K in OperationType]?: z.output<(typeof resultSchemas)[K]> }>;
contract.add(linkResultsSchema, {
  id: "LinkResults",
  description:
    "The validated results of a link by operation type: one key for each operation it requested",
});

// `Link.results` is validated as a plain record (the SDK keeps unknown keys
// of newer servers); the document gives it its real shape.
const documentedAs = new Map<z.core.$ZodType, z.ZodType>();
documentedAs.set(required(part(linkSchema, ["results"]), "Link.results"), linkResultsSchema);

// ------------------------------------------------------------ webhook events

/** The kinds of webhook event. */
export const webhookEventTypeSchema = z.enum(["link.completed", "link.failed", "link.event"])
  .meta({ id: "WebhookEventType", description: "The kind of a link's webhook event" });

const linkErrorSchema = required(part(linkSchema, ["error"]), "Link.error") as z.ZodType<
  { code: string; message: string }
>;

const eventFields = {
  id: z.string().describe(
    "The event id (`evt_…`): the same on every retry, so use it to ignore repeats",
  ),
  linkId: z.string().describe("The link's id (`link_…`)"),
  provider: z.string().describe('Provider id, such as `"tmobile"`'),
  livemode: z.boolean().describe("True for a link created with a live key (`sk_live_…`)"),
  device: linkDeviceSchema.nullable().describe("The device that ran the link; null if none did"),
  createdAt: z.iso.datetime().describe("When the event was created (ISO 8601)"),
};

const linkCompletedEvent: z.ZodType<WebhookEventBody> = z.object({
  ...eventFields,
  type: z.literal("link.completed"),
  status: z.literal("complete"),
  results: linkResultsSchema,
}).meta({
  id: "LinkCompletedEvent",
  description: "A link's operations all succeeded: here are their validated results",
});

const linkFailedEvent: z.ZodType<WebhookEventBody> = z.object({
  ...eventFields,
  type: z.literal("link.failed"),
  status: z.literal("failed"),
  error: linkErrorSchema,
  results: linkResultsSchema.optional().describe("The results of operations that did succeed"),
}).meta({ id: "LinkFailedEvent", description: "A link failed: why, as a stable code" });

const linkClientEvent: z.ZodType<WebhookEventBody> = z.object({
  ...eventFields,
  type: z.literal("link.event"),
  status: z.enum(LINK_STATUSES as [LinkStatus, ...LinkStatus[]])
    .describe("The link's status when the event happened"),
  event: clientEventSchema,
}).meta({
  id: "LinkClientEvent",
  description:
    'One client event of a link (`opened`, `login_failed_attempt`, …), sent only to links created with `webhookEvents: ["client"]`',
});

const webhookTestEvent = z.object({
  id: eventFields.id,
  type: z.literal("webhook.test"),
  livemode: z.boolean().describe("True when a live key sent it"),
  createdAt: eventFields.createdAt,
}).meta({
  id: "WebhookTestEvent",
  description: "What `POST /v1/webhooks/test` sends: signed like every event, never stored",
});

/** Every webhook event, as the document's `webhooks` section describes it, by `type`. */
export const webhookEventSchemas: Record<string, z.ZodType> = {
  "link.completed": linkCompletedEvent,
  "link.failed": linkFailedEvent,
  "link.event": linkClientEvent,
  "webhook.test": webhookTestEvent,
};

const WEBHOOKS: Array<{ name: string; summary: string; schema: z.ZodType }> = [
  { name: "link.completed", summary: "A link completed", schema: linkCompletedEvent },
  { name: "link.failed", summary: "A link failed", schema: linkFailedEvent },
  { name: "link.event", summary: "A client event happened on a link", schema: linkClientEvent },
  { name: "webhook.test", summary: "A test event", schema: webhookTestEvent },
];

const WEBHOOK_DESCRIPTION =
  "Passage POSTs the event to the link's `webhookUrl`. Verify the `Passage-Verification` header " +
  "before trusting the body: an ES256 JWT whose `kid` names a key from " +
  "`/webhook_verification_key/get` (or `/.well-known/jwks.json`), whose `request_body_sha256` is " +
  "the hex SHA-256 of the exact bytes received, whose `aud` is your account id and whose `iat` " +
  "is recent. A 2xx answer acknowledges the event; anything else is retried with backoff " +
  "(a 429's `Retry-After` is honoured) with the same event id, except 410, which stops it.";

// ------------------------------------------------------------ errors

const CATALOG = errorCatalog();

const errorCodeSchema = z.enum(CATALOG.map(({ code }) => code) as [ErrorCode, ...ErrorCode[]])
  .meta({
    id: "ErrorCode",
    description: "A stable, machine-readable error code; each has its own schema, such as " +
      "`LinkNotFoundError`, saying when it is answered",
  });

const errorTypeSchema = z.enum([...new Set(CATALOG.map(({ type }) => type))] as [
  string,
  ...string[],
]).meta({ id: "ErrorType", description: "The family of an error" });

const errorFields = {
  message: z.string().describe("What was wrong, in a sentence for humans"),
  param: z.string().optional().describe(
    "The request field at fault, as a dotted path (`operations.0.type`)",
  ),
  request_id: z.string().optional().describe(
    "The answer's `Request-Id` header: quote it to support, find it in the server's logs",
  ),
};

const errorSchema = z.object({
  error: z.object({ type: errorTypeSchema, code: errorCodeSchema, ...errorFields }),
}).meta({ id: "Error", description: "The body of every error answer" });

/** `link_not_found` → `LinkNotFoundError`; `internal_error` → `InternalError`. */
function errorSchemaId(code: string): string {
  const pascal = code.replace(/(^|_)([a-z])/g, (_, __, ch: string) => ch.toUpperCase());
  return pascal.endsWith("Error") ? pascal : `${pascal}Error`;
}

const codeSchemas = new Map<ErrorCode, z.ZodType>(CATALOG.map(({ code, type, description }) => [
  code,
  z.object({
    error: z.object({ type: z.literal(type), code: z.literal(code), ...errorFields }),
  }).meta({ id: errorSchemaId(code), description }),
]));

// ------------------------------------------------------------ the document

// In the order a developer meets them; the reference shows them so.
const TAGS = [
  { name: "Links", description: "Ask for data that only your user can reach, and get it back" },
  { name: "Sessions", description: "Drive a browser on your user's device yourself" },
  {
    name: "Webhooks",
    description: "Signed events about your links, their deliveries, and the keys that verify them",
  },
  {
    name: "Providers",
    description: "The providers a link may name, what each can read, and the shape of each result",
  },
  {
    name: "Device",
    description: "What the user's device calls: a claim code buys it a device token",
  },
];

const STATUS_TEXT: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not found",
  409: "Conflict",
  410: "Gone",
  413: "Payload too large",
  415: "Unsupported media type",
  422: "Unprocessable",
  426: "Upgrade required",
  429: "Too many requests",
  500: "Internal error",
};

// ------------------------------------------------------------ idempotency

const IDEMPOTENCY_KEY_PARAMETER = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description: "Makes a retry safe: the same key and request within 24 h get the first " +
    "successful answer again instead of acting twice; the same key with another request is a " +
    "422 `idempotency_key_reused`; while the first is still running, a repeat waits for its " +
    "answer (a 409 `write_conflict` after 20 s). Keys are kept per account and mode, per " +
    "operation. An error answer is not kept: retrying it runs the request again.",
  schema: { type: "string", minLength: 1, maxLength: 255 },
};

const REPLAY_SENTENCE = "A repeated `Idempotency-Key` gets a replay of this first answer";

const REPLAYED_HEADERS = {
  "Idempotent-Replayed": {
    description: "`true` when this is the replay of an earlier answer",
    schema: { type: "string", enum: ["true"] },
  },
};

type AnySpec = RouteSpec<z.ZodType | undefined, z.ZodType | undefined>;
type Json = Record<string, unknown>;

/** The OpenAPI 3.1 document of `specs`, served from `serverUrl`. */
export function openApiDocument(specs: readonly AnySpec[], serverUrl: string): Json {
  const schemas = new Components();
  const status = new Map(CATALOG.map(({ code, status }) => [code, status]));
  const paths: Record<string, Json> = {};
  for (const spec of specs) {
    const parameters: Json[] = [];
    for (const match of spec.path.matchAll(/\{(\w+)\}/g)) {
      parameters.push({
        name: match[1],
        in: "path",
        required: true,
        description: spec.params?.[match[1]] ?? `The ${match[1]}`,
        schema: { type: "string" },
      });
    }
    if (spec.query) parameters.push(...queryParameters(schemas, spec.query));
    if (spec.idempotent) parameters.push(IDEMPOTENCY_KEY_PARAMETER);

    const responses: Json = {};
    for (const [code, res] of Object.entries(spec.responses)) {
      const replayed = spec.idempotent && Number(code) >= 200 && Number(code) < 300;
      const headers = { ...res.headers, ...(replayed ? REPLAYED_HEADERS : {}) };
      responses[code] = {
        description: replayed ? `${res.description}. ${REPLAY_SENTENCE}` : res.description,
        ...(Object.keys(headers).length ? { headers } : {}),
        ...(res.schema
          ? {
            content: {
              [res.mediaType ?? "application/json"]: {
                schema: schemas.schema(res.schema, "output"),
              },
            },
          }
          : {}),
      };
    }
    const codes: ErrorCode[] = [...(spec.errors ?? [])];
    if (spec.auth === "apiKey") codes.push("missing_api_key", "invalid_api_key", "revoked_api_key");
    if (spec.body || spec.query) codes.push("invalid_request");
    if (spec.body) codes.push("invalid_json", "payload_too_large", "unsupported_media_type");
    if (spec.idempotent) codes.push("idempotency_key_reused", "write_conflict");
    const byStatus = Map.groupBy(new Set(codes), (code) => status.get(code)!);
    for (const [httpStatus, list] of [...byStatus].sort(([a], [b]) => a - b)) {
      const refs = list.map((code) => schemas.schema(codeSchemas.get(code)!, "output"));
      responses[String(httpStatus)] = {
        description: `${STATUS_TEXT[httpStatus] ?? "Error"}: ${list.join(", ")}`,
        ...(httpStatus === 429
          ? {
            headers: {
              "Retry-After": {
                description: "Seconds to wait before trying again",
                schema: { type: "integer" },
              },
            },
          }
          : {}),
        content: { "application/json": { schema: refs.length === 1 ? refs[0] : { anyOf: refs } } },
      };
    }
    responses.default = {
      description: "Any other error, such as `internal_error`",
      content: { "application/json": { schema: schemas.schema(errorSchema, "output") } },
    };

    paths[spec.path] ??= {};
    paths[spec.path][spec.method] = {
      operationId: spec.operationId,
      summary: spec.summary,
      description: spec.description,
      tags: [spec.tag],
      security: spec.auth === "apiKey" ? [{ apiKey: [] }] : [],
      parameters,
      ...(spec.body
        ? {
          requestBody: {
            required: true,
            content: { "application/json": { schema: schemas.schema(spec.body, "input") } },
          },
        }
        : {}),
      responses,
    };
  }

  const webhooks: Json = {};
  for (const { name, summary, schema } of WEBHOOKS) {
    webhooks[name] = {
      post: {
        operationId: `on.${name}`,
        summary,
        description: WEBHOOK_DESCRIPTION,
        tags: ["Webhooks"],
        security: [],
        parameters: [
          {
            name: "Passage-Verification",
            in: "header",
            required: true,
            description: "An ES256 JWT that signs the body: verify it before trusting the body",
            schema: { type: "string" },
          },
          {
            name: "Webhook-Id",
            in: "header",
            required: true,
            description: "The event id again, the same on every retry",
            schema: { type: "string" },
          },
        ],
        requestBody: {
          required: true,
          content: { "application/json": { schema: schemas.schema(schema, "output") } },
        },
        responses: {
          "200": { description: "Acknowledged: any 2xx status stops the retries" },
          "410": { description: "Gone: Passage stops sending this event" },
        },
      },
    };
  }

  return {
    openapi: "3.1.0",
    info: {
      title: "Passage API",
      version: "1.0.0",
      summary: "Account linking where credentials never leave the user's device",
      description:
        "Your backend creates a link; your user logs in to the provider on their own device; " +
        "Passage returns the validated data in a signed webhook. Passwords, MFA codes, cookies " +
        "and session tokens never leave the user's device.",
      contact: { name: "Passage", url: serverUrl },
      license: { name: "MIT", identifier: "MIT" },
    },
    servers: [{ url: serverUrl, description: "This Passage server" }],
    tags: TAGS,
    paths,
    webhooks,
    components: {
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "A secret key: sk_test_… or sk_live_…",
        },
      },
      schemas: schemas.named,
    },
  };
}

/** A query schema as parameters: each typed as the server reads it (`limit` is an integer). */
function queryParameters(schemas: Components, query: z.ZodType): Json[] {
  // The types come from the output side (a query arrives as text and is
  // parsed); which fields are required, from the input side.
  const output = schemas.schema(query, "output") as {
    $ref?: string;
    properties?: Record<string, Json>;
  };
  if (output.$ref) {
    throw new Error(`Query schema ${output.$ref} has an id: its fields are parameters`);
  }
  const input = z.toJSONSchema(query, { io: "input", unrepresentable: "any" }) as {
    required?: string[];
  };
  return Object.entries(output.properties ?? {}).map(([name, { description, ...schema }]) => ({
    name,
    in: "query",
    required: input.required?.includes(name) ?? false,
    ...(description === undefined ? {} : { description }),
    schema,
  }));
}

/** The named schemas of one document, filled as its operations refer to them. */
class Components {
  readonly named: Record<string, Json> = {};
  readonly #io = new Map<string, "input" | "output">();

  /** `schema` as JSON Schema, its named parts (and itself, if named) as `$ref`s. */
  schema(schema: z.ZodType, io: "input" | "output"): Json {
    const documented = new Set<z.ZodType>();
    const { $schema: _, $defs = {}, ...root } = z.toJSONSchema(schema, {
      io,
      metadata: contract,
      unrepresentable: "any",
      override: (ctx) => tidy(ctx, documented),
    }) as Json & { $defs?: Record<string, Json> };
    for (const [id, def] of Object.entries($defs)) {
      if (id.startsWith("__")) throw new Error(`An unnamed schema is reused in a cycle: name it`);
      const json = toComponentRefs(def);
      const known = this.named[id];
      if (known && JSON.stringify(known) !== JSON.stringify(json)) {
        throw new Error(
          `Schema "${id}" reads differently as ${io} than as ${
            this.#io.get(id)
          }: give each its own id`,
        );
      }
      this.named[id] = json;
      this.#io.set(id, io);
    }
    for (const doc of documented) {
      if (!this.named[contract.get(doc)!.id!]) this.schema(doc, io);
    }
    return toComponentRefs(root);
  }
}

function toComponentRefs(json: Json): Json {
  return JSON.parse(JSON.stringify(json).replaceAll('"#/$defs/', '"#/components/schemas/'));
}

/**
 * Drops zod's safe-integer bounds and date patterns, documents each schema of `documentedAs`
 * as a `$ref` to its documented schema, which it adds to `used`.
 */
function tidy(
  ctx: { zodSchema: z.core.$ZodType; jsonSchema: z.core.JSONSchema.BaseSchema },
  used: Set<z.ZodType>,
) {
  const json = ctx.jsonSchema;
  if (json.maximum === Number.MAX_SAFE_INTEGER) delete json.maximum;
  if (json.minimum === Number.MIN_SAFE_INTEGER) delete json.minimum;
  // `format` says it; zod's pattern for it is a screenful of regex
  if (json.format === "date-time" || json.format === "date") delete json.pattern;
  const documented = documentedAs.get(ctx.zodSchema);
  if (documented) {
    used.add(documented);
    for (const key of Object.keys(json)) delete json[key];
    json.$ref = `#/components/schemas/${contract.get(documented)!.id}`;
  }
}

/** The schema at `path` (property names, `[]` for an array's items) inside `schema`. */
function part(schema: z.core.$ZodType, path: string[]): z.ZodType | undefined {
  let at: z.core.$ZodType | undefined = schema;
  for (const step of path) {
    const def = unwrap(at)._zod.def as z.core.$ZodTypeDef & {
      element?: z.core.$ZodType;
      shape?: Record<string, z.core.$ZodType>;
    };
    at = step === "[]" ? def.element : def.shape?.[step];
    if (!at) return undefined;
  }
  return unwrap(at) as z.ZodType;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not where the OpenAPI document looks`);
  return value;
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  const def = schema._zod.def as z.core.$ZodTypeDef & { innerType?: z.core.$ZodType };
  return (def.type === "optional" || def.type === "nullable") && def.innerType
    ? unwrap(def.innerType)
    : schema;
}
