/**
 * A child process whose output a test waits on: `waitFor(pattern)` resolves
 * once the process printed it, and rejects if the process exits first.
 */
import { fileURLToPath } from "node:url";

/** The repository root, where every child runs. */
export const ROOT = fileURLToPath(new URL("../", import.meta.url));

export interface Watched extends AsyncDisposable {
  out: { stdout: string; stderr: string };
  status: Promise<Deno.CommandStatus>;
  /** Resolves once `pattern` is in the stream (stdout by default); rejects if the process exits or after `timeoutMs`. */
  waitFor(pattern: RegExp, stream?: "stdout" | "stderr", timeoutMs?: number): Promise<void>;
}

/** Spawns `command args…` in the repository root; disposing sends SIGINT and waits for the exit. */
export function spawnWatched(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Watched {
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = { stdout: "", stderr: "" };
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  let exited = false;
  const pump = async (
    stream: ReadableStream<Uint8Array<ArrayBuffer>>,
    into: "stdout" | "stderr",
  ) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      out[into] += chunk;
      wake();
    }
  };
  const drained = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")])
    .finally(() => {
      exited = true;
      wake();
    });
  return {
    out,
    status: child.status,
    waitFor(pattern, stream = "stdout", timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error("timed out")), timeoutMs);
        const check = () => {
          if (pattern.test(out[stream])) finish();
          else if (exited) finish(new Error("the process exited"));
        };
        const finish = (err?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (!err) return resolve();
          reject(
            new Error(`${err.message} before printing ${pattern}:\n${out.stdout}\n${out.stderr}`),
          );
        };
        waiters.add(check);
        check();
      });
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGINT");
      } catch { /* already gone */ }
      await child.status;
      await drained;
    },
  };
}
