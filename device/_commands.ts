/// <reference lib="dom" />
/**
 * What each command does to the page. Each handler gets already-validated
 * params and returns exactly the result shape of `Commands` in the protocol.
 *
 * @module
 */
import type { CommandName, Commands } from "@passage/connect/protocol";
import { redactSecrets } from "@passage/connect/redact";
import type { CDPSession, ElementHandle, KeyInput, Page } from "puppeteer-core";
import type { ResponseCapture } from "./_capture.ts";
import { CommandFailure, describe, isTimeout, quote } from "./_errors.ts";
import { readSafely, sensitivity, typedFieldIds } from "./_human_input.ts";
import { MAX_VALUE_CHARS } from "./_limits.ts";
import { maskUrl } from "./_mask.ts";
import { isRuleOn } from "./_rules.ts";
import type { Refusal } from "./_origin_guard.ts";
import type { EvaluateSandbox } from "./_sandbox.ts";
import { takeScreenshot } from "./_screenshot.ts";
import { copyFound, type Find } from "./_locate.ts";
import {
  attributeOf,
  copyDocument,
  copyElement,
  innerHtmlOf,
  isCredentialField,
  textOf,
  writeDocument,
} from "./_snapshot.ts";

/** What a running command knows about its own time. */
export interface CommandContext {
  /** Aborts when the command has run out of time or the device is closing. */
  signal: AbortSignal;
  /** The `performance.now()` time by which the command must have answered. */
  deadline: number;
}

/** Runs one command. */
export type Handler<K extends CommandName> = (
  params: Commands[K]["params"],
  ctx: CommandContext,
) => Promise<Commands[K]["result"]>;

/** A handler for every command. */
export type Handlers = { [K in CommandName]: Handler<K> };

/** What the handlers need. */
export interface HandlerDeps {
  page: Page;
  /** The device's CDP session on the page. */
  cdp: CDPSession;
  capture: ResponseCapture;
  /** Where `evaluate` runs. */
  sandbox: EvaluateSandbox;
  /** Remembers the secrets in a body the device fetched, before it is sent. */
  noteBody: (body: string, contentType: string) => void;
  /** The last top-page navigation the origin guard refused. */
  lastRefusal: () => Refusal | null;
  /** Why the top page may not load `url` (an origin the session does not allow), or null. */
  refuseTop: (url: string) => string | null;
  /** The secrets the device knows, read again now. */
  secretsNow: () => Promise<readonly string[]>;
  /** Finds elements (on the scrubbed copy: `_locate.ts`). */
  find: Find;
  /** `yieldToUser` lives with the device, which owns who has control. */
  yieldToUser: Handler<"yieldToUser">;
}

/** Element commands wait this long at most (or half their time) for their selector to appear. */
const FIND_WAIT_MS = 5000;

