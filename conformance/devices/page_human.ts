/**
 * The human on a device whose browser the kit can reach as a puppeteer
 * `Page` (the reference device's Chromium, a tab of the extension): typing
 * and clicking there are trusted input, as a person's are.
 *
 * @module
 */
import type { Page } from "puppeteer-core";
import type { Human } from "../_types.ts";

/** How long the human waits for an element to show. */
const SHOW_MS = 15_000;

/** Plays the user on `page`. */
export function pageHuman(page: Page): Human {
  return {
    async type(selector, text) {
      const element = await page.waitForSelector(selector, { visible: true, timeout: SHOW_MS });
      try {
        await element!.type(text);
      } finally {
        await element?.dispose();
      }
    },
    async click(selector) {
      const element = await page.waitForSelector(selector, { visible: true, timeout: SHOW_MS });
      try {
        await element!.click();
      } finally {
        await element?.dispose();
      }
    },
    async waitFor(selector) {
      const element = await page.waitForSelector(selector, { timeout: SHOW_MS });
      await element?.dispose();
    },
  };
}
