/**
 * `startDevice()`: the reference device on this machine. It launches Chromium
 * first (so a browser that cannot start never burns the user's claim code),
 * then claims the code and runs the device core (`_device.ts`) in it, with
 * Deno's pieces: its own WebSocket client, a permission-less Worker for
 * `evaluate`, and Deno's resolver for the origin guard.
 *
 * @module
 */
import { closeBrowser, launchBrowser } from "./_browser.ts";
import { claimDevice } from "./_claim.ts";
import {
  type DeviceHandle,
  type DeviceHost,
  type DeviceOptions,
  type DevicePlatform,
  runDevice,
} from "./_device.ts";
import { startDeviceProxy } from "./_proxy.ts";
import { isRuleOn } from "./_rules.ts";
import { Sandbox } from "./_sandbox.ts";
import { DeviceSecrets } from "./_secrets.ts";
import { DeviceSocket } from "./_socket.ts";

/**
 * Launches Chromium, claims `claimCode` at `server` and connects to the
 * session's relay. Resolves once the server has welcomed the device.
 *
 * @example
 * ```ts
 * await using device = await startDevice({ server: "http://localhost:8000", claimCode: "K7QD2-9XW4M" });
 * console.log((await device.ended).reason);
 * ```
 */
export async function startDevice(options: DeviceOptions): Promise<DeviceHandle> {
  const server = options.server.replace(/\/+$/, "");
  const secrets = new DeviceSecrets();
  const sink = options.log ?? (() => {});
  const log = (line: string) => sink(secrets.redact(line));
  const headless = options.headless ?? true;
  // below the page: every connection the browser makes is checked where it lands
  const proxy = startDeviceProxy(
    [server, ...(options.allowPrivateOrigins ?? [])],
    (target, why) => log(`refused a connection to ${target}: ${why}`),
  );
  let launched;
  try {
    launched = await launchBrowser({
      headless,
      executablePath: options.executablePath,
      browser: options.browser,
      proxyServer: isRuleOn("origins") ? proxy.url : undefined,
    });
  } catch (error) {
    await proxy.close();
    throw error;
  }
  const { browser, page, context, cdp } = launched;
  const host: DeviceHost = {
    page,
    cdp,
    cookieValues: async () => (await context.cookies()).map((cookie) => cookie.value),
    onGone(listener) {
      browser.on("disconnected", listener);
      page.on("close", listener);
      return () => {
        browser.off("disconnected", listener);
        page.off("close", listener);
      };
    },
    close: async () => {
      await closeBrowser(launched);
      await proxy.close();
    },
  };
  let claim;
  try {
    claim = await claimDevice(server, options.claimCode);
  } catch (error) {
    await host.close();
    throw error;
  }
  log(`claimed: session ${claim.sessionId}`);
  const platform: DevicePlatform = {
    connectSocket: (url, socketOptions) => DeviceSocket.connect(url, socketOptions),
    sandbox: new Sandbox(),
    resolveDns: async (name) => {
      const answers = await Promise.all(
        (["A", "AAAA"] as const).map((type) => Deno.resolveDns(name, type).catch(() => [])),
      );
      return answers.flat();
    },
    // a visible window has a person in front of the terminal too
    say: headless ? undefined : (line) => (options.log ?? console.log)(line),
  };
  return await runDevice({
    server,
    claim,
    host,
    platform,
    secrets,
    log,
    onStatus: options.onStatus,
    allowPrivateOrigins: options.allowPrivateOrigins,
  });
}
