/**
 * The extension's service worker: the device, in the user's own browser.
 *
 * When the claim page asks (through `content.ts`), it opens the session in a
 * new tab the user sees, attaches to that tab with `chrome.debugger` through
 * puppeteer's `ExtensionTransport`, and runs the same device core as the
 * reference device (`device/_device.ts`): every rule, none written twice.
 * What differs is only the platform: the browser's WebSocket, `evaluate`'s
 * sandbox in an extension sandbox page, and no DNS resolver (IP literals and
 * `localhost` are still refused).
 *
 * @module
 */
/// <reference lib="dom" />
import {
  connect,
  ExtensionTransport,
} from "puppeteer-core/lib/puppeteer/puppeteer-core-browser.js";
import type { HTTPRequest, Page } from "puppeteer-core";
import type { OperationType } from "@passage/connect/schemas";
import { EXTENSION_DEVICE_NAME } from "@passage/connect/protocol";
import { claimDevice } from "../../device/_claim.ts";
import { type DeviceHandle, type DeviceHost, runDevice } from "../../device/_device.ts";
import { DeviceSecrets } from "../../device/_secrets.ts";
import { connectBrowserSocket } from "./browser_socket.ts";
import { type BarState, BarStates } from "./bar_state.ts";
import { OffscreenSandbox } from "./offscreen_sandbox.ts";

// deno-lint-ignore no-explicit-any
declare const chrome: any;

/** The servers whose claim pages may hand this extension a code (set at build time). */
declare const PASSAGE_SERVERS: string[];
/** Private-network origins sessions may open besides the server (set at build time). */
declare const PASSAGE_PRIVATE_ORIGINS: string[];

/** What each operation reads, in the bar's few words (the claim page has the long ones). */
const WHAT_IS_READ: Record<OperationType, string> = {
  "mobileBillingStatement:read": "your phone bill",
  "utilityBillingStatement:read": "your utility bill",
  "paymentMethod:read": "your saved payment methods",
  "orderHistory:read": "your order history",
  "insurancePolicy:read": "your insurance policy",
  "accountOwnership:verify": "that you own the account",
};

