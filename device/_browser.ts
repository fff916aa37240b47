/**
 * Launches the device's Chromium: Debian's browser, a throwaway profile, a
 * phone-sized viewport and a phone's user agent.
 *
 * @module
 */
import puppeteer, { type Browser, type CDPSession, type Page } from "puppeteer-core";

/** The browser that Debian's `chromium` package installs. */
export const DEFAULT_CHROMIUM = "/usr/bin/chromium";

const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** A running browser with its one page. */
export interface LaunchedBrowser {
  browser: Browser;
  page: Page;
  /** The device's own CDP session on the page (for screenshots). */
  cdp: CDPSession;
  /** The profile directory; {@link closeBrowser} removes it. */
  profileDir: string;
}

/** Starts Chromium with a fresh profile and returns it with its page. */
export async function launchBrowser(options: {
  headless: boolean;
  executablePath?: string;
}): Promise<LaunchedBrowser> {
  const profileDir = await Deno.makeTempDir({ prefix: "passage-device-" });
  let browser: Browser | null = null;
  try {
    browser = await puppeteer.launch({
      executablePath: options.executablePath ?? DEFAULT_CHROMIUM,
      headless: options.headless,
      args: [
        ...ARGS,
        `--user-data-dir=${profileDir}`,
        ...(options.headless ? [] : ["--window-size=430,980"]),
      ],
      defaultViewport: {
        width: 390,
        height: 844,
        deviceScaleFactor: 1,
        isMobile: true,
        hasTouch: true,
      },
      // the device (or its CLI) decides what a signal does
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    const page = (await browser.pages())[0] ?? await browser.newPage();
    const major = /Chrome\/(\d+)/.exec(await browser.version())?.[1] ?? "130";
    await page.setUserAgent({
      userAgent:
        `Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Mobile Safari/537.36`,
      userAgentMetadata: {
        brands: [
          { brand: "Chromium", version: major },
          { brand: "Not_A Brand", version: "24" },
        ],
        platform: "Android",
        platformVersion: "10.0.0",
        architecture: "",
        model: "K",
        mobile: true,
      },
    });
    const cdp = await page.createCDPSession();
    return { browser, page, cdp, profileDir };
  } catch (error) {
    await closeBrowser({ browser, profileDir });
    throw error;
  }
}

/** Closes the browser (killing it if it does not exit within 5 s) and removes its profile. */
export async function closeBrowser(
  { browser, profileDir }: { browser: Browser | null; profileDir: string },
): Promise<void> {
  if (browser) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        browser.process()?.kill("SIGKILL");
        resolve();
      }, 5000);
    });
    try {
      await Promise.race([browser.close().catch(() => {}), killed]);
    } finally {
      clearTimeout(timer);
    }
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await Deno.remove(profileDir, { recursive: true });
      return;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      // Chromium may still be writing its last files
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
