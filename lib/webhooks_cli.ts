/**
 * `deno task webhooks listen --forward-to http://localhost:3000/hook`: streams
 * the API key's webhook deliveries from a Passage server
 * (`GET /v1/webhooks/listen`) and POSTs each to a local receiver with the
 * exact bytes and headers Passage signed, so `verifyWebhook` accepts it. One
 * line per event with the receiver's answer; it reconnects when the server
 * goes away (a `deno task dev` restart) or ends the stream, and resumes after
 * the last event. A key holds a few streams at most: a first connection
 * refused for that says so and exits; a reconnection waits for `Retry-After`.
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { CliError, parseCli, runCli, UsageError } from "./cli.ts";
import type { ListenDelivery } from "./webhook_listen.ts";

export const USAGE = `Usage:
  deno task webhooks listen --forward-to URL [--url SERVER] [--api-key sk_…] [--json]

  Streams your account's webhook events (the key's mode: test or live) from a Passage
  server and forwards each, signed as Passage sent it, to a receiver on your machine.
  Send one with POST /v1/webhooks/test, or finish a link that has a webhookUrl.

Options:
  --forward-to URL   where to POST each event (e.g. http://localhost:3000/hook)
  --url SERVER       the Passage server (default $PASSAGE_URL, else http://localhost:8000)
  --api-key KEY      a secret key (default $PASSAGE_API_KEY)
  --json             one JSON object per event on stdout
  -h, --help         this help`;

/** How long the receiver has to answer one forwarded event. */
const FORWARD_TIMEOUT_MS = 30_000;
/** The longest wait between reconnection attempts. */
const MAX_BACKOFF_MS = 10_000;

/** A refusal worth waiting out on a reconnection (429: the key's streams are all taken). */
class TryLater extends CliError {
  constructor(message: string, readonly waitMs: number) {
    super(message);
  }
}

/** What happened to one forwarded event, as printed. */
export interface ForwardResult {
  event_id: string;
  type: string;
  link_id: string | null;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

/** POSTs one delivery to `url` exactly as Passage signed it. */
export async function forward(delivery: ListenDelivery, url: string): Promise<ForwardResult> {
  const started = performance.now();
  const result = (status: number | null, error: string | null): ForwardResult => ({
    event_id: delivery.id,
    type: delivery.type,
    link_id: delivery.linkId,
    status,
    error,
    duration_ms: Math.round(performance.now() - started),
  });
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { ...delivery.headers, "user-agent": "Passage-Webhooks/1 (listen)" },
      body: new TextEncoder().encode(delivery.body),
      redirect: "manual",
      signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
    });
    await res.body?.cancel();
    return result(res.status, null);
  } catch (err) {
    const name = (err as Error).name;
    return result(
      null,
      name === "TimeoutError" ? "timeout" : (err as Error).message.split("\n")[0],
    );
  }
}

/** One connection to the listen stream; returns when it ends (the id of the last event seen). */
async function streamOnce(
  options: { server: string; apiKey: string; lastEventId: string | null; signal: AbortSignal },
  onReady: (info: { accountId: string; livemode: boolean }) => void,
  onDelivery: (delivery: ListenDelivery) => Promise<void>,
): Promise<string | null> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${options.apiKey}`,
    accept: "text/event-stream",
  };
  if (options.lastEventId) headers["last-event-id"] = options.lastEventId;
  const res = await fetch(`${options.server}/v1/webhooks/listen`, {
    headers,
    signal: options.signal,
  });
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    const error = body?.error;
    const message = error?.message ?? `${options.server} answered ${res.status}`;
    const detail = [error?.code, `request ${res.headers.get("request-id") ?? "unknown"}`];
    const text = `${message} (${detail.filter(Boolean).join(", ")})`;
    if (res.status === 429) {
      throw new TryLater(text, Number(res.headers.get("retry-after") ?? "5") * 1000 || 5000);
    }
    throw new CliError(text);
  }
  let last = options.lastEventId;
  const queue: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => queue.push(message) });
  const text = res.body!.pipeThrough(new TextDecoderStream());
  for await (const chunk of text) {
    parser.feed(chunk);
    while (queue.length > 0) {
      const message = queue.shift()!;
      if (message.event === "ready") onReady(JSON.parse(message.data));
      if (message.event === "delivery") {
        await onDelivery(JSON.parse(message.data));
        last = message.id ?? last;
      }
      if (message.event === "error") {
        const { error } = JSON.parse(message.data);
        throw new CliError(`${error.message} (${error.code})`);
      }
    }
  }
  return last;
}

/** Runs the CLI; returns the exit code. */
export async function main(
  args: string[],
  env: Record<string, string | undefined> = Deno.env.toObject(),
  signal: AbortSignal = new AbortController().signal,
): Promise<number> {
  const { values, positionals } = parseCli(args, {
    "forward-to": { type: "string" },
    url: { type: "string" },
    "api-key": { type: "string" },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals[0] !== "listen" || positionals.length !== 1) {
    throw new UsageError(
      positionals.length ? `Unknown command "${positionals.join(" ")}"` : "No command given",
    );
  }
  const forwardTo = values["forward-to"];
  if (!forwardTo) throw new UsageError("--forward-to is required");
  if (!URL.canParse(forwardTo) || !/^https?:$/.test(new URL(forwardTo).protocol)) {
    throw new UsageError(`--forward-to must be an http(s) URL, got "${forwardTo}"`);
  }
  const server = (values.url ?? env.PASSAGE_URL ?? "http://localhost:8000").replace(/\/+$/, "");
  if (!URL.canParse(server)) throw new UsageError(`--url must be a URL, got "${server}"`);
  const apiKey = values["api-key"] ?? env.PASSAGE_API_KEY;
  if (!apiKey) throw new UsageError("An API key is needed: --api-key sk_… or PASSAGE_API_KEY");

  const json = values.json;
  let lastEventId: string | null = null;
  let backoff = 500;
  let connected = false;
  while (!signal.aborted) {
    let wait = backoff;
    try {
      lastEventId = await streamOnce(
        { server, apiKey, lastEventId, signal },
        ({ accountId, livemode }) => {
          connected = true;
          backoff = 500;
          console.error(
            `Ready: forwarding ${
              livemode ? "live" : "test"
            } webhook events of ${accountId} from ${server} to ${forwardTo} (Ctrl-C to stop)`,
          );
        },
        async (delivery) => {
          const result = await forward(delivery, forwardTo);
          if (json) console.log(JSON.stringify(result));
          else {
            const answer = result.status === null ? `failed: ${result.error}` : result.status;
            console.log(
              `${new Date().toISOString()}  ${result.event_id}  ${result.type}${
                result.link_id ? `  ${result.link_id}` : ""
              }  → ${answer} (${result.duration_ms} ms)`,
            );
          }
        },
      );
    } catch (err) {
      if (signal.aborted) break;
      if (err instanceof TryLater && connected) {
        console.error(err.message);
        wait = err.waitMs;
      } else if (err instanceof CliError) throw err;
      // The server is not up (yet), or went away: retry unless it never answered at all.
      if (!connected) throw new CliError(`Could not reach ${server}: ${(err as Error).message}`);
    }
    if (signal.aborted) break;
    console.error(`Disconnected from ${server}; reconnecting in ${wait / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, wait));
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
  return 0;
}

if (import.meta.main) {
  const stop = new AbortController();
  Deno.addSignalListener("SIGINT", () => {
    stop.abort();
    Deno.exit(0);
  });
  await runCli(USAGE, () => main(Deno.args, Deno.env.toObject(), stop.signal));
}
