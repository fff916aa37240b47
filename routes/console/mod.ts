/**
 * The developer console, under `/console`: its sign-in routes, then the guard
 * for the whole folder, then the pages. Every page reads and every action
 * writes through the same `lib/` functions as the API.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../../lib/http.ts";
import { consoleGuard } from "./_middleware.ts";
import { registerConsoleAuth } from "./auth.tsx";
import { registerOverview } from "./overview.tsx";
import { registerKeyPages } from "./keys.tsx";
import { registerLinkPages } from "./links.tsx";
import { registerSessionPages } from "./sessions.tsx";
import { registerWebhookPages } from "./webhooks.tsx";
import { registerAccountPages } from "./account.tsx";
import { registerInvitationPages } from "./invitations.tsx";

export function registerConsole(app: Hono<AppEnv>): void {
  app.use("/console", consoleGuard());
  app.use("/console/*", consoleGuard());
  registerConsoleAuth(app);
  registerOverview(app);
  registerKeyPages(app);
  registerLinkPages(app);
  registerSessionPages(app);
  registerWebhookPages(app);
  registerAccountPages(app);
  registerInvitationPages(app);
}
