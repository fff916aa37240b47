/** `/v1/device/*`: what the user's device calls. The claim code is its first credential. */
import { getConnInfo } from "hono/deno";
import type { Context } from "hono";
import { deviceClaimParamsSchema, deviceClaimSchema } from "@passage/connect/schemas";
import { getProvider } from "../automations/catalog.ts";
import { recordClientEvent } from "../lib/client_events.ts";
import { acceptWebSocket, type Api, type AppEnv } from "../lib/http.ts";
import { claimSession } from "../lib/claims.ts";

export function registerDeviceRoutes(api: Api): void {
  api.route({
    method: "post",
    path: "/v1/device/claim",
    operationId: "device.claim",
    summary: "Claim a link or session",
    description:
      "Exchange a claim code for a short-lived device token (no API key): the device then " +
      "connects to `/v1/device/socket`. Wrong codes are rate limited per address.",
    tag: "Device",
    auth: "none",
    body: deviceClaimParamsSchema,
    responses: {
      200: {
        description: "The device token and what the session is for",
        schema: deviceClaimSchema,
      },
    },
    errors: ["claim_code_not_found", "claim_code_used", "claim_code_expired", "too_many_attempts"],
  }, async (c, { body }) => {
    const { deviceToken, expiresAt, session, link } = await claimSession(
      c.var.services,
      body.claimCode,
      clientAddress(c),
    );
    if (link) {
      // right after the claim's commit; a failure to record it must not lose the claim
      await recordClientEvent(c.var.services, link.id, { type: "opened" }).catch((err) =>
        console.error(`link ${link.id}: could not record its opened event:`, err)
      );
    }
    return c.json({
      deviceToken,
      expiresAt,
      sessionId: session.id,
      link: link && {
        id: link.id,
        provider: link.provider,
        providerName: getProvider(link.provider)?.displayName ?? link.provider,
        operations: link.operations.map(({ type }) => ({ type })),
      },
      allowedOrigins: session.allowedOrigins ?? null,
    });
  });

  api.route({
    method: "get",
    path: "/v1/device/socket",
    operationId: "device.connect",
    summary: "Connect as the device",
    description:
      "The device WebSocket (relay/PROTOCOL.md): the device runs the controller's commands " +
      "in its own browser. Authenticate with a hello message carrying the device token.",
    tag: "Device",
    auth: "none",
    responses: { 101: { description: "Switching to the WebSocket protocol" } },
    errors: ["upgrade_required"],
  }, (c) => acceptWebSocket(c, (socket) => c.var.services.relay.acceptDevice(socket)));
}

function clientAddress(c: Context<AppEnv>): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown"; // in-process app.request() has no connection
  }
}
