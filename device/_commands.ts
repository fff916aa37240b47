/// <reference lib="dom" />
/**
 * What each command does to the page. Each handler gets already-validated
 * params and returns exactly the result shape of `Commands` in the protocol.
 *
 * @module
 */
import type { CommandName, Commands } from "@passage/connect/protocol";
import {
  type CDPSession,
  type ElementHandle,
  type KeyInput,
  type Page,
  TimeoutError,
} from "puppeteer-core";
import type { ResponseCapture } from "./_capture.ts";
import { CommandFailure, describe, isInvalidSelectorError, quote } from "./_errors.ts";
import { readSafely, sensitivity } from "./_human_input.ts";
import { MAX_VALUE_CHARS } from "./_limits.ts";
import { maskUrl } from "./_mask.ts";
import { evaluateIsolated } from "./_isolated.ts";
import { isRuleOn } from "./_rules.ts";
import { takeScreenshot } from "./_screenshot.ts";

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
  /** `yieldToUser` lives with the device, which owns who has control. */
  yieldToUser: Handler<"yieldToUser">;
}

/** Element commands wait this long at most for their selector to appear. */
const FIND_WAIT_MS = 2000;

/** Builds the handlers of every command for one page. */
export function createHandlers({ page, cdp, capture, yieldToUser }: HandlerDeps): Handlers {
  return {
    async navigate({ url, waitUntil }, ctx) {
      let response;
      try {
        response = await page.goto(url, {
          waitUntil: waitUntil === "networkidle" ? "networkidle0" : waitUntil ?? "load",
          timeout: remaining(ctx),
          signal: ctx.signal,
        });
      } catch (error) {
        if (error instanceof TimeoutError || ctx.signal.aborted) {
          // out of time: do not let the page change under the next command
          await cdp.send("Page.stopLoading").catch(() => {});
          throw error;
        }
        throw new CommandFailure(
          "navigation_failed",
          `Navigation to ${maskUrl(url)} failed: ${describe(error)}`,
        );
      }
      return { url: maskUrl(page.url()), status: response?.status() ?? null };
    },

    async click({ selector }, ctx) {
      await withElement(page, selector, ctx, "click", (el) => el.click());
      return {};
    },

    async fill({ selector, value }, ctx) {
      await withElement(page, selector, ctx, "fill", async (el) => {
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
      await withElement(page, selector, ctx, "type", async (el) => {
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
        await withElement(page, selector, ctx, "press", (el) => el.focus());
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
      const chosen = await withElement(page, selector, ctx, "select", async (el) => {
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
      const wait = Math.max(1, budget - Math.min(1000, budget * 0.1));
      await (await query(page, selector, "waitForSelector"))?.dispose();
      try {
        const el = await page.waitForSelector(selector, {
          visible: (state ?? "visible") === "visible",
          hidden: state === "hidden",
          timeout: wait,
          signal: ctx.signal,
        });
        await el?.dispose();
        return { found: true };
      } catch (error) {
        if (error instanceof TimeoutError && !ctx.signal.aborted) return { found: false };
        if (isInvalidSelectorError(error)) {
          throw invalidSelector(selector, "waitForSelector", error);
        }
        throw error;
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
        page,
        selector,
        ctx,
        "innerHTML",
        (el) => readSafely(el, "html"),
      );
      return { html: fitting(html, `The inner HTML of ${quote(selector)}`) };
    },

    async textContent({ selector }, ctx) {
      const text = await withElement(
        page,
        selector,
        ctx,
        "textContent",
        (el) => readSafely(el, "text"),
      );
      return { text: fitting(text, `The text of ${quote(selector)}`) };
    },

    async getAttribute({ selector, name }, ctx) {
      const value = await withElement(page, selector, ctx, "getAttribute", async (el) => {
        if (name.toLowerCase() === "value" && await sensitivity(el) !== null) {
          throw new CommandFailure(
            "refused",
            `Refused to read the value of ${quote(selector)}: it holds what the user typed`,
          );
        }
        return await el.evaluate((e, n) => e.getAttribute(n), name);
      });
      return { value: value === null ? null : fitting(value, `Attribute ${quote(name)}`) };
    },

    async evaluate({ expression }, ctx) {
      let json: string | { error: string };
      try {
        json = isRuleOn("evaluateIsolation")
          ? await evaluateIsolated(cdp, expression)
          : await evaluateInPage(page, expression);
      } catch (error) {
        if (error instanceof CommandFailure || ctx.signal.aborted) throw error;
        if (error instanceof TimeoutError) throw error;
        throw new CommandFailure("evaluation_failed", `Evaluate failed: ${describe(error)}`);
      }
      if (typeof json !== "string") {
        throw new CommandFailure(
          "evaluation_failed",
          `The result of evaluate is not JSON-serialisable: ${json.error}`,
        );
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

    yieldToUser,

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
 * `evaluate` in the page's own world: only when a test switched the
 * `evaluateIsolation` rule off.
 *
 * Residual risk of the isolated `evaluate` (see `evaluateIsolated`): the
 * isolated world guards only its own prototypes and globals. It cannot change
 * the DOM (see `readOnlyDom`), but a `javascript:` URL given to `location`
 * (whose members are [LegacyUnforgeable]) runs in the page's world,
 * unguarded, and so does a same-origin frame reached through `window[0]` (a
 * fresh realm). `location` still reaches the network. So does a secret the page keeps itself: in
 * its JavaScript state (unreadable from the isolated world, but readable by
 * such an inserted script), in a hidden field or the DOM, or in a field it
 * copied the value into. Validity oracles (`pattern` + `validity`) only see
 * fields the yield did not empty. Field emptying and scrubbing of known
 * secret strings remain the defence there.
 */
async function evaluateInPage(page: Page, expression: string): Promise<string | { error: string }> {
  let handle;
  try {
    handle = await page.evaluateHandle(expression);
  } catch (error) {
    if (error instanceof TimeoutError) throw error;
    throw new CommandFailure("evaluation_failed", `Evaluate threw: ${describe(error)}`);
  }
  try {
    return await handle.evaluate((value) => {
      try {
        const text = JSON.stringify(value);
        return text === undefined ? "null" : text;
      } catch (error) {
        return { error: String(error) };
      }
    });
  } finally {
    await handle.dispose().catch(() => {});
  }
}

function remaining(ctx: CommandContext): number {
  return Math.max(1, Math.round(ctx.deadline - performance.now()));
}

/** `page.$()`, with a malformed selector reported as `invalid_command`. */
async function query(
  page: Page,
  selector: string,
  command: string,
): Promise<ElementHandle<Element> | null> {
  try {
    return await page.$(selector);
  } catch (error) {
    if (isInvalidSelectorError(error)) throw invalidSelector(selector, command, error);
    throw error;
  }
}

function invalidSelector(selector: string, command: string, error: unknown): CommandFailure {
  return new CommandFailure(
    "invalid_command",
    `Invalid selector ${quote(selector)} (${command}): ${describe(error)}`,
  );
}

/**
 * Finds the first element matching `selector`, waiting up to two seconds (or
 * half the command's time, if less) for it to be attached, runs `use` on it,
 * and releases it.
 */
async function withElement<T>(
  page: Page,
  selector: string,
  ctx: CommandContext,
  command: string,
  use: (element: ElementHandle<Element>) => Promise<T>,
): Promise<T> {
  const wait = Math.max(1, Math.min(FIND_WAIT_MS, (ctx.deadline - performance.now()) / 2));
  // the fast path also rejects a malformed selector at once
  let element = await query(page, selector, command);
  if (!element) {
    try {
      element = await page.waitForSelector(selector, { timeout: wait, signal: ctx.signal });
    } catch (error) {
      if (error instanceof TimeoutError && !ctx.signal.aborted) element = null;
      else throw error;
    }
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
