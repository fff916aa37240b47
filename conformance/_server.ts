/**
 * A real Passage server in-process for the kit: the app `main.ts` builds,
 * over a fresh in-memory Deno KV, on a port of its own, with a fresh test API
 * key (as `tests/_harness.ts` starts it, without the test helpers).
 *
 * @module
 */
import { type Runtime, startRuntime } from "../main.ts";
import { createServices } from "../lib/services.ts";
import { createApiKey } from "../lib/api_keys.ts";
import { loadConfig } from "../lib/config.ts";
import { retryLockedCommits } from "../lib/kv_retry.ts";

/** A running Passage server. */
export interface PassageServer extends AsyncDisposable {
  /** Its public base URL, `http://HOST:PORT`. */
  url: string;
  /** Secret of its test API key. */
  apiKey: string;
  close(): Promise<void>;
}

/** Starts Passage on `hostname` (default 127.0.0.1), reachable as `publicHost`. */
export async function startPassage(
  options: { hostname?: string; publicHost?: string } = {},
): Promise<PassageServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  // Listen first: the configuration is complete (its public URL) before the app is built.
  let runtime: Runtime | null = null;
  const abort = new AbortController();
  const server = Deno.serve(
    { hostname, port: 0, signal: abort.signal, onListen() {} },
    (req, info) =>
      runtime ? runtime.app.fetch(req, info) : new Response("Not started", { status: 503 }),
  );
  const host = options.publicHost ?? hostname;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${server.addr.port}`;
  const kv = retryLockedCommits(await Deno.openKv(":memory:"));
  const started = startRuntime(
    createServices(kv, { ...loadConfig({ PASSAGE_KV_PATH: ":memory:" }), publicUrl: url }),
  );
  runtime = started;
  const { secret } = await createApiKey(kv, { name: "conformance", mode: "test" });
  let closing: Promise<void> | null = null;
  const close = () =>
    closing ??= (async () => {
      await started.close();
      abort.abort();
      await server.finished;
      kv.close();
      await started.jobs.stopped();
    })();
  return { url, apiKey: secret, close, [Symbol.asyncDispose]: close };
}
