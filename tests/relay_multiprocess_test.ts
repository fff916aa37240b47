/**
 * The relay across processes, as on several server instances: two real server
 * processes (`deno run main.ts`) share one KV file, and the device and the
 * controller of one session connect to different ones. BroadcastChannel does
 * not cross processes, so what arrives was found by the KV poll
 * (`PASSAGE_RELAY_POLL_MS`).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { relayAcross, tempKvFile, writeConcurrently } from "./_relay_helpers.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SECRET_LINE = /^sk_test_[0-9A-Za-z]{38}$/;
const LISTENING = /listening on http:\/\/[^\s/]+:(\d+)/;
/** How long a server process may take to start before the test gives up on it. */
const START_DEADLINE_MS = 60_000;

/** Creates an API key in the KV file with the keys CLI; returns its secret (the last line). */
async function createKeyWithCli(kvPath: string): Promise<string> {
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

interface ServerProcess extends AsyncDisposable {
  url: string;
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

/** Starts `deno run --allow-all main.ts` on port 0 over `kvPath`; resolves once it listens. */
async function startProcess(kvPath: string): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts"],
    cwd: ROOT,
    env: {
      NO_COLOR: "1",
      PORT: "0",
      PASSAGE_KV_PATH: kvPath,
      PASSAGE_RELAY_POLL_MS: "100",
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
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Two server processes over one fresh KV file with a key in it; `run` gets
 * their URLs and the key, and its failure shows what the processes wrote.
 */
async function acrossTwoProcesses(
  run: (a: string, b: string, apiKey: string) => Promise<void>,
): Promise<void> {
  await using kv = await tempKvFile("passage_relay_multiprocess_");
  const apiKey = await createKeyWithCli(kv.path);
  const [a, b] = await Promise.all([startProcess(kv.path), startProcess(kv.path)]);
  await using _a = a;
  await using _b = b;
  try {
    await run(a.url, b.url, apiKey);
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n--- process A\n${a.output()}\n--- process B\n${b.output()}`,
    );
  }
}

// Process B appends each command, process A's poll finds it, and back.
Deno.test("two server processes sharing one KV file relay commands, results and telemetry through the poll", () =>
  acrossTwoProcesses(relayAcross));

// Process B appends the commands while process A appends the telemetry and results.
Deno.test("two server processes writing one session's logs at the same moment lose nothing and close no socket", () =>
  acrossTwoProcesses(writeConcurrently));
