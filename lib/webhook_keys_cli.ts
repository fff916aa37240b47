/**
 * `deno task webhook-keys list [--account ID]` ·
 * `deno task webhook-keys rotate [--account ID] [--overlap SECONDS]`.
 * Uses the same KV as the server: `PASSAGE_KV_PATH` or `--kv`, a file or a
 * deployment's KV Connect URL (`https://…`, with `DENO_KV_ACCESS_TOKEN`).
 * With `--account`, one account's keys (the same rotation as its console,
 * without the console's cap); without it, the server-wide keys, which sign
 * for accounts made before per-account keys until each rotates its own.
 * Rotating makes a new key current; the previous one stays valid for
 * verification for the overlap (default `PASSAGE_WEBHOOK_KEY_OVERLAP_SECONDS`,
 * 24 h). `--json` prints JSON instead of lines.
 */
import { parseCli, runKvCli, UsageError } from "./cli.ts";
import { getAccount } from "./accounts.ts";
import {
  isServable,
  listAccountWebhookKeys,
  listWebhookKeys,
  rotateWebhookKey,
} from "./webhook_keys.ts";

export const USAGE = `Usage:
  deno task webhook-keys list [--account ID]           list signing keys (public parts only)
  deno task webhook-keys rotate [--account ID] [--overlap SECONDS]
                                                       make a new key current; the previous one
                                                       verifies for SECONDS more (default 86400)

Options:
  --account ID       one account's keys (acct_…); without it, the server-wide keys, which sign
                     only for accounts made before per-account keys that never rotated
  --kv PATH_OR_URL   the KV store (default $PASSAGE_KV_PATH, else .data/passage.kv3);
                     an https:// KV Connect URL reads DENO_KV_ACCESS_TOKEN
  --json             print JSON
  -h, --help         this help`;

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** Parses the arguments; `--help` and usage mistakes are settled before any KV is opened. */
export function parse(args: string[]) {
  const { values, positionals } = parseCli(args, {
    overlap: { type: "string" },
    account: { type: "string" },
    kv: { type: "string" },
  });
  if (values.help) return { help: true as const, values };
  const [command, ...rest] = positionals;
  if (command !== "list" && command !== "rotate") {
    throw new UsageError(command ? `Unknown command "${command}"` : "No command given");
  }
  if (rest.length > 0) throw new UsageError(`Unexpected argument "${rest[0]}"`);
  if (values.account !== undefined && !/^acct_\w+$/.test(values.account)) {
    throw new UsageError(`--account must be an account id (acct_…), got "${values.account}"`);
  }
  if (values.overlap !== undefined) {
    if (command !== "rotate") throw new UsageError("--overlap only goes with rotate");
    if (!/^\d+$/.test(values.overlap) || !Number.isSafeInteger(Number(values.overlap))) {
      throw new UsageError(`--overlap must be a whole number of seconds, got "${values.overlap}"`);
    }
  }
  return { help: false as const, command, values };
}

/** Runs a parsed command against `kv`; returns the exit code. */
export async function run(
  parsed: ReturnType<typeof parse>,
  kv: Deno.Kv,
  defaults: { overlapSeconds: number },
): Promise<number> {
  if (parsed.help) return 0;
  const { command, values } = parsed;
  const accountId = values.account;
  if (accountId !== undefined && !(await getAccount(kv, accountId))) {
    throw new Error(`No account with id "${accountId}"`);
  }
  if (command === "list") {
    const now = new Date();
    const records = accountId === undefined
      ? await listWebhookKeys(kv)
      : await listAccountWebhookKeys(kv, accountId, now);
    const keys = records.map((k) => ({
      kid: k.kid,
      serverWide: !k.accountId,
      createdAt: iso(k.createdAt),
      expiredAt: k.expiredAt === null ? null : iso(k.expiredAt),
      state: k.expiredAt === null ? "current" : isServable(k, now) ? "valid" : "expired",
    }));
    if (values.json) {
      console.log(JSON.stringify(keys));
      return 0;
    }
    if (keys.length === 0) {
      console.log("No webhook signing keys yet: one is created when the first webhook is signed");
    }
    for (const k of keys) {
      const state = k.state === "current"
        ? "current"
        : k.state === "valid"
        ? `valid until ${k.expiredAt}`
        : `expired ${k.expiredAt}`;
      const where = accountId !== undefined && k.serverWide ? "  (server-wide)" : "";
      console.log(`${k.kid}  created ${k.createdAt}  ${state}${where}`);
    }
    return 0;
  }
  const overlapSeconds = values.overlap === undefined
    ? defaults.overlapSeconds
    : Number(values.overlap);
  const { current, previous } = await rotateWebhookKey(kv, { accountId, overlapSeconds });
  if (values.json) {
    console.log(JSON.stringify({
      current: { kid: current.kid, createdAt: iso(current.createdAt) },
      previous: previous ? { kid: previous.kid, validUntil: iso(previous.expiredAt!) } : null,
    }));
    return 0;
  }
  console.log(`New current key ${current.kid}`);
  if (previous) {
    console.log(`Previous key ${previous.kid} stays valid until ${iso(previous.expiredAt!)}`);
  }
  return 0;
}

if (import.meta.main) {
  await runKvCli(
    USAGE,
    parse,
    (parsed, kv, config) => run(parsed, kv, { overlapSeconds: config.webhookKeyOverlapSeconds }),
  );
}
