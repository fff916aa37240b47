/**
 * `/sandbox/<provider>/…`: the sandbox sites test links run against (see
 * automations/sandbox/README.md), and `/sandbox`, a list of them.
 */
import type { Hono } from "hono";
import { html } from "hono/html";
import { createSandboxSite, SANDBOX_PREFIX, SANDBOX_SITES } from "../automations/sandbox/mod.ts";
import type { AppEnv } from "../lib/http.ts";

const registered = new WeakSet<Hono<AppEnv>>();

/** Mounts every sandbox site on `app`; calling it again for the same app does nothing. */
export function registerSandboxRoutes(app: Hono<AppEnv>): void {
  if (registered.has(app)) return;
  registered.add(app);
  for (const spec of SANDBOX_SITES) {
    const base = `${SANDBOX_PREFIX}/${spec.id}`;
    app.route(base, createSandboxSite(spec, base));
    app.get(`${base}/`, (c) => c.redirect(base, 301));
  }
  app.get(SANDBOX_PREFIX, (c) => {
    c.header("Cache-Control", "no-store");
    c.header("X-Robots-Tag", "noindex");
    return c.html(html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="robots" content="noindex">
    <title>Sandbox sites · Passage</title>
    <style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}</style>
  </head>
  <body>
    <h1>Sandbox sites</h1>
    <p>Test links run against these. Log in with <code>user_good</code> / <code>pass_good</code>,
    then code <code>1234</code>.</p>
    <ul>${
      SANDBOX_SITES.map((s) =>
        html`<li><a href="${SANDBOX_PREFIX}/${s.id}/login" style="color:${s.color}">${s.name}</a></li>`
      )
    }</ul>
  </body>
</html>`);
  });
}
