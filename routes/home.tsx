/** @jsxImportSource hono/jsx */
/**
 * `GET /`: where a developer starts (the console, the API reference, the
 * sandbox), and `GET /docs`: the API reference, `/openapi.json` rendered by
 * Redoc's standalone bundle, served from this server (read from the npm
 * package at build time through an import; no CDN).
 */
import type { Hono } from "hono";
import redocBundle from "redoc/bundles/redoc.standalone.js" with { type: "text" };
import type { AppEnv } from "../lib/http.ts";
import { ConsoleLayout, newNonce, sendConsolePage } from "./console/_layout.tsx";

const BUNDLE_PATH = "/docs/redoc.standalone.js";

export function registerHome(app: Hono<AppEnv>): void {
  app.get("/", (c) => {
    const nonce = newNonce();
    return sendConsolePage(
      c,
      nonce,
      <ConsoleLayout title="Passage" nonce={nonce}>
        <h1>Passage</h1>
        <p>
          Account linking where passwords, one-time codes and cookies never leave your user's
          device.
        </p>
        <div class="grid">
          <section class="card" aria-labelledby="h-console">
            <h2 id="h-console">
              <a href="/console">Console</a>
            </h2>
            <p>Sign in to create API keys, follow links and sessions live, and see webhooks.</p>
          </section>
          <section class="card" aria-labelledby="h-docs">
            <h2 id="h-docs">
              <a href="/docs">API reference</a>
            </h2>
            <p>
              Every route, from the OpenAPI document at <a href="/openapi.json">/openapi.json</a>.
            </p>
          </section>
          <section class="card" aria-labelledby="h-sandbox">
            <h2 id="h-sandbox">
              <a href="/sandbox/tmobile">Sandbox</a>
            </h2>
            <p>
              Test links run against sandbox sites: log in with <code>user_good</code> /{" "}
              <code>pass_good</code>, then code <code>1234</code>.
            </p>
          </section>
        </div>
      </ConsoleLayout>,
    );
  });

  // Browsers ask for it on every page; no icon, and no 404 in their console.
  app.get("/favicon.ico", (c) => c.body(null, 204));

  app.get(BUNDLE_PATH, (c) => {
    c.header("Content-Type", "text/javascript; charset=utf-8");
    c.header("Cache-Control", "public, max-age=86400");
    c.header("X-Content-Type-Options", "nosniff");
    return c.body(redocBundle);
  });

  app.get("/docs", (c) => {
    const nonce = newNonce();
    // Redoc writes its styles at run time (styled-components): styles may be
    // inline on this page; scripts still only from here or with the nonce.
    c.header(
      "Content-Security-Policy",
      [
        "default-src 'none'",
        `script-src 'self' 'nonce-${nonce}'`,
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join("; "),
    );
    c.header("Cache-Control", "no-store");
    c.header("X-Frame-Options", "DENY");
    c.header("X-Content-Type-Options", "nosniff");
    return c.html(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>API reference · Passage</title><style>body{margin:0}</style></head><body><main id="main"><redoc spec-url="/openapi.json"></redoc></main><script src="${BUNDLE_PATH}"></script></body></html>`,
    );
  });
}
