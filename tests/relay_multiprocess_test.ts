/**
 * The relay across processes, as on several server instances: two real server
 * processes (`deno run main.ts`) share one KV file, and the device and the
 * controller of one session connect to different ones. BroadcastChannel does
 * not cross processes, so what arrives was found by the KV poll
 * (`PASSAGE_RELAY_POLL_MS`).
 */
import { relayAcross, tempKvFile, writeConcurrently } from "./_relay_helpers.ts";
import { createKeyWithCli, startProcess } from "./_server_process.ts";

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
