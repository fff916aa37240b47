/**
 * Real server processes for tests: `deno run main.ts` over a shared KV file,
 * as on several server instances, and the keys CLI that seeds them.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SECRET_LINE = /^sk_test_[0-9A-Za-z]{38}$/;
const LISTENING = /listening on http:\/\/[^\s/]+:(\d+)/;
/** How long a server process may take to start before the test gives up on it. */
const START_DEADLINE_MS = 60_000;

/** Creates an API key in the KV file with the keys CLI; returns its secret (the last line). */
export async function createKeyWithCli(kvPath: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "lib/keys_cli.ts", "create", "--name", "t"],
    cwd: ROOT,
    env: { NO_COLOR: "1", PASSAGE_KV_PATH: kvPath },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const secret = stdout.trimEnd().split("\n").at(-1)!;
  assert.match(secret, SECRET_LINE);
  return secret;
}

export interface ServerProcess extends AsyncDisposable {
  url: string;
  /** Sends `signal` to the process (SIGKILL: it dies at once, as an evicted instance may). */
  kill(signal: Deno.Signal): void;
  /** Resolves when the process has exited. */
  status: Promise<Deno.CommandStatus>;
  /** Everything the process wrote so far, for failure messages. */
  output(): string;
}

/** Reads a stream to its end into `sink`, calling `onText` with all text so far. */
async function drain(
  stream: ReadableStream<Uint8Array<ArrayBuffer>>,
  sink: { text: string },
  onText: () => void = () => {},
): Promise<void> {
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    sink.text += chunk;
    onText();
  }
}

/**
 * Starts `deno run --allow-all main.ts` on port 0 over `kvPath` (with `env` on
 * top of the defaults); resolves once it listens.
 */
export async function startProcess(
  kvPath: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts"],
    cwd: ROOT,
    env: {
      NO_COLOR: "1",
      PORT: "0",
      PASSAGE_KV_PATH: kvPath,
      PASSAGE_RELAY_POLL_MS: "100",
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = { text: "" };
  const stderr = { text: "" };
  const output = () => `stdout:\n${stdout.text}\nstderr:\n${stderr.text}`;
  let listening: (port: number) => void = () => {};
  const port = new Promise<number | null>((resolve) => listening = resolve);
  const drained = Promise.all([
    drain(child.stdout, stdout, () => {
      const m = LISTENING.exec(stdout.text);
      if (m) listening(Number(m[1]));
    }),
    drain(child.stderr, stderr),
  ]).finally(() => listening(0));
  const giveUp = setTimeout(() => child.kill("SIGKILL"), START_DEADLINE_MS);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await drained;
  };
  const found = await port;
  clearTimeout(giveUp);
  if (!found) {
    await stop();
    throw new Error(`the server process did not start:\n${output()}`);
  }
  return {
    // It listens on every interface; the loopback address avoids ::1 vs 127.0.0.1.
    url: `http://127.0.0.1:${found}`,
    output,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    },
    status: child.status,
    [Symbol.asyncDispose]: stop,
  };
}