/** Builds the handlers of every command for one page. */
export function createHandlers(
  deps: HandlerDeps,
): Handlers {
  const { page, cdp, capture, sandbox, noteBody, lastRefusal, refuseTop, secretsNow, find } = deps;
  /**
   * An element's copy, as `_snapshot.ts` makes it, and the typed fields to
   * leave out: the one it was found on, or else a fresh one.
   */
  const copyOf = async (el: ElementHandle<Element>) => {
    const found = copyFound(el);
    if (found) return found;
    const [node, typed] = await Promise.all([
      secretsNow().then((secrets) => copyElement(cdp, el, secrets)),
      typedFieldIds(page),
    ]);
    return { node, typed };
  };
  const withElement = <T>(
    selector: string,
    ctx: CommandContext,
    command: string,
    use: (element: ElementHandle<Element>) => Promise<T>,
  ) => findAndUse(find, selector, ctx, command, use);
  return {
    async navigate({ url, waitUntil }, ctx) {
      let response;
      const before = lastRefusal();
      // refused before it starts: the page the human is on stays
      const refusal = refuseTop(url);
      if (refusal !== null) {
        throw new CommandFailure("refused", `Refused to open ${maskUrl(url)}: ${refusal}`);
      }
      try {
        response = await page.goto(url, {
          waitUntil: waitUntil === "networkidle" ? "networkidle0" : waitUntil ?? "load",
          timeout: remaining(ctx),
          signal: ctx.signal,
        });
      } catch (error) {
        if (isTimeout(error) || ctx.signal.aborted) {
          // out of time: do not let the page change under the next command
          await cdp.send("Page.stopLoading").catch(() => {});
          throw error;
        }
        const refusal = lastRefusal();
        if (refusal !== null && refusal !== before) {
          throw new CommandFailure(
            "refused",
            `Refused to open ${refusal.url}: ${refusal.reason}`,
          );
        }
        throw new CommandFailure(
          "navigation_failed",
          `Navigation to ${maskUrl(url)} failed: ${describe(error)}`,
        );
      }
      return { url: maskUrl(page.url()), status: response?.status() ?? null };
    },

    async click({ selector }, ctx) {
      await withElement(selector, ctx, "click", (el) => el.click());
      return {};
    },

    async fill({ selector, value }, ctx) {
      await withElement(selector, ctx, "fill", async (el) => {
        await refuseSecret(el, selector, "fill");
        const mode = await el.evaluate(prepareFill);
        if (mode === "disabled") {
          throw new CommandFailure(
            "device_error",
            `Cannot fill ${quote(selector)}: it is disabled`,
          );
        }
        if (mode === "none") {
          throw new CommandFailure(
            "device_error",
            `Cannot fill ${quote(selector)}: it is not an input, text area or editable element`,
          );
        }
        if (mode === "set") await el.evaluate(setValue, value);
        else if (value === "") await page.keyboard.press("Delete");
        else await page.keyboard.sendCharacter(value);
      });
      return {};
    },

    async type({ selector, text, delayMs }, ctx) {
      await withElement(selector, ctx, "type", async (el) => {
        await refuseSecret(el, selector, "type");
        await el.focus();
        for (const char of text) {
          ctx.signal.throwIfAborted();
          await page.keyboard.type(char);
          if (delayMs) await sleep(delayMs, ctx.signal);
        }
      });
      return {};
    },

    async press({ key, selector }, ctx) {
      if (selector !== undefined) {
        await withElement(selector, ctx, "press", (el) => el.focus());
      }
      try {
        await page.keyboard.press(key as KeyInput);
      } catch (error) {
        if (/unknown key/i.test(describe(error))) {
          throw new CommandFailure("invalid_command", `Unknown key ${quote(key)} (press)`);
        }
        throw error;
      }
      return {};
    },

    async select({ selector, values }, ctx) {
      const chosen = await withElement(selector, ctx, "select", async (el) => {
        if (!await el.evaluate((e) => e instanceof HTMLSelectElement)) {
          throw new CommandFailure(
            "device_error",
            `Cannot select in ${quote(selector)}: not a <select>`,
          );
        }
        return await el.select(...values);
      });
      return { values: chosen };
    },

    async waitForSelector({ selector, state }, ctx) {
      // answer `found: false` a little before the deadline rather than time out
      const budget = ctx.deadline - performance.now();
      const until = performance.now() + Math.max(1, budget - Math.min(1000, budget * 0.1));
      const wanted = state ?? "visible";
      for (;;) {
        const el = await find(selector, "waitForSelector");
        let holds: boolean;
        try {
          const shown = el !== null && (wanted === "attached" || await el.isVisible());
          holds = wanted === "hidden" ? !(el !== null && await el.isVisible()) : shown;
        } finally {
          await el?.dispose().catch(() => {});
        }
        if (holds) return { found: true };
        if (performance.now() >= until) return { found: false };
        await sleep(Math.min(FIND_POLL_MS, until - performance.now()), ctx.signal);
      }
    },

    async waitForNavigation({ urlContains }, ctx) {
      if (urlContains === undefined) {
        await page.waitForNavigation({
          waitUntil: "load",
          timeout: remaining(ctx),
          signal: ctx.signal,
        });
      } else if (!page.url().includes(urlContains)) {
        await mainFrameUrl(page, urlContains, ctx.signal);
        await documentReady(page, ctx.signal);
      }
      return { url: maskUrl(page.url()) };
    },

    async innerHTML({ selector }, ctx) {
      const html = await withElement(
        selector,
        ctx,
        "innerHTML",
        async (el) => {
          if (!isRuleOn("snapshot")) return await readSafely(el, "html");
          const { node, typed } = await copyOf(el);
          return innerHtmlOf(node, typed);
        },
      );
      return { html: fitting(html, `The inner HTML of ${quote(selector)}`) };
    },

    async textContent({ selector }, ctx) {
      const text = await withElement(
        selector,
        ctx,
        "textContent",
        async (el) => {
          if (!isRuleOn("snapshot")) return await readSafely(el, "text");
          const { node, typed } = await copyOf(el);
          return textOf(node, typed);
        },
      );
      return { text: fitting(text, `The text of ${quote(selector)}`) };
    },

    async getAttribute({ selector, name }, ctx) {
      const value = await withElement(selector, ctx, "getAttribute", async (el) => {
        if (!isRuleOn("snapshot")) return await el.evaluate((e, n) => e.getAttribute(n), name);
        const { node, typed } = await copyOf(el);
        const read = attributeOf(node, name, typed);
        if (
          read === undefined || (name.toLowerCase() === "value" && isCredentialField(node, typed))
        ) {
          throw new CommandFailure(
            "refused",
            `Refused to read the value of ${
              quote(selector)
            }: it holds a credential or what the user typed`,
          );
        }
        return read;
      });
      return { value: value === null ? null : fitting(value, `Attribute ${quote(name)}`) };
    },

    async evaluate({ expression }, ctx) {
      let json: string;
      if (isRuleOn("snapshot")) {
        // the secrets are out of the copy before any code sees it: no
        // encoding can recover what is not there
        // (read after the copy is made, as `_locate.ts` does)
        const [typed, root] = await Promise.all([typedFieldIds(page), copyDocument(cdp)]);
        const pageUrl = maskUrl(page.url());
        const secrets = await secretsNow();
        const html = redactSecrets(writeDocument(root, typed, secrets), secrets) as string;
        const url = redactSecrets(pageUrl, secrets) as string;
        const answer = await sandbox.run({ html, url, expression }, ctx.signal);
        if ("threw" in answer) {
          throw new CommandFailure("evaluation_failed", `Evaluate threw: ${answer.threw}`);
        }
        if ("notJson" in answer) {
          throw new CommandFailure(
            "evaluation_failed",
            `The result of evaluate is not JSON-serialisable: ${answer.notJson}`,
          );
        }
        json = answer.json;
      } else {
        json = await evaluateInPage(page, expression, ctx);
      }
      if (json.length > MAX_VALUE_CHARS) {
        throw new CommandFailure(
          "evaluation_failed",
          `The result of evaluate is ${json.length} characters of JSON, over the message limit`,
        );
      }
      // the caller scrubs the device's secrets from it, as from every result
      return { value: JSON.parse(json) };
    },

    async fetch({ url, accept }, ctx) {
      const pageUrl = page.url();
      let target: URL;
      try {
        target = new URL(url, pageUrl);
      } catch {
        throw new CommandFailure("invalid_command", `fetch: ${quote(maskUrl(url))} is not a URL`);
      }
      const origin = URL.canParse(pageUrl) ? new URL(pageUrl).origin : "null";
      if (target.origin !== origin) {
        throw new CommandFailure(
          "refused",
          `fetch: ${quote(maskUrl(target.href))} is not on the page's origin ${quote(origin)}`,
        );
      }
      const answer = await fetchFromPage(cdp, target.href, accept ?? "application/json", ctx);
      if (!/\bjson\b/i.test(answer.contentType)) {
        // JSON's every value is checked for tokens; a page's HTML is read through the copy
        throw new CommandFailure(
          "refused",
          `fetch: ${quote(maskUrl(target.href))} answered ${
            quote(answer.contentType || "no content type")
          }: fetch returns JSON only (read pages with navigate and the read commands)`,
        );
      }
      if (answer.body.length > MAX_VALUE_CHARS) {
        throw new CommandFailure(
          "device_error",
          `The body of ${
            quote(maskUrl(target.href))
          } is ${answer.body.length} characters, over the message limit`,
        );
      }
      noteBody(answer.body, answer.contentType);
      return { ...answer, url: maskUrl(answer.url) };
    },

    async screenshot({ fullPage, format, quality }) {
      return await takeScreenshot(page, cdp, {
        format: format ?? "jpeg",
        quality,
        fullPage,
        // what the human typed stays hidden after they hand control back
        mask: isRuleOn("screenshots") ? "sensitive" : "none",
      });
    },

    url() {
      return Promise.resolve({ url: maskUrl(page.url()) });
    },

    yieldToUser: (params, ctx) => deps.yieldToUser(params, ctx),

    captureResponses({ urlContains }) {
      capture.add(urlContains);
      return Promise.resolve({});
    },

    async readCapturedResponses({ urlContains }, ctx) {
      const budget = ctx.deadline - performance.now();
      const responses = await capture.read(
        urlContains,
        ctx.deadline - Math.min(1000, budget * 0.1),
      );
      const size = JSON.stringify(responses).length;
      if (size > MAX_VALUE_CHARS) {
        throw new CommandFailure(
          "device_error",
          `The captured responses are ${size} characters, over the message limit: read them with a narrower urlContains`,
        );
      }
      return { responses };
    },
  };
}

