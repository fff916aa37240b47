/**
 * Passage's server: builds the Hono app over a KV store passed in, and serves it
 * when run directly (`deno task dev`, `deno task start`, Deno Deploy).
 */
import { type Context, Hono } from "hono";
import { createApiKey, hasAnyApiKey } from "./lib/api_keys.ts";
import { type Config, isKvConnectUrl, loadConfig, openKv } from "./lib/config.ts";
import { type ErrorBody, PassageError } from "./lib/errors.ts";
import { configureLog, log, requestLog } from "./lib/log.ts";
import { Api, type AppEnv, type AppServices } from "./lib/http.ts";
import { createServices, type Services } from "./lib/services.ts";
import { openApiDocument } from "./lib/openapi.ts";
import { expireDueLinks } from "./lib/links.ts";
import { migrateToAccounts } from "./lib/account_migration.ts";
import { accountsOfMember, createAccount } from "./lib/accounts.ts";
import { createDevSignInLink, DEV_EMAIL, devSignInAllowed } from "./lib/auth/dev_sign_in.ts";
import { registerClaimPage } from "./routes/claim_page.ts";
import { registerExtensionPage } from "./routes/extension_page.ts";
import { registerWellKnownRoutes } from "./routes/well_known.ts";
import { registerDeviceRoutes } from "./routes/device.ts";
import { registerLinkRoutes } from "./routes/links.ts";
import { registerProviderRoutes } from "./routes/providers.ts";
import { registerSessionRoutes } from "./routes/sessions.ts";
import { Relay } from "./relay/relay.ts";
import { sweepSessions } from "./lib/sessions.ts";
import { deliverDueWebhooks, registerWebhookJobs } from "./lib/webhook_delivery.ts";
import { registerWebhookRoutes } from "./routes/webhooks.ts";
import { registerWebhookListenRoute } from "./routes/webhook_listen.ts";
import { registerSandboxRoutes } from "./routes/sandbox.ts";
import { registerConsole } from "./routes/console/mod.ts";
import { registerHome } from "./routes/home.tsx";
import { registerLogoRoutes } from "./routes/logos.ts";
import { consoleErrorPage, isConsoleRequest } from "./routes/console/_error.tsx";
import { purgeExpiredWebhookEvents } from "./lib/webhooks.ts";
import { Engine } from "./automations/engine.ts";
import type { Bus } from "./relay/bus.ts";
import { endLostDevices, reapDeadInstances } from "./relay/presence.ts";

/** Builds the app. Tests call `app.fetch` in-process or serve it on a loopback port. */
export function createApp(services: AppServices): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(requestLog());
  app.use(async function withServices(c, next) {
    c.set("services", services);
    await next();
  });

  const api = new Api(app);
  registerLinkRoutes(api);
  registerDeviceRoutes(api);
  registerSessionRoutes(api);
  registerWebhookRoutes(api);
  registerWebhookListenRoute(api);
  registerProviderRoutes(api);
  registerClaimPage(app);
  registerExtensionPage(app);
  registerWellKnownRoutes(app);
  registerSandboxRoutes(app);
  registerConsole(app);
  registerLogoRoutes(app);
  registerHome(app);
  let openApi: Record<string, unknown> | undefined;
  app.get(
    "/openapi.json",
    (c) => c.json(openApi ??= openApiDocument(api.specs, services.config.publicUrl)),
  );
  app.get("/healthz", (c) => c.json({ ok: true }));

  app.notFound((c) =>
    isConsoleRequest(c)
      ? consoleErrorPage(
        c,
        new PassageError("not_found", `There is no page at ${new URL(c.req.url).pathname}`),
      )
      : c.json(
        errorBody(
          c,
          new PassageError(
            "not_found",
            `No route for ${c.req.method} ${new URL(c.req.url).pathname}`,
          ),
        ),
        404,
      )
  );
  app.onError((err, c) => {
    if (err instanceof PassageError) {
      for (const [name, value] of Object.entries(err.headers)) {
        c.header(name, value);
      }
      if (isConsoleRequest(c)) return consoleErrorPage(c, err);
      return c.json(errorBody(c, err), err.status as 400);
    }
    // The stack goes to stderr for whoever runs the server; the log line
    // carries what support needs to find it (never the request itself).
    log.error("request.unhandled_error", {
      request_id: c.get("requestId"),
      method: c.req.method,
      error: err instanceof Error ? err.name : typeof err,
    });
    console.error(
      `Unhandled error on ${c.req.method} ${new URL(c.req.url).pathname} (request ${
        c.get("requestId")
      }):`,
      err,
    );
    return c.json(
      errorBody(c, new PassageError("internal_error", "Something went wrong on our side")),
      500,
    );
  });
  return app;
}

