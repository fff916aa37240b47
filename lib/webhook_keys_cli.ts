/**
 * `deno task webhook-keys list` · `deno task webhook-keys rotate [--overlap SECONDS]`.
 * Uses the same KV as the server (`PASSAGE_KV_PATH`). Rotating makes a new key
 * current; the previous one stays valid for verification for the overlap
 * (default `PASSAGE_WEBHOOK_KEY_OVERLAP_SECONDS`, 24 h).
 */
import { parseArgs } from "node:util";
import { loadConfig, openKv } from "./config.ts";
import { isServable, listWebhookKeys, rotateWebhookKey } from "./webhook_keys.ts";

const USAGE = `Usage:
  deno task webhook-keys list                          list signing keys (public parts only)
  deno task webhook-keys rotate [--overlap SECONDS]    make a new key current; the previous one
                                                       verifies for SECONDS more (default 86400)`;

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** Runs the CLI; returns the exit code. */
export async function main(
  args: string[],
  kv: Deno.Kv,
  defaults: { overlapSeconds: number },
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { overlap: { type: "string" } },
  });
  const [command] = positionals;
  if (command === "list" && positionals.length === 1) {
    const keys = await listWebhookKeys(kv);
    if (keys.length === 0) {
      console.log("No webhook signing keys yet: one is created when the first webhook is signed");
    }
    const now = new Date();
    for (const k of keys) {
      const state = k.expiredAt === null
        ? "current"
        : isServable(k, now)
        ? `valid until ${iso(k.expiredAt)}`
        : `expired ${iso(k.expiredAt)}`;
      console.log(`${k.kid}  created ${iso(k.createdAt)}  ${state}`);
    }
    return 0;
  }
  if (command === "rotate" && positionals.length === 1) {
    let overlapSeconds = defaults.overlapSeconds;
    if (values.overlap !== undefined) {
      overlapSeconds = Number(values.overlap);
      if (!/^\d+$/.test(values.overlap) || !Number.isSafeInteger(overlapSeconds)) {
        console.error(`--overlap must be a whole number of seconds, got "${values.overlap}"`);
        return 2;
      }
    }
    const { current, previous } = await rotateWebhookKey(kv, { overlapSeconds });
    console.log(`New current key ${current.kid}`);
    if (previous) {
      console.log(`Previous key ${previous.kid} stays valid until ${iso(previous.expiredAt!)}`);
    }
    return 0;
  }
  console.error(USAGE);
  return 2;
}

if (import.meta.main) {
  const config = loadConfig();
  const kv = await openKv(config);
  const code = await main(Deno.args, kv, { overlapSeconds: config.webhookKeyOverlapSeconds });
  kv.close();
  Deno.exit(code);
}
