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
import { registerExtensionPage } from "./routes/extension_page.ts";
import { registerWellKnownRoutes } from "./routes/well_known.ts";
import { registerDeviceRoutes } from "./routes/device.ts";
import { registerLinkRoutes } from "./routes/links.ts";
import { registerSessionRoutes } from "./routes/sessions.ts";
import { Relay } from "./relay/relay.ts";
import { sweepSessions } from "./lib/sessions.ts";
import { Jobs } from "./lib/queue.ts";
import { deliverDueWebhooks, registerWebhookJobs } from "./lib/webhook_delivery.ts";
import { registerWebhookRoutes } from "./routes/webhooks.ts";
import { registerSandboxRoutes } from "./routes/sandbox.ts";
import { purgeExpiredWebhookEvents } from "./lib/webhooks.ts";
import { Engine } from "./automations/engine.ts";
import type { Bus } from "./relay/bus.ts";

/** Builds the app. Tests call `app.fetch` in-process or serve it on a loopback port. */
export function createApp(
  deps: { kv: Deno.Kv; config: Config; relay: Relay; jobs: Jobs },
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("kv", deps.kv);
    c.set("config", deps.config);
    c.set("relay", deps.relay);
    c.set("jobs", deps.jobs);
    await next();
  });

  const api = new Api(app);
  registerLinkRoutes(api);
  registerDeviceRoutes(api);
  registerSessionRoutes(api);
  registerWebhookRoutes(api);
  registerClaimPage(app);
  registerExtensionPage(app);
  registerWellKnownRoutes(app);
  registerSandboxRoutes(app);
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

/** A running Passage: the app and the background parts behind it. */
export interface Runtime {
  app: Hono<AppEnv>;
  relay: Relay;
  jobs: Jobs;
  engine: Engine;
  /** Stops the engine and the relay (close the KV store after, then await `jobs.stopped()`). */
  close(): Promise<void>;
}

/**
 * Builds the app and starts what runs behind it on this instance: the relay,
 * the queue listener and the automation engine. A device connecting to a
 * link's session starts the link's run here at once.
 */
export function startRuntime(
  kv: Deno.Kv,
  config: Config,
  options: { bus?: Bus } = {},
): Runtime {
  const relay = new Relay(kv, config, options.bus);
  const jobs = new Jobs(kv, { useQueues: config.useQueues });
  const engine = new Engine({ kv, config, relay, jobs });
  registerWebhookJobs(jobs, kv, config);
  relay.onDeviceConnected((session) => session.linkId && engine.kick(session.linkId));
  const app = createApp({ kv, config, relay, jobs });
  jobs.listen();
  return {
    app,
    relay,
    jobs,
    engine,
    async close() {
      await engine.close();
      await relay.close();
    },
  };
}

/**
 * The sweeps behind every fast path: link expiry, session timeouts, telemetry
 * keys past their retention, links waiting for a run, due webhooks. Run every
 * minute by `Deno.cron`.
 */
export async function sweep(kv: Deno.Kv, runtime: Runtime, config: Config): Promise<void> {
  await expireDueLinks(kv);
  await sweepSessions(kv, runtime.relay.log, config);
  await runtime.relay.log.sweepExpiredKeys();
  await runtime.engine.sweep();
  await deliverDueWebhooks(kv, { config });
  await purgeExpiredWebhookEvents(kv, config.resultRetentionSeconds * 1000);
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
  const runtime = startRuntime(kv, config);
  Deno.cron("passage-sweep", "* * * * *", () => sweep(kv, runtime, config));
  const server = Deno.serve({
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
  }, runtime.app.fetch);
  // Deno Deploy evicts with SIGINT and 5 s of grace: stop taking work and
  // close sockets so devices and controllers reconnect elsewhere and resume.
  Deno.addSignalListener("SIGINT", async () => {
    await runtime.close();
    await server.shutdown();
    Deno.exit(0);
  });
}
