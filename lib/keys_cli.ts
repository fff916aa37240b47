/**
 * `deno task keys create --name NAME [--live] [--account ACCT]` · `deno task keys list` ·
 * `deno task keys revoke ID`. Uses the same KV as the server: `PASSAGE_KV_PATH`
 * or `--kv`, a file or a deployment's KV Connect URL (`https://…`, with
 * `DENO_KV_ACCESS_TOKEN`). `--json` prints JSON instead of lines.
 */
import { type ApiKeyInfo, createApiKey, listApiKeys, revokeApiKey } from "./api_keys.ts";
import { getAccount } from "./accounts.ts";
import { CliError, parseCli, runKvCli, UsageError } from "./cli.ts";

export const USAGE = `Usage:
  deno task keys create --name NAME [--live] [--account acct_…]
                                   print a new secret key (shown once), for that
                                   account (default: a new one)
  deno task keys list              list keys, without secrets
  deno task keys revoke ID         revoke a key

Options:
  --kv PATH_OR_URL   the KV store (default $PASSAGE_KV_PATH, else .data/passage.kv3);
                     an https:// KV Connect URL reads DENO_KV_ACCESS_TOKEN
  --json             print JSON
  -h, --help         this help`;

/** The options every command accepts. */
const OPTIONS = {
  name: { type: "string" },
  live: { type: "boolean", default: false },
  account: { type: "string" },
  kv: { type: "string" },
} as const;

/** Parses the arguments; `--help` and usage mistakes are settled before any KV is opened. */
export function parse(args: string[]) {
  const { values, positionals } = parseCli(args, OPTIONS);
  const [command, id, ...rest] = positionals;
  if (values.help) return { help: true as const, values };
  if (rest.length > 0) throw new UsageError(`Unexpected argument "${rest[0]}"`);
  if (command === "create") {
    if (!values.name) throw new UsageError("--name is required");
    if (id) throw new UsageError(`Unexpected argument "${id}"`);
  } else if (command === "list") {
    if (id) throw new UsageError(`Unexpected argument "${id}"`);
  } else if (command === "revoke") {
    if (!id) throw new UsageError("revoke needs a key id: deno task keys revoke key_…");
  } else {
    throw new UsageError(command ? `Unknown command "${command}"` : "No command given");
  }
  return { help: false as const, command, id, values };
}

/** Runs a parsed command against `kv`; returns the exit code. */
export async function run(parsed: ReturnType<typeof parse>, kv: Deno.Kv): Promise<number> {
  if (parsed.help) return 0;
  const { command, id, values } = parsed;
  const json = values.json;
  if (command === "create") {
    if (values.account && !(await getAccount(kv, values.account))) {
      throw new CliError(`No account with id ${values.account}`);
    }
    const { secret, key } = await createApiKey(kv, {
      name: values.name!,
      mode: values.live ? "live" : "test",
      accountId: values.account,
    });
    if (json) {
      console.log(JSON.stringify({ ...publicKey(key), secret }));
      return 0;
    }
    console.log(
      `Created ${key.mode} key ${key.id} ("${key.name}", account ${key.accountId}). The secret is shown once:`,
    );
    console.log(secret);
    return 0;
  }
  if (command === "list") {
    const keys = await listApiKeys(kv);
    if (json) {
      console.log(JSON.stringify(keys.map(publicKey)));
      return 0;
    }
    if (keys.length === 0) {
      console.log("No keys yet: deno task keys create --name NAME");
    }
    for (const k of keys) {
      console.log(
        `${k.id}  ${k.mode.padEnd(4)}  ${k.hint}  ${
          k.revokedAt ? `revoked ${k.revokedAt}` : "active"
        }  ${k.accountId}  ${k.name}`,
      );
    }
    return 0;
  }
  const key = await revokeApiKey(kv, id!);
  if (!key) throw new CliError(`No key with id ${id}`);
  if (json) console.log(JSON.stringify(publicKey(key)));
  else console.log(`Revoked ${key.id} ("${key.name}") at ${key.revokedAt}`);
  return 0;
}

/** A key's fields fit to print (listed keys carry no hash; a created one is copied without it). */
function publicKey(k: ApiKeyInfo): ApiKeyInfo {
  const { id, name, mode, hint, accountId, createdAt, revokedAt } = k;
  return { id, name, mode, hint, accountId, createdAt, revokedAt };
}

if (import.meta.main) {
  await runKvCli(USAGE, parse, (parsed, kv) => run(parsed, kv));
}
