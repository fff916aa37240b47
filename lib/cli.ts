/**
 * What every command-line tool shares: `--help` and `--json` parsing, and one
 * clear line (never a stack trace) for a mistake or a failure.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { type Config, loadConfig, openKv } from "./config.ts";

/** A mistake in how the tool was called: one line, then exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure worth one line (no stack): exit 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** `parseArgs` in strict mode, with `--help`/`-h` and `--json` added; unknown options are a `UsageError`. */
export function parseCli<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        ...options,
        help: { type: "boolean", short: "h", default: false },
        json: { type: "boolean", default: false },
      } as O & {
        help: { type: "boolean"; short: "h"; default: false };
        json: { type: "boolean"; default: false };
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message.split("\n")[0]);
  }
}

/**
 * Runs a CLI's `main` and exits with its code. A `UsageError` prints its line
 * and the usage to stderr (exit 2); any other error prints one line (exit 1).
 */
export async function runCli(usage: string, main: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${usage}`);
      code = 2;
    } else {
      console.error(`Error: ${describe(err)}`);
      code = 1;
    }
  }
  Deno.exit(code);
}

/** One line saying what went wrong, with the permission or network detail Deno gives. */
export function describe(err: unknown): string {
  if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
    return `${(err as Error).message.split("\n")[0]} (the task needs that permission)`;
  }
  if (err instanceof Error) return err.message.split("\n")[0];
  return String(err);
}

/**
 * Runs a CLI over the store: parses, answers `--help`, opens the KV that
 * `--kv` or the configuration names (a file or a KV Connect URL) for `main`,
 * and closes it after.
 */
export function runKvCli<P extends { values: { help: boolean; kv?: string } }>(
  usage: string,
  parse: (args: string[]) => P,
  main: (parsed: P, kv: Deno.Kv, config: Config) => Promise<number>,
): Promise<never> {
  return runCli(usage, async () => {
    const parsed = parse(Deno.args);
    if (parsed.values.help) {
      console.log(usage);
      return 0;
    }
    const config = loadConfig();
    const kv = await openKv({ kvPath: parsed.values.kv ?? config.kvPath });
    try {
      return await main(parsed, kv, config);
    } finally {
      kv.close();
    }
  });
}
