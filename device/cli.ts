/**
 * Plays the user's phone for a real person: claims a code, opens a visible
 * Chromium window and runs the session in it. Prints what it is asked to do
 * (command names only, never values) and whose turn it is.
 *
 * ```sh
 * deno task device http://localhost:8000/c/K7QD2-9XW4M
 * deno task device K7QD2-9XW4M --server http://localhost:8000
 * ```
 *
 * @module
 */
import { parseCliArgs } from "./_cli_args.ts";
import { DeviceClaimError, type DeviceHandle, startDevice } from "./mod.ts";

async function main(): Promise<number> {
  let target;
  try {
    target = parseCliArgs(Deno.args, Deno.env);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const log = (line: string) => console.log(`${new Date().toTimeString().slice(0, 8)} ${line}`);
  log(`Claiming ${target.claimCode} at ${target.server}`);
  let device: DeviceHandle;
  try {
    device = await startDevice({ ...target, headless: false, log });
  } catch (error) {
    const code = error instanceof DeviceClaimError ? ` (${error.code})` : "";
    console.error(`Could not start the device${code}: ${(error as Error).message}`);
    return 1;
  }
  if (device.link) {
    log(`Linking your ${device.link.providerName} account (link ${device.link.id})`);
  }
  log("Connected. The browser window is yours whenever you are asked; Ctrl-C to quit.");
  const onSignal = () => {
    log("Closing");
    device.close();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    const { reason } = await device.ended;
    log(`Session over: ${reason}`);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