/** `a`, `a and b`, `a, b and c`. */
function listed(items: string[]): string {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/** At most this many origins' cookies are read for the secret set of one tab. */
const MAX_COOKIE_ORIGINS = 200;

/**
 * `evaluate`'s sandbox frame has no network through its CSP, but a frame may
 * always navigate itself (`self.location = "http://192.168.1.1/…"`), which
 * no CSP governs: that would make the user's browser a proxy into their own
 * network. No frame outside a tab (the offscreen document's are the only
 * ones this extension has) may load anything from the network.
 */
const NO_FRAMES_OUTSIDE_TABS = {
  id: 1,
  priority: 1,
  action: { type: "block" },
  condition: { tabIds: [-1], resourceTypes: ["main_frame", "sub_frame", "ping", "other"] },
};
const guarded: Promise<void> = chrome.declarativeNetRequest.updateSessionRules({
  removeRuleIds: [NO_FRAMES_OUTSIDE_TABS.id],
  addRules: [NO_FRAMES_OUTSIDE_TABS],
});

const bars = new BarStates();
const devices = new Map<number, DeviceHandle>();

interface Sender {
  id?: string;
  tab?: { id?: number };
  origin?: string;
  url?: string;
}

chrome.runtime.onMessage.addListener(
  (message: unknown, sender: Sender, reply: (r: unknown) => void) => {
    // only this extension's own scripts and pages may ask anything
    if (sender.id !== chrome.runtime.id) return false;
    const m = message as { type?: string; claimCode?: string; tabId?: number };
    if (m?.type === "passage:continue" && typeof m.claimCode === "string") {
      const origin = sender.origin ?? (sender.url ? new URL(sender.url).origin : "");
      if (!PASSAGE_SERVERS.includes(origin)) {
        reply({ ok: false, message: `${origin} is not a Passage server this extension knows` });
        return false;
      }
      start(origin, m.claimCode).then(
        (tabId) => reply({ ok: true, tabId }),
        (error) => reply({ ok: false, message: (error as Error).message }),
      );
      return true; // answers later
    }
    if (m?.type === "passage:stop" && typeof m.tabId === "number") {
      // the bar is an extension page: a content script (no URL of ours) may not stop a session
      if (!sender.url?.startsWith(chrome.runtime.getURL(""))) return false;
      const device = devices.get(m.tabId);
      bars.update(m.tabId, { progress: "Stopped. Nothing more is read.", stopped: true });
      device?.close().then(() => reply({ ok: true }), () => reply({ ok: true }));
      return true;
    }
    return false;
  },
);

/** Opens the session's tab, attaches to it and runs the device there. */
async function start(server: string, claimCode: string): Promise<number> {
  // no session starts without the sandbox's network block in place
  await guarded;
  const tab = await chrome.tabs.create({ url: "about:blank", active: true });
  const tabId = tab.id as number;
  bars.set(tabId, {
    server,
    what: "Connecting…",
    origin: "",
    progress: "Starting",
    yourTurn: null,
    stopped: false,
  });
  let detach: (() => Promise<void>) | null = null;
  let handle: DeviceHandle | null = null;
  try {
    // attach first: a tab that cannot be debugged never burns the user's claim code
    const transport = await ExtensionTransport.connectTab(tabId);
    const browser = await connect({ transport, defaultViewport: null });
    detach = () => browser.disconnect().catch(() => {});
    const [page] = await browser.pages() as unknown as Page[];
    if (!page) throw new Error("The tab could not be attached");
    // `createCDPSession()` needs Target.attachToTarget, which chrome.debugger
    // does not offer: the page's own session is the tab's debugger session
    const cdp = (page as unknown as { _client(): DeviceHost["cdp"] })._client();
    const secrets = new DeviceSecrets();
    const claim = await claimDevice(server, claimCode);
    bars.update(tabId, {
      what: claim.link
        ? `Reading ${
          listed(claim.link.operations.map((o) => WHAT_IS_READ[o.type] ?? o.type))
        } from ${claim.link.providerName}`
        : "A browser session an app asked for",
      progress: "Connecting",
    });
    const origins = new Set<string>();
    const onRequest = (request: HTTPRequest) => {
      const origin = originOf(request.url());
      if (/^https?:/.test(origin) && origins.size < MAX_COOKIE_ORIGINS) origins.add(origin);
    };
    page.on("request", onRequest);
    const onNavigated = (frame: unknown) => {
      if (frame !== page.mainFrame()) return;
      bars.update(tabId, { origin: originOf(page.url()) });
      void showBar(tabId);
    };
    page.on("framenavigated", onNavigated);
    const onUpdated = (updated: number, change: { status?: string }) => {
      if (updated === tabId && change.status === "complete") void showBar(tabId);
    };
    chrome.tabs.onUpdated.addListener(onUpdated);
    const host: DeviceHost = {
      page,
      cdp,
      cookieValues: () => cookieValues(page, origins),
      onGone(listener) {
        const removed = (closed: number) => closed === tabId && listener();
        // the user cancelled the debugging infobar, or the tab crashed or went to a page
        // the extension may not debug: the device has lost the tab
        const detached = (source: { tabId?: number }) => source.tabId === tabId && listener();
        chrome.tabs.onRemoved.addListener(removed);
        chrome.debugger.onDetach.addListener(detached);
        return () => {
          chrome.tabs.onRemoved.removeListener(removed);
          chrome.debugger.onDetach.removeListener(detached);
        };
      },
      async close() {
        page.off("request", onRequest);
        page.off("framenavigated", onNavigated);
        chrome.tabs.onUpdated.removeListener(onUpdated);
        // the tab stays: it is the user's, and its bar says the session is over
        await browser.disconnect().catch(() => {});
      },
    };
    handle = await runDevice({
      server,
      claim,
      host,
      platform: {
        connectSocket: connectBrowserSocket,
        sandbox: new OffscreenSandbox(),
        resolveDns: null,
        client: { name: EXTENSION_DEVICE_NAME, version: chrome.runtime.getManifest().version },
        say: (line) => bars.update(tabId, { progress: line.replace(/^>>> /, "") }),
      },
      secrets,
      allowPrivateOrigins: PASSAGE_PRIVATE_ORIGINS,
      log: (line) => console.debug(`[passage] ${line}`),
      onStatus: (status) =>
        bars.update(tabId, {
          yourTurn: status && ([status.heading, status.subheading].filter(Boolean).join(" — ") ||
            "Continue in this tab"),
          origin: status?.origin ?? bars.get(tabId)?.origin ?? "",
        }),
    });
    devices.set(tabId, handle);
    bars.update(tabId, { progress: "Connected" });
    handle.ended.then(({ reason }) => {
      devices.delete(tabId);
      bars.update(tabId, {
        progress: reason === "completed"
          ? "Done: the session is over. You can close this tab."
          : `The session ended (${reason}). You can close this tab.`,
        yourTurn: null,
        stopped: true,
      });
    });
    return tabId;
  } catch (error) {
    bars.update(tabId, { progress: `Could not start: ${(error as Error).message}`, stopped: true });
    void showBar(tabId);
    // runDevice closes its host when it fails; before it, the debugger is detached here
    if (handle === null) await detach?.();
    throw error;
  }
}

/**
 * The cookies the tab's sites hold, from the browser's own cookie store: for
 * every origin the page made a request to and every frame's. Not all of the
 * user's cookies: this is the user's own browser, with every site they use.
 */
async function cookieValues(page: Page, origins: Set<string>): Promise<string[]> {
  const urls = new Set(origins);
  for (const frame of page.frames()) {
    const origin = originOf(frame.url());
    if (/^https?:/.test(origin)) urls.add(origin);
  }
  const all = await Promise.all(
    [...urls].map((url) =>
      (chrome.cookies.getAll({ url }) as Promise<Array<{ value: string }>>).catch(() => [])
    ),
  );
  return all.flat().map((cookie) => cookie.value);
}

/** Puts the Passage bar (an extension frame the page cannot read or write) on top of the tab. */
async function showBar(tabId: number): Promise<void> {
  try {
    await chrome.scripting.executeScript({
      target: { tabId },
      func: (id: number) => (globalThis as unknown as Record<string, unknown>).__passageBarTab = id,
      args: [tabId],
    });
    await chrome.scripting.executeScript({ target: { tabId }, files: ["bar_inject.js"] });
  } catch {
    // a page the extension may not script (about:blank, an error page): the next load tries again
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

export type { BarState };
