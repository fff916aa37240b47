/**
 * Where the device's browser may go (the `origins` rule). Every request the
 * page makes is held until it is checked:
 *
 * - the top page (a navigation of the main frame, a redirect included) may
 *   only load an origin the session allows (`DeviceClaim.allowedOrigins`;
 *   null allows any public origin);
 * - no request may reach a loopback, private-network, link-local or metadata
 *   address (an IP literal, `localhost`, or a name that resolves to one),
 *   unless its origin is one the operator allowed: the Passage server the
 *   device claimed at (whose sandbox sites live there) and any given with
 *   `allowPrivateOrigins`. So a controller cannot use the user's device as a
 *   proxy into the user's own network;
 * - `file:` URLs are refused.
 *
 * Names are resolved through the platform (`DevicePlatform.resolveDns`);
 * where it cannot resolve (the extension), only IP literals and `localhost`
 * are refused.
 *
 * Residual risk: Chromium resolves a name again when it connects, so a DNS
 * answer that changes between this check and the connection (rebinding) can
 * still reach a private address.
 *
 * @module
 */
import type { HTTPRequest, Page } from "puppeteer-core";
import { classifyIp } from "../lib/webhook_address.ts";
import { maskUrl } from "./_mask.ts";
import { isRuleOn } from "./_rules.ts";

/** Why a request was refused. */
export interface Refusal {
  url: string;
  reason: string;
}

/** What the guard allows. */
export interface OriginPolicy {
  /** Origins the top page may load; null: any public origin. */
  allowed: readonly string[] | null;
  /** Origins allowed although they are on loopback or a private network. */
  privateAllowed: readonly string[];
  /** Resolves a name's addresses; null: only IP literals and `localhost` are checked. */
  resolveDns: ((host: string) => Promise<string[]>) | null;
}

/** How long a name's addresses are remembered. */
const DNS_TTL_MS = 30_000;

/** Checks every request of one page. */
export class OriginGuard {
  readonly #page: Page;
  readonly #allowed: Set<string> | null;
  readonly #privateAllowed: Set<string>;
  readonly #log: (line: string) => void;
  readonly #resolve: ((host: string) => Promise<string[]>) | null;
  readonly #dns = new Map<string, { at: number; private: Promise<boolean> }>();
  /** The last top-page navigation refused, for the command that caused it. */
  lastRefusal: Refusal | null = null;

  constructor(page: Page, policy: OriginPolicy, log: (line: string) => void) {
    this.#page = page;
    this.#allowed = policy.allowed === null ? null : new Set(policy.allowed.map(originOf));
    this.#privateAllowed = new Set(policy.privateAllowed.map(originOf));
    this.#resolve = policy.resolveDns;
    this.#log = log;
  }

  /** Starts holding every request for a check. */
  async attach(): Promise<void> {
    this.#page.on("request", this.#onRequest);
    await this.#page.setRequestInterception(true);
  }

  /** Why the top page may not load `url`, or null when it may (as far as its origin goes). */
  refuseTop(url: string): string | null {
    if (!isRuleOn("origins") || this.#allowed === null) return null;
    const origin = originOf(url);
    return this.#allowed.has(origin) ? null : `${origin} is not an origin this session may open`;
  }

  #onRequest = async (request: HTTPRequest): Promise<void> => {
    if (request.isInterceptResolutionHandled()) return;
    let refusal: string | null;
    try {
      refusal = isRuleOn("origins") ? await this.#check(request) : null;
    } catch (error) {
      refusal = `it could not be checked (${(error as Error).message})`;
    }
    if (request.isInterceptResolutionHandled()) return;
    if (refusal === null) {
      await request.continue().catch(() => {});
      return;
    }
    const url = maskUrl(request.url());
    if (this.#isTop(request)) this.lastRefusal = { url, reason: refusal };
    this.#log(`refused ${url}: ${refusal}`);
    await request.abort("blockedbyclient").catch(() => {});
  };

  #isTop(request: HTTPRequest): boolean {
    const frame = request.frame();
    return request.isNavigationRequest() && (frame === null || frame === this.#page.mainFrame());
  }

  /** Null when the request may go, else why not. */
  async #check(request: HTTPRequest): Promise<string | null> {
    let url: URL;
    try {
      url = new URL(request.url());
    } catch {
      return "it is not a URL";
    }
    if (url.protocol === "file:") return "file: URLs are never loaded";
    if (url.protocol !== "http:" && url.protocol !== "https:") return null; // data:, blob:…
    const top = this.#isTop(request) ? this.refuseTop(url.href) : null;
    if (top !== null) return top;
    if (this.#privateAllowed.has(url.origin)) return null;
    if (await this.#isPrivate(url.hostname)) {
      return `${url.host} is on the device's own network, which sessions may not reach`;
    }
    return null;
  }

  #isPrivate(hostname: string): Promise<boolean> {
    const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
    const literal = classifyIp(host);
    if (literal !== null) return Promise.resolve(literal !== "public");
    if (host === "localhost" || host.endsWith(".localhost")) return Promise.resolve(true);
    const resolve = this.#resolve;
    if (resolve === null) return Promise.resolve(false);
    const known = this.#dns.get(host);
    if (known && performance.now() - known.at < DNS_TTL_MS) return known.private;
    const lookup = resolve(host).then(
      (addresses) => addresses.some((ip) => classifyIp(ip) !== "public"),
      () => false, // a name that does not resolve is left to the browser
    );
    this.#dns.set(host, { at: performance.now(), private: lookup });
    return lookup;
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
