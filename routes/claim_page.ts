/**
 * `GET /c/{code}`: the page behind `appClipUrl`, where the user starts. It says
 * who asks and for what before anything happens; the device (App Clip, the
 * browser extension or `deno task device`) claims the code behind it.
 * `GET /c/{code}/status` is its live status: what the page shows, as JSON.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../lib/http.ts";
import { readClaimView, toClaimStatus } from "../lib/claim_view.ts";
import { PassageError } from "../lib/errors.ts";
import { phoneSupport, smartAppBanner } from "../lib/native_apps.ts";
import { formatClaimCode, normalizeClaimCode } from "../lib/claim_codes.ts";
import { newNonce, sendPage } from "./_layout.tsx";
import { ClaimPage } from "./_claim_views.tsx";

export function registerClaimPage(app: Hono<AppEnv>): void {
  app.get("/c/:code", async (c) => {
    const { config } = c.var.services;
    const code = c.req.param("code");
    const view = await readClaimView(c.var.services, code);
    const normalized = normalizeClaimCode(code);
    const nonce = newNonce();
    const page = ClaimPage({
      view,
      nonce,
      phones: phoneSupport(config.nativeApps),
      appBanner: view.claimUrl ? smartAppBanner(config.nativeApps, view.claimUrl) : null,
      statusUrl: normalized ? `/c/${formatClaimCode(normalized)}/status` : null,
    });
    return sendPage(c, nonce, page, view.httpStatus);
  });

  // Cheap: at most three KV reads and no writes, the same answer the page renders.
  app.get("/c/:code/status", async (c) => {
    const view = await readClaimView(c.var.services, c.req.param("code"));
    c.header("Cache-Control", "no-store");
    c.header("Referrer-Policy", "no-referrer");
    if (view.kind === "none") {
      throw new PassageError("claim_code_not_found", "That claim code does not exist", {
        param: "code",
      });
    }
    return c.json(toClaimStatus(view));
  });
}
