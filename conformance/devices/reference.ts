/**
 * The reference device (`device/mod.ts`) as a device under test: Chromium,
 * headless by default, with the kit playing the human on its page.
 *
 * @module
 */
import type { Browser } from "puppeteer-core";
import { startDevice } from "../../device/mod.ts";
import type { DeviceUnderTest } from "../_types.ts";
import { pageHuman } from "./page_human.ts";

/** Options of {@link referenceDevice}. */
export interface ReferenceDeviceOptions {
  /** A running Chromium to open the device's context in (`launchChromium()`). */
  browser?: Browser;
  /** The Chromium binary, when the device launches its own. */
  executablePath?: string;
  /** Without a window (default true). */
  headless?: boolean;
  /** The device's own log lines (scrubbed by the device). */
  log?: (line: string) => void;
}

/** The reference device, started on the kit's claim. */
export function referenceDevice(options: ReferenceDeviceOptions = {}): DeviceUnderTest {
  return {
    name: "reference device (device/mod.ts)",
    async start(claim) {
      const device = await startDevice({
        server: claim.server,
        claimCode: claim.code,
        allowPrivateOrigins: claim.allowPrivateOrigins,
        browser: options.browser,
        executablePath: options.executablePath,
        headless: options.headless ?? true,
        log: options.log,
      });
      return {
        human: pageHuman(device.page),
        dropConnection: () => device.dropConnection(),
        close: () => device.close(),
      };
    },
  };
}