/**
 * `evaluate` in the page's own world, where cookies, storage, typed values and
 * the network are all within reach: only when a test switched the `snapshot`
 * rule off, to prove what the rule is for.
 */
async function evaluateInPage(
  page: Page,
  expression: string,
  ctx: CommandContext,
): Promise<string> {
  let handle;
  try {
    handle = await page.evaluateHandle(expression);
  } catch (error) {
    if (isTimeout(error) || ctx.signal.aborted) throw error;
    throw new CommandFailure("evaluation_failed", `Evaluate threw: ${describe(error)}`);
  }
  try {
    const json = await handle.evaluate((value) => {
      try {
        return JSON.stringify(value) ?? "null";
      } catch (error) {
        return { error: String(error) };
      }
    });
    if (typeof json !== "string") {
      throw new CommandFailure(
        "evaluation_failed",
        `The result of evaluate is not JSON-serialisable: ${json.error}`,
      );
    }
    return json;
  } finally {
    await handle.dispose().catch(() => {});
  }
}

let fetchWorlds = 0;

/**
 * A same-origin GET made by the device's own code (never the controller's) in
 * an isolated world of the main frame, so the page's scripts cannot see or
 * change it: the page's cookies go with it, redirects are refused.
 */
async function fetchFromPage(
  cdp: CDPSession,
  url: string,
  accept: string | undefined,
  ctx: CommandContext,
): Promise<{ url: string; status: number; contentType: string; body: string }> {
  const group = `passage-fetch-${++fetchWorlds}`;
  try {
    const { frameTree } = await cdp.send("Page.getFrameTree");
    const { executionContextId } = await cdp.send("Page.createIsolatedWorld", {
      frameId: frameTree.frame.id,
      worldName: group,
      grantUniveralAccess: false,
    });
    const run = await cdp.send("Runtime.callFunctionOn", {
      functionDeclaration: `${fetchIn}`,
      executionContextId,
      arguments: [{ value: url }, { value: accept ?? "*/*" }, {
        value: Math.max(1, ctx.deadline - performance.now() - 200),
      }],
      awaitPromise: true,
      returnByValue: true,
      objectGroup: group,
    });
    if (run.exceptionDetails) {
      const details = run.exceptionDetails;
      throw new CommandFailure(
        "navigation_failed",
        `fetch of ${quote(maskUrl(url))} failed: ${details.exception?.description ?? details.text}`,
      );
    }
    return run.result.value as { url: string; status: number; contentType: string; body: string };
  } finally {
    await cdp.send("Runtime.releaseObjectGroup", { objectGroup: group }).catch(() => {});
  }
}