/** An error's JSON body, with the request id to quote to support (`error.request_id`). */
function errorBody(c: Context<AppEnv>, err: PassageError): ErrorBody {
  const { error } = err.toJSON();
  return { error: { ...error, request_id: c.get("requestId") } as ErrorBody["error"] };
}

/** What `--dev` prints on how to receive webhooks on this machine. */
function webhookHint(url: string, config: Readonly<Config>): string {
  const loopback = config.allowLoopbackWebhooks
    ? "Webhooks: loopback receivers are allowed (PASSAGE_WEBHOOK_ALLOW_LOOPBACK=1): a link's webhookUrl can be http://localhost:3000/hook."
    : "Webhooks: to send them to a receiver on this machine, restart with PASSAGE_WEBHOOK_ALLOW_LOOPBACK=1 (then a webhookUrl can be http://localhost:3000/hook),";
  return `${loopback}\n${
    config.allowLoopbackWebhooks ? "Or" : "or"
  } forward every event of a key: deno task webhooks listen --url ${url} --api-key sk_test_… --forward-to http://localhost:3000/hook\nSend a test event: curl -X POST ${url}/v1/webhooks/test -H "Authorization: Bearer sk_test_…" -H "Content-Type: application/json" -d '{"url":"http://localhost:3000/hook"}'`;
}

/** A running Passage: the app and the background parts behind it. */
export interface Runtime {
  app: Hono<AppEnv>;
  /** What the app's requests reach as `c.var.services`. */
  services: AppServices;
  relay: Relay;
  jobs: Services["jobs"];
  engine: Engine;
  /** Stops the engine and the relay (close the KV store after, then await `jobs.stopped()`). */
  close(): Promise<void>;
}

/**
 * Builds the app and starts what runs behind it on this instance: the relay,
 * the queue listener and the automation engine. A device connecting to a
 * link's session starts the link's run here at once.
 */
