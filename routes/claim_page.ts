/**
 * `GET /c/{code}`: the page behind `appClipUrl`. It tells the user what the link
 * is for before anything happens; the device (App Clip or `deno task device`)
 * connects behind it.
 */
import type { Hono } from "hono";
import { html } from "hono/html";
import { getProvider, OPERATION_LABELS } from "../automations/registry.ts";
import type { AppEnv } from "../lib/http.ts";
import { findByClaimCode } from "../lib/sessions.ts";
import { formatClaimCode } from "../lib/claim_codes.ts";

const STATUS_TEXT: Record<string, string> = {
  claimed: "This link has already been opened on a device.",
  running: "This link is in use on a device right now.",
  complete: "This link has been completed. You can close this page.",
  failed: "This link could not be completed. Ask the app that sent it for a new one.",
  expired: "This link has expired. Ask the app that sent it for a new one.",
  cancelled: "This link was cancelled by the app that sent it.",
};

export function registerClaimPage(app: Hono<AppEnv>): void {
  app.get("/c/:code", async (c) => {
    const found = await findByClaimCode(c.var.kv, c.req.param("code"));
    c.header("Cache-Control", "no-store");
    c.header("Referrer-Policy", "no-referrer");
    if (!found) {
      return c.html(
        page(
          "Link not found",
          html`<p>There is no link with this code. Check it and try again.</p>`,
        ),
        404,
      );
    }
    const { session, link } = found;
    if (!link) {
      const pending = session.status === "pending" && Date.parse(session.expiresAt) > Date.now();
      const body = pending
        ? html`
          <p>An app wants to open a browser session on this device. You stay in control:
          you log in yourself, and your password, codes and session never leave this device.</p>
          ${wherePage(session.allowedOrigins ?? null)}
          <p>Claim code: <strong>${formatClaimCode(session.claimCode)}</strong></p>
          <p><small>Expires ${session.expiresAt}</small></p>
        `
        : html`<p>This session is no longer available.</p>`;
      return c.html(page("Open a browser session", body), pending ? 200 : 410);
    }
    const provider = getProvider(link.provider)?.displayName ?? link.provider;
    const status = link.status === "pending" && Date.parse(link.expiresAt) <= Date.now()
      ? "expired"
      : link.status;
    const body = status === "pending"
      ? html`
        <p>An app has asked to read, from your ${provider} account:</p>
        <ul>${link.operations.map((op) => html`<li>${OPERATION_LABELS[op.type]}</li>`)}</ul>
        <p>You will log in to ${provider} yourself, on this device. Your password, codes
        and session never leave it; the app only receives the data listed above.</p>
        ${wherePage(session.allowedOrigins ?? null)}
        <p>Claim code: <strong>${formatClaimCode(link.claimCode)}</strong></p>
        <p><small>Expires ${link.expiresAt}</small></p>
      `
      : html`<p>${STATUS_TEXT[status]}</p>`;
    return c.html(
      page(`Connect your ${provider} account`, body),
      status === "pending" ? 200 : 410,
    );
  });
}

/** Where the session may take the user: its allowed origins, or a plain warning when any. */
function wherePage(origins: readonly string[] | null) {
  if (origins === null) {
    return html`<p class="where-any"><strong>This app may open any website</strong> in this
      session. Check the address before you type a password.</p>`;
  }
  return html`
    <p class="where">This session may only open these websites:</p>
    <ul class="where">${origins.map((o) => html`<li><code>${o}</code></li>`)}</ul>
  `;
}

function page(title: string, body: unknown) {
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="robots" content="noindex">
    <title>${title} · Passage</title>
    <style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}</style>
  </head>
  <body>
    <h1>${title}</h1>
    ${body}
  </body>
</html>`;
}
