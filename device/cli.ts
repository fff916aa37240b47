/**
 * Plays the user's phone for a real person: claims a code, opens a visible
 * Chromium window and runs the session in it. Prints what it is asked to do
 * (command names only, never values) and whose turn it is.
 *
 * ```sh
 * deno task device http://localhost:8000/c/K7QD2-9XW4M
 * deno task device K7QD2-9XW4M --server http://localhost:8000
 * deno task device --help
 * ```
 *
 * @module
 */
import { BrowserLaunchError } from "./_browser.ts";
import { HelpRequested, parseCliArgs } from "./_cli_args.ts";
import { DeviceClaimError, type DeviceHandle, startDevice } from "./mod.ts";

async function main(): Promise<number> {
  let target;
  try {
    target = parseCliArgs(Deno.args, Deno.env);
  } catch (error) {
    if (error instanceof HelpRequested) {
      console.log(error.message);
      return 0;
    }
    console.error((error as Error).message);
    return 2;
  }
  const hasDisplay = Deno.build.os !== "linux" || Boolean(
    Deno.env.get("DISPLAY") || Deno.env.get("WAYLAND_DISPLAY"),
  );
  if (!target.headless && !hasDisplay) {
    // before anything is claimed: the code stays usable on another device
    console.error(
      "There is no display to open the browser window in (DISPLAY is not set): run this from a desktop session, or with --headless. Nothing was claimed.",
    );
    return 2;
  }
  const log = (line: string) => console.log(`${new Date().toTimeString().slice(0, 8)} ${line}`);
  log(`Claiming ${target.claimCode} at ${target.server}`);
  let device: DeviceHandle;
  try {
    device = await startDevice({ ...target, log });
  } catch (error) {
    if (error instanceof BrowserLaunchError) {
      console.error(`${error.message}. Nothing was claimed: the code can still be used.`);
      return 1;
    }
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
