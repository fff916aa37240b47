/**
 * Chromium with the Passage extension loaded unpacked, and the user's first
 * step on a claim page (Continue in this browser): for tests, the
 * conformance kit, and trying the extension by hand.
 *
 * @module
 */
/// <reference lib="dom" />
import puppeteer, { type Browser, type Page, type Target } from "puppeteer-core";
import { DEFAULT_CHROMIUM } from "../device/_browser.ts";
import { buildExtension } from "./build.ts";

/** A Chromium with the extension, and the extension's service-worker log. */
export interface ChromiumWithExtension {
  browser: Browser;
  /** The service worker's console lines (the device's log). */
  logs: string[];
  close(): Promise<void>;
}

/**
 * Builds the extension for `servers` (and the private origins sessions may
 * open) into a temporary folder and launches Chromium with it, at 1280×800.
 */
export async function launchWithExtension(
  servers: string[],
  privateOrigins: string[],
  options: { headless?: boolean; executablePath?: string } = {},
): Promise<ChromiumWithExtension> {
  const dir = await Deno.makeTempDir({ prefix: "passage-extension-" });
  const profile = await Deno.makeTempDir({ prefix: "passage-extension-profile-" });
  const remove = async () => {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  let browser: Browser;
  try {
    await buildExtension({ servers, privateOrigins, out: dir, zip: false });
    browser = await puppeteer.launch({
      executablePath: options.executablePath ?? DEFAULT_CHROMIUM,
      headless: options.headless ?? true,
      ignoreDefaultArgs: ["--disable-extensions"],
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        `--user-data-dir=${profile}`,
        `--load-extension=${dir}`,
        `--disable-extensions-except=${dir}`,
      ],
      defaultViewport: { width: 1280, height: 800 },
    });
  } catch (error) {
    await remove();
    throw error;
  }
  const logs: string[] = [];
  const watch = async (target: Target) => {
    if (target.type() !== "service_worker") return;
    const worker = await target.worker().catch(() => null);
    worker?.on("console", (m) => logs.push(`[sw] ${m.text()}`));
  };
  browser.on("targetcreated", watch);
  await Promise.all(browser.targets().map(watch));
  return {
    browser,
    logs,
    async close() {
      await browser.close().catch(() => {});
      await remove();
    },
  };
}

/** Resolves with the next page target created in `browser` after this call. */
export function nextTab(browser: Browser, timeout = 15_000): Promise<Page> {
  const before = new Set(browser.targets());
  return browser.waitForTarget((t: Target) => t.type() === "page" && !before.has(t), { timeout })
    .then(async (target) => {
      const page = await target.page();
      if (!page) throw new Error("the extension's tab has no page");
      return page;
    });
}

/** Opens the claim page and waits for the extension's content script to announce itself. */
export async function openClaimPage(browser: Browser, claimUrl: string): Promise<Page> {
  const claimPage = await browser.newPage();
  await claimPage.goto(claimUrl);
  await claimPage.waitForSelector("html[data-passage-extension]", { timeout: 10_000 });
  return claimPage;
}

/**
 * Hands the extension its code by posting the claim page's message (what its
 * Continue button does) and resolves with the session's tab.
 */
export async function postContinue(
  browser: Browser,
  claimUrl: string,
  code: string,
): Promise<Page> {
  const claimPage = await openClaimPage(browser, claimUrl);
  const opened = nextTab(browser);
  const answer = await claimPage.evaluate(
    (claimCode) =>
      new Promise<{ type?: string; message?: string }>((resolve) => {
        addEventListener("message", (e: MessageEvent) => {
          if (e.source === window && /^passage:(continued|error)$/.test(e.data?.type)) {
            resolve(e.data);
          }
        });
        postMessage({ type: "passage:continue", claimCode }, location.origin);
      }),
    code,
  );
  if (answer.type !== "passage:continued") {
    opened.catch(() => {});
    throw new Error(`the extension did not continue: ${answer.message ?? JSON.stringify(answer)}`);
  }
  const tab = await opened;
  await claimPage.close();
  return tab;
}
