/**
 * `deno task keys create --name NAME [--live] [--account ACCT]` · `deno task keys list` ·
 * `deno task keys revoke ID`. Uses the same KV as the server (`PASSAGE_KV_PATH`).
 */
import { parseArgs } from "node:util";
import { createApiKey, listApiKeys, revokeApiKey } from "./api_keys.ts";
import { getAccount } from "./accounts.ts";
import { loadConfig, openKv } from "./config.ts";

const USAGE = `Usage:
  deno task keys create --name NAME [--live] [--account acct_…]
                                               print a new secret key (shown once), for
                                               that account (default: a new one)
  deno task keys list                          list keys, without secrets
  deno task keys revoke ID                     revoke a key`;

/** Runs the CLI; returns the exit code. */
export async function main(args: string[], kv: Deno.Kv): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      name: { type: "string" },
      live: { type: "boolean", default: false },
      account: { type: "string" },
    },
  });
  const [command, id] = positionals;
  if (command === "create") {
    if (!values.name) {
      console.error("--name is required\n" + USAGE);
      return 2;
    }
    if (values.account && !(await getAccount(kv, values.account))) {
      console.error(`No account with id ${values.account}`);
      return 1;
    }
    const { secret, key } = await createApiKey(kv, {
      name: values.name,
      mode: values.live ? "live" : "test",
      accountId: values.account,
    });
    console.log(
      `Created ${key.mode} key ${key.id} ("${key.name}", account ${key.accountId}). The secret is shown once:`,
    );
    console.log(secret);
    return 0;
  }
  if (command === "list") {
    const keys = await listApiKeys(kv);
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
  if (command === "revoke" && id) {
    const key = await revokeApiKey(kv, id);
    if (!key) {
      console.error(`No key with id ${id}`);
      return 1;
    }
    console.log(`Revoked ${key.id} ("${key.name}") at ${key.revokedAt}`);
    return 0;
  }
  console.error(USAGE);
  return 2;
}

if (import.meta.main) {
  const kv = await openKv(loadConfig());
  const code = await main(Deno.args, kv);
  kv.close();
  Deno.exit(code);
}
