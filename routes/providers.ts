/**
 * `GET /v1/providers`: the provider catalog, so an integration can tell what
 * it may ask for: each provider's id and name, and each operation it
 * supports with its label and the JSON Schema of its result.
 *
 * @module
 */
import { z } from "zod";
import { resultSchemas } from "@passage/connect/results";
import { createLinkParamsSchema } from "@passage/connect/schemas";
import { listProviders, OPERATION_LABELS, OPERATION_TYPES } from "../automations/catalog.ts";
import type { Api } from "../lib/http.ts";

const operationSchema = z.object({
  type: z.enum(OPERATION_TYPES),
  label: z.string().meta({ description: "What the operation reads, as the claim page words it" }),
  resultSchema: z.record(z.string(), z.unknown()).meta({
    description: "The JSON Schema (draft 2020-12) every result of this operation matches",
  }),
}).meta({ id: "ProviderOperation", description: "An operation a provider supports" });

/** The body of `GET /v1/providers`. */
export const providerListSchema = z.object({
  object: z.literal("list"),
  data: z.array(
    z.object({
      id: z.string(),
      object: z.literal("provider"),
      displayName: z.string(),
      operations: z.array(operationSchema),
    }).meta({ id: "Provider", description: "A provider a link may name" }),
  ),
}).meta({ id: "ProviderList", description: "Every provider this server can link to" });

let cached: z.output<typeof providerListSchema> | null = null;

/** The catalog as the API shows it (computed once: the catalog does not change after start). */
export function providerList(): z.output<typeof providerListSchema> {
  cached ??= {
    object: "list",
    data: listProviders().map((p) => ({
      id: p.id,
      object: "provider",
      displayName: p.displayName,
      operations: p.operations.map((type) => ({
        type,
        label: OPERATION_LABELS[type],
        resultSchema: z.toJSONSchema(resultSchemas[type], {
          io: "output",
          unrepresentable: "any",
        }) as Record<string, unknown>,
      })),
    })),
  };
  return cached;
}

/**
 * Documents `provider` of `POST /v1/links` as an enum of the catalog's ids in
 * the OpenAPI document. The SDK's schema cannot know this server's catalog,
 * so the enum is metadata on its field (zod writes registry metadata into the
 * JSON Schema) and validation is unchanged: an unknown provider still answers
 * `unsupported_provider`, naming it.
 */
function documentProviderEnum(): void {
  const field = (createLinkParamsSchema as unknown as z.ZodObject).shape.provider as z.ZodType;
  const meta = z.globalRegistry.get(field);
  z.globalRegistry.add(field, { ...meta, enum: listProviders().map((p) => p.id) });
}

export function registerProviderRoutes(api: Api): void {
  documentProviderEnum();
  api.route({
    method: "get",
    path: "/v1/providers",
    operationId: "providers.list",
    summary: "List the providers",
    description:
      "The providers a link may name, the operations each supports, and the JSON Schema of " +
      "each operation's result. Public: no API key needed.",
    tag: "Providers",
    auth: "none",
    responses: { 200: { description: "Every provider", schema: providerListSchema } },
  }, (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json(providerList());
  });
}
