/** `/v1/device/*`: what the user's device calls. The claim code is its credential. */
import { getConnInfo } from "hono/deno";
import { deviceClaimParamsSchema, deviceClaimSchema } from "@passage/connect/schemas";
import { getProvider } from "../automations/registry.ts";
import type { Api } from "../lib/http.ts";
import { claimLink } from "../lib/links.ts";

export function registerDeviceRoutes(api: Api): void {
  api.route({
    method: "post",
    path: "/v1/device/claim",
    summary: "Exchange a claim code for a short-lived device token (no API key)",
    tag: "Device",
    auth: "none",
    body: deviceClaimParamsSchema,
    responses: {
      200: {
        description: "The device token and what the link asks for",
        schema: deviceClaimSchema,
      },
    },
    errors: [
      "claim_code_not_found",
      "claim_code_used",
      "claim_code_expired",
      "too_many_attempts",
    ],
  }, async (c, { body }) => {
    const client = clientAddress(c);
    const { deviceToken, expiresAt, link } = await claimLink(
      c.var.kv,
      body.claimCode,
      client,
      c.var.config,
    );
    return c.json({
      deviceToken,
      expiresAt,
      link: {
        id: link.id,
        provider: link.provider,
        providerName: getProvider(link.provider)?.displayName ?? link.provider,
        operations: link.operations,
      },
    });
  });
}

function clientAddress(c: Parameters<Parameters<Api["route"]>[1]>[0]): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // in-process app.request() has no connection
  }
}
