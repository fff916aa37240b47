/**
 * Passage as a `fetch` handler for `deno serve`, so one machine's cores all
 * serve it: `deno task serve:parallel` runs one isolate per core
 * (`deno serve --parallel`), each with the whole app, its own relay and its
 * own handle on the one KV store. The sockets of one session may land on
 * different isolates; `BroadcastChannel` crosses them (and `kv.watch` too),
 * so a message between them costs a wake-up, not a poll.
 *
 * `deno task start` (`main.ts`) stays the one-isolate server and the one that
 * prints a dev key and migrates old data; run it once first on a new store.
 *
 * @module
 */
import { loadConfig, openKv } from "./lib/config.ts";
import { createServices } from "./lib/services.ts";
import { QUICK_SWEEP_MS, quickSweep, startRuntime, sweep } from "./main.ts";

const config = loadConfig();
const kv = await openKv(config);
const runtime = startRuntime(createServices(kv, config));

// Every isolate runs the frequent check; the minute sweep is registered once
// per process (a second registration of the same cron name is refused).
try {
  Deno.cron("passage-sweep", "* * * * *", () => sweep(runtime));
} catch { /* another isolate of this process registered it */ }
let sweeping = false;
const quick = setInterval(() => {
  if (sweeping) return;
  sweeping = true;
  quickSweep(runtime)
    .catch((err) => console.error("quick sweep failed:", err))
    .finally(() => sweeping = false);
}, QUICK_SWEEP_MS);

// Deno Deploy and `deno serve` stop with SIGINT: close sockets so devices and
// controllers reconnect elsewhere and resume, within Deploy's 5 s.
globalThis.addEventListener("unload", () => clearInterval(quick));
Deno.addSignalListener("SIGINT", () => {
  clearInterval(quick);
  setTimeout(() => Deno.exit(0), 4_000);
  runtime.close().finally(() => Deno.exit(0));
});

export default {
  fetch: (request: Request, info: Deno.ServeHandlerInfo) => runtime.app.fetch(request, info),
} satisfies Deno.ServeDefaultExport;