/** Runs in the isolated world. */
async function fetchIn(
  url: string,
  accept: string,
  timeoutMs: number,
): Promise<{ url: string; status: number; contentType: string; body: string }> {
  const response = await fetch(url, {
    method: "GET",
    credentials: "include",
    headers: { accept },
    redirect: "error",
    signal: AbortSignal.timeout(timeoutMs),
  });
  return {
    url: response.url,
    status: response.status,
    contentType: response.headers.get("content-type") ?? "",
    body: await response.text(),
  };
}

function remaining(ctx: CommandContext): number {
  return Math.max(1, Math.round(ctx.deadline - performance.now()));
}

/** How often an element command looks again for an element that is not there yet. */
const FIND_POLL_MS = 100;

/**
 * Finds the first element matching `selector`, waiting up to five seconds (or
 * half the command's time, if less) for it to appear, runs `use` on it, and
 * releases it.
 */
async function findAndUse<T>(
  find: Find,
  selector: string,
  ctx: CommandContext,
  command: string,
  use: (element: ElementHandle<Element>) => Promise<T>,
): Promise<T> {
  const until = performance.now() +
    Math.max(1, Math.min(FIND_WAIT_MS, (ctx.deadline - performance.now()) / 2));
  // the first look also rejects a malformed selector at once
  let element = await find(selector, command);
  while (!element && performance.now() < until) {
    await sleep(Math.min(FIND_POLL_MS, until - performance.now()), ctx.signal);
    element = await find(selector, command);
  }
  if (!element) {
    throw new CommandFailure(
      "selector_not_found",
      `No element matches ${quote(selector)} (${command})`,
    );
  }
  try {
    return await use(element);
  } finally {
    await element.dispose().catch(() => {});
  }
}