export function startRuntime(svc: Services, options: { bus?: Bus } = {}): Runtime {
  const relay = new Relay(svc, options.bus);
  const services: AppServices = Object.freeze({ ...svc, relay, sessionLog: relay.log });
  const engine = new Engine(services);
  registerWebhookJobs(svc);
  relay.onDeviceConnected((session) => session.linkId && engine.kick(session.linkId));
  const app = createApp(services);
  svc.jobs.listen();
  return {
    app,
    services,
    relay,
    jobs: svc.jobs,
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
export async function sweep(runtime: Runtime): Promise<void> {
  const { kv, config, clock, relay } = runtime.services;
  await expireDueLinks(runtime.services);
  await sweepSessions(runtime.services);
  await relay.log.sweepExpiredKeys();
  await runtime.engine.sweep();
  // As before, no queue wake-ups from here: the frequent check finds retries in the outbox.
  await deliverDueWebhooks({ kv, config, clock });
  await purgeExpiredWebhookEvents(runtime.services);
}

/** How often `quickSweep` runs on every instance. */
export const QUICK_SWEEP_MS = 2_000;

/**
 * The frequent, cheap check behind the minute sweep: devices of instances that
 * died (their heartbeat lapsed), devices away past their grace, and link runs
 * and webhook deliveries whose short lease lapsed. Each is one range read of
 * a small index, so another instance takes over within seconds.
 */
export async function quickSweep(runtime: Runtime): Promise<void> {
  await reapDeadInstances(runtime.services);
  await endLostDevices(runtime.services);
  await runtime.engine.sweep();
  await deliverDueWebhooks(runtime.services);
}

if (import.meta.main) {
  configureLog("info");
  const loaded = loadConfig();
  const kv = await openKv(loaded);
  const migrated = await migrateToAccounts(kv);
  if (migrated.accounts) {
    console.log(
      `Accounts: gave ${migrated.accounts} API key(s) an account; re-owned ${migrated.links} link(s), ${migrated.sessions} session(s), ${migrated.events} webhook event(s)`,
    );
  }
  const devSignIn = devSignInAllowed(Deno.args, Deno.env.toObject());
  if (devSignIn && !(await hasAnyApiKey(kv))) {
    // The dev key belongs to the account the dev sign-in opens.
    const [existing] = await accountsOfMember(kv, DEV_EMAIL);
    const account = existing ?? await createAccount(kv, { name: "Dev", members: [DEV_EMAIL] });
    const { secret, key } = await createApiKey(kv, {
      name: "dev",
      mode: "test",
      accountId: account.id,
    });
    console.log(
      `Created test API key ${key.id} ("dev"). It is shown once; keep it:`,
    );
    console.log(secret);
  }
  // Listen first, so that with PORT=0 (the OS picks the port) the public URL
  // is known before the configuration is frozen and the app built; the
  // handler forwards to the app, built before any request can be handled.
  let app: Hono<AppEnv> | null = null;
  const server = Deno.serve(
    { port: loaded.port, onListen() {} },
    (req, info) => app ? app.fetch(req, info) : new Response("Starting", { status: 503 }),
  );
  const { hostname, port } = server.addr;
  const services = createServices(kv, {
    ...loaded,
    publicUrl: Deno.env.get("PASSAGE_PUBLIC_URL") ? loaded.publicUrl : `http://localhost:${port}`,
    signIn: { ...loaded.signIn, devSignIn },
  });
  const { config } = services;
  const started = startRuntime(services);
  app = started.app;
  Deno.cron("passage-sweep", "* * * * *", () => sweep(started));
  let sweeping = false;
  const quick = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    quickSweep(started)
      .catch((err) => console.error("quick sweep failed:", err))
      .finally(() => sweeping = false);
  }, QUICK_SWEEP_MS);
  if (config.signIn.devSignIn && config.signIn.providers.length === 0) {
    createDevSignInLink(kv, config).then((link) =>
      console.log(`Console: sign in once within 10 minutes at ${link}`)
    );
  }
  const url = `http://${hostname === "0.0.0.0" ? "localhost" : hostname}:${port}`;
  if (config.signIn.devSignIn) console.log(webhookHint(url, config));
  console.log(
    `Passage listening on ${url} (public URL ${config.publicUrl}, KV ${
      config.kvPath ?? "Deno Deploy"
    })`,
  );
  log.info("server.start", {
    url,
    public_url: config.publicUrl,
    kv: config.kvPath === undefined ? "deploy" : isKvConnectUrl(config.kvPath) ? "remote" : "local",
    queues: config.useQueues,
    loopback_webhooks: config.allowLoopbackWebhooks,
  });
  // Deno Deploy evicts with SIGINT and 5 s of grace: stop taking work and
  // close sockets so devices and controllers reconnect elsewhere and resume.
  // Whatever hangs, the process is gone within the 5 s (4 s, to be safe).
  Deno.addSignalListener("SIGINT", async () => {
    setTimeout(() => Deno.exit(0), 4_000);
    clearInterval(quick);
    try {
      await started.close();
      await server.shutdown();
    } finally {
      Deno.exit(0);
    }
  });
}
