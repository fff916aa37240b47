/**
 * The Passage browser extension as a device under test: built for the kit's
 * server, loaded unpacked into Chromium, handed the code the way the claim
 * page's Continue button does; the kit plays the human in the tab it opens.
 * The extension cannot cut its socket like a network, so the reconnect
 * checks are skipped for it.
 *
 * @module
 */
import { launchWithExtension, postContinue } from "../../extension/launch.ts";
import type { DeviceUnderTest } from "../_types.ts";
import { pageHuman } from "./page_human.ts";

/** Options of {@link extensionDevice}. */
export interface ExtensionDeviceOptions {
  /** The Chromium binary. */
  executablePath?: string;
  /** Without a window (default true). */
  headless?: boolean;
}

/** The browser extension, started on the kit's claim. */
export function extensionDevice(options: ExtensionDeviceOptions = {}): DeviceUnderTest {
  return {
    name: "browser extension (extension/)",
    async start(claim) {
      const chrome = await launchWithExtension([claim.server], claim.allowPrivateOrigins, options);
      try {
        const tab = await postContinue(chrome.browser, claim.url, claim.code);
        return { human: pageHuman(tab), close: () => chrome.close() };
      } catch (error) {
        await chrome.close();
        throw new Error(`${(error as Error).message}\n${chrome.logs.join("\n")}`);
      }
    },
  };
}