async function refuseSecret(
  el: ElementHandle<Element>,
  selector: string,
  command: string,
): Promise<void> {
  const why = await sensitivity(el);
  if (why === "password") {
    throw new CommandFailure(
      "refused",
      `Refused to ${command} ${quote(selector)}: it is a password field, only the user types there`,
    );
  }
  if (why === "typed") {
    throw new CommandFailure(
      "refused",
      `Refused to ${command} ${quote(selector)}: the user typed into it`,
    );
  }
}

/** Runs in the page: focuses a field and selects its text so typing replaces it. */
function prepareFill(el: Element): "type" | "set" | "disabled" | "none" {
  const typeable = new Set(["text", "search", "url", "tel", "email", "password", "number"]);
  if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
    if (el.disabled || el.readOnly) return "disabled";
    if (el instanceof HTMLInputElement && !typeable.has(el.type)) return "set";
    el.focus();
    el.select();
    return "type";
  }
  if (el instanceof HTMLElement && el.isContentEditable) {
    el.focus();
    const range = document.createRange();
    range.selectNodeContents(el);
    const selection = getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    return "type";
  }
  return "none";
}

/** Runs in the page: sets a field that cannot be typed into (a date, a range…) like a user would. */
function setValue(el: Element, value: string): void {
  const input = el as HTMLInputElement;
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")?.set;
  if (setter) setter.call(input, value);
  else input.value = value;
  input.dispatchEvent(new Event("input", { bubbles: true, composed: true }));
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

function fitting(text: string, what: string): string {
  if (text.length > MAX_VALUE_CHARS) {
    throw new CommandFailure(
      "device_error",
      `${what} is ${text.length} characters, over the message limit`,
    );
  }
  return text;
}

/** Resolves when the main frame navigates to a URL containing `urlContains`. */
function mainFrameUrl(page: Page, urlContains: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      page.off("framenavigated", onNavigated);
      signal.removeEventListener("abort", onAbort);
    };
    const onNavigated = () => {
      if (page.url().includes(urlContains)) {
        done();
        resolve();
      }
    };
    const onAbort = () => {
      done();
      reject(signal.reason);
    };
    page.on("framenavigated", onNavigated);
    signal.addEventListener("abort", onAbort);
    if (signal.aborted) onAbort();
  });
}

/** Waits until the main document has been parsed. */
async function documentReady(page: Page, signal: AbortSignal): Promise<void> {
  while (true) {
    signal.throwIfAborted();
    try {
      if (await page.evaluate(() => document.readyState) !== "loading") return;
    } catch {
      // between documents
    }
    await sleep(50, signal);
  }
}

/** Waits `ms`, or rejects when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
  });
}
