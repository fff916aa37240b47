/**
 * Launches the device's Chromium: Debian's browser, a throwaway profile, a
 * phone-sized viewport and a phone's user agent.
 *
 * @module
 */
import puppeteer, {
  type Browser,
  type BrowserContext,
  type CDPSession,
  type Page,
} from "puppeteer-core";

/** The browser that Debian's `chromium` package installs. */
export const DEFAULT_CHROMIUM = "/usr/bin/chromium";

/** Where Chrome and Chromium are usually installed, by operating system, most likely first. */
const KNOWN_BROWSERS: Record<string, string[]> = {
  linux: [
    DEFAULT_CHROMIUM,
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/snap/bin/chromium",
    "/opt/google/chrome/chrome",
  ],
  darwin: [
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome Canary.app/Contents/MacOS/Google Chrome Canary",
  ],
  windows: [
    "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    "C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe",
    "${LOCALAPPDATA}\\Google\\Chrome\\Application\\chrome.exe",
  ],
};

/** The browser could not be found or started: nothing was claimed. */
export class BrowserLaunchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BrowserLaunchError";
  }
}

/**
 * The first Chrome or Chromium installed here (on Linux, macOS or Windows),
 * or null. `env` fills `${LOCALAPPDATA}`.
 */
export function findBrowser(
  os: string = Deno.build.os,
  env: { get(name: string): string | undefined } = Deno.env,
  exists: (path: string) => boolean = isFile,
): string | null {
  for (const candidate of KNOWN_BROWSERS[os] ?? []) {
    const path = candidate.replace(/\$\{(\w+)\}/g, (_, name) => env.get(name) ?? "");
    if (!path.includes("${") && exists(path)) return path;
  }
  return null;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

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
  /** The browser context the page lives in (the default one for a launched browser). */
  context: BrowserContext;
  page: Page;
  /** The device's own CDP session on the page (for screenshots). */
  cdp: CDPSession;
  /** The profile directory; {@link closeBrowser} removes it. Null on a shared browser. */
  profileDir: string | null;
  /** True when the browser was given, not launched: closing closes only the context. */
  shared: boolean;
}

/** Chromium's flags for sending every connection, loopback included, through `proxy`. */
function proxyArgs(proxy: string): string[] {
  return [
    `--proxy-server=${proxy}`,
    "--proxy-bypass-list=<-loopback>",
    // WebRTC may not go around the proxy over UDP
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
  ];
}

/** The phone-sized viewport of the device's page. */
const VIEWPORT = {
  width: 390,
  height: 844,
  deviceScaleFactor: 1,
  isMobile: true,
  hasTouch: true,
};

/** Starts Chromium on `profileDir` with the device's flags. */
function startChromium(
  profileDir: string,
  options: { headless: boolean; executablePath?: string; proxyServer?: string },
): Promise<Browser> {
  const executablePath = options.executablePath ?? findBrowser();
  if (executablePath === null) {
    throw new BrowserLaunchError(
      "No Chrome or Chromium found on this computer: install one, or give its path with --browser (or PASSAGE_BROWSER)",
    );
  }
  if (!isFile(executablePath)) {
    throw new BrowserLaunchError(`There is no browser at ${executablePath}`);
  }
  return puppeteer.launch({
    executablePath,
    headless: options.headless,
    args: [
      ...ARGS,
      ...(options.proxyServer ? proxyArgs(options.proxyServer) : []),
      `--user-data-dir=${profileDir}`,
      ...(options.headless ? [] : ["--window-size=430,980"]),
    ],
    defaultViewport: VIEWPORT,
    // the device (or its CLI) decides what a signal does
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  }).catch((error: Error) => {
    const display = /Missing X server|\$DISPLAY|cannot open display|Ozone/i.test(error.message);
    throw new BrowserLaunchError(
      display
        ? "There is no display to open the browser window in: run from a desktop session, or with --headless"
        : `The browser at ${executablePath} did not start: ${error.message.split("\n")[0]}`,
    );
  });
}

/**
 * Launches Debian's Chromium with the device's flags (no sandbox, no GPU, no
 * background networking) and a fresh profile, for several devices to share:
 * `startDevice({ ..., browser })` opens its own incognito context in it.
 * `browser.close()` also removes the profile.
 */
export async function launchChromium(
  options: { headless?: boolean; executablePath?: string } = {},
): Promise<Browser> {
  const profileDir = await Deno.makeTempDir({ prefix: "passage-device-" });
  let browser: Browser;
  try {
    browser = await startChromium(profileDir, { ...options, headless: options.headless ?? true });
  } catch (error) {
    await removeProfile(profileDir);
    throw error;
  }
  const close = browser.close.bind(browser);
  browser.close = async () => {
    try {
      await stopBrowser(browser, close);
    } finally {
      await removeProfile(profileDir);
    }
  };
  return browser;
}

/**
 * Starts Chromium with a fresh profile and returns it with its page; or, given
 * a running `browser`, opens a new incognito context and a page in it.
 */
export async function launchBrowser(options: {
  headless: boolean;
  executablePath?: string;
  browser?: Browser;
  /** Every connection of the page goes through this proxy (`_proxy.ts`), loopback included. */
  proxyServer?: string;
}): Promise<LaunchedBrowser> {
  if (options.browser) {
    const browser = options.browser;
    const context = await browser.createBrowserContext(
      options.proxyServer
        ? { proxyServer: options.proxyServer, proxyBypassList: ["<-loopback>"] }
        : {},
    );
    try {
      const page = await context.newPage();
      await page.setViewport(VIEWPORT);
      await preparePage(browser, page);
      const cdp = await page.createCDPSession();
      return { browser, context, page, cdp, profileDir: null, shared: true };
    } catch (error) {
      await context.close().catch(() => {});
      throw error;
    }
  }
  const profileDir = await Deno.makeTempDir({ prefix: "passage-device-" });
  let browser: Browser | null = null;
  try {
    browser = await startChromium(profileDir, options);
    const page = (await browser.pages())[0] ?? await browser.newPage();
    await preparePage(browser, page);
    const cdp = await page.createCDPSession();
    return { browser, context: page.browserContext(), page, cdp, profileDir, shared: false };
  } catch (error) {
    await closeBrowser({ browser, profileDir, shared: false });
    throw error;
  }
}

/** Gives the page a phone's user agent. */
async function preparePage(browser: Browser, page: Page): Promise<void> {
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
}

/**
 * Closes what the device opened: its incognito context on a shared browser;
 * otherwise the browser (killed if it does not exit within 5 s) and its profile.
 */
export async function closeBrowser(
  { browser, context, profileDir, shared }: {
    browser: Browser | null;
    context?: BrowserContext;
    profileDir: string | null;
    shared: boolean;
  },
): Promise<void> {
  if (shared) {
    await context?.close().catch(() => {});
    return;
  }
  if (browser) await stopBrowser(browser);
  if (profileDir !== null) await removeProfile(profileDir);
}

/** `browser.close()`, or a SIGKILL when it does not exit within 5 s. */
async function stopBrowser(
  browser: Browser,
  close: () => Promise<void> = () => browser.close(),
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      browser.process()?.kill("SIGKILL");
      resolve();
    }, 5000);
  });
  try {
    await Promise.race([close().catch(() => {}), killed]);
  } finally {
    clearTimeout(timer);
  }
}

async function removeProfile(profileDir: string): Promise<void> {
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
