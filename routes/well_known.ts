/**
 * The files phones fetch to trust this server's `/c/*` links: Apple's
 * `apple-app-site-association` (App Clip and universal links) and Android's
 * `assetlinks.json`, from `PASSAGE_IOS_*` and `PASSAGE_ANDROID_*`. Without that
 * configuration they answer 404 with a stable code.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../lib/http.ts";
import { PassageError } from "../lib/errors.ts";
import { appleAppSiteAssociation, assetLinks } from "../lib/native_apps.ts";

export function registerWellKnownRoutes(app: Hono<AppEnv>): void {
  // Apple fetches it without an extension and wants JSON either way.
  for (const path of ["/.well-known/apple-app-site-association", "/apple-app-site-association"]) {
    app.get(path, (c) => {
      const body = appleAppSiteAssociation(c.var.services.config.nativeApps);
      if (!body) {
        throw new PassageError(
          "ios_app_not_configured",
          "No iOS app is configured on this server (PASSAGE_IOS_TEAM_ID with PASSAGE_IOS_BUNDLE_ID or PASSAGE_IOS_APP_CLIP_BUNDLE_ID)",
        );
      }
      c.header("Cache-Control", "public, max-age=3600");
      return c.json(body);
    });
  }

  app.get("/.well-known/assetlinks.json", (c) => {
    const body = assetLinks(c.var.services.config.nativeApps);
    if (!body) {
      throw new PassageError(
        "android_app_not_configured",
        "No Android app is configured on this server (PASSAGE_ANDROID_PACKAGE and PASSAGE_ANDROID_SHA256_FINGERPRINTS)",
      );
    }
    c.header("Cache-Control", "public, max-age=3600");
    return c.json(body);
  });
}
