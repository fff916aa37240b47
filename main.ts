/**
 * Passage's server: builds the Hono app over a KV store passed in, and serves it
 * when run directly (`deno task dev`, `deno task start`, Deno Deploy).
 */
import { Hono } from "hono";
import { createApiKey, hasAnyApiKey } from "./lib/api_keys.ts";
import { type Config, loadConfig, openKv } from "./lib/config.ts";
import { PassageError } from "./lib/errors.ts";
import { Api, type AppEnv } from "./lib/http.ts";
import { expireDueLinks } from "./lib/links.ts";
import { registerClaimPage } from "./routes/claim_page.ts";
import { registerDeviceRoutes } from "./routes/device.ts";
import { registerLinkRoutes } from "./routes/links.ts";
import { registerSessionRoutes } from "./routes/sessions.ts";
import { Relay } from "./relay/relay.ts";
import { sweepSessions } from "./lib/sessions.ts";

/** Builds the app. Tests call `app.fetch` in-process or serve it on a loopback port. */
export function createApp(deps: { kv: Deno.Kv; config: Config; relay: Relay }): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("kv", deps.kv);
    c.set("config", deps.config);
    c.set("relay", deps.relay);
    await next();
  });

  const api = new Api(app);
  registerLinkRoutes(api);
  registerDeviceRoutes(api);
  registerSessionRoutes(api);
  registerClaimPage(app);
  app.get("/openapi.json", (c) => c.json(api.openApi(deps.config.publicUrl)));
  app.get("/healthz", (c) => c.json({ ok: true }));

  app.notFound((c) =>
    c.json(
      new PassageError(
        "not_found",
        `No route for ${c.req.method} ${new URL(c.req.url).pathname}`,
      ),
      404,
    )
  );
  app.onError((err, c) => {
    if (err instanceof PassageError) {
      for (const [name, value] of Object.entries(err.headers)) {
        c.header(name, value);
      }
      return c.json(err, err.status as 400);
    }
    console.error(
      `Unhandled error on ${c.req.method} ${new URL(c.req.url).pathname}:`,
      err,
    );
    return c.json(
      new PassageError("internal_error", "Something went wrong on our side"),
      500,
    );
  });
  return app;
}

/** Runs the background sweeps every minute (expiry now; webhooks later). */
export function scheduleSweeps(kv: Deno.Kv, relay: Relay, config: Config): void {
  Deno.cron("passage-sweep", "* * * * *", async () => {
    await expireDueLinks(kv);
    await sweepSessions(kv, relay.log, config);
  });
}

if (import.meta.main) {
  const config = loadConfig();
  const kv = await openKv(config);
  if (Deno.args.includes("--dev") && !(await hasAnyApiKey(kv))) {
    const { secret, key } = await createApiKey(kv, {
      name: "dev",
      mode: "test",
    });
    console.log(
      `Created test API key ${key.id} ("dev"). It is shown once; keep it:`,
    );
    console.log(secret);
  }
  const relay = new Relay(kv, config);
  scheduleSweeps(kv, relay, config);
  const app = createApp({ kv, config, relay });
  Deno.serve({
    port: config.port,
    onListen: ({ hostname, port }) => {
      // With PORT=0 the OS picks the port: hand out URLs that reach it.
      if (!Deno.env.get("PASSAGE_PUBLIC_URL")) config.publicUrl = `http://localhost:${port}`;
      console.log(
        `Passage listening on http://${
          hostname === "0.0.0.0" ? "localhost" : hostname
        }:${port} (public URL ${config.publicUrl}, KV ${config.kvPath ?? "Deno Deploy"})`,
      );
    },
  }, app.fetch);
}
