/// <reference lib="dom" />
/**
 * Screenshots that fit in a message, with input values hidden when the human
 * has control.
 *
 * They are taken with `Page.captureScreenshot` on the device's own CDP
 * session rather than `page.screenshot()`: Chromium sometimes never answers a
 * capture that races a navigation, and puppeteer holds a lock across
 * screenshots, so one lost capture would block every later one. Here each
 * attempt has a deadline and is retried.
 *
 * @module
 */
import type { CDPSession, Frame, Page } from "puppeteer-core";
import { CommandFailure } from "./_errors.ts";
import { INPUT_KEY } from "./_human_input.ts";
import { MAX_SCREENSHOT_CHARS } from "./_limits.ts";

/** What to capture. */
export interface ScreenshotOptions {
  format: "jpeg" | "png";
  /** JPEG quality, 1–100 (default 60; ignored for PNG). */
  quality?: number;
  fullPage?: boolean;
  /**
   * What to hide: `"all"` the text of every input, text area, select and
   * editable element (the human has control); `"sensitive"` only password
   * fields and fields the human typed into; `"none"` (the default) nothing.
   */
  mask?: "all" | "sensitive" | "none";
  /** The longest base64 string allowed (default {@link MAX_SCREENSHOT_CHARS}). */
  maxChars?: number;
}

/** One capture attempt waits this long before another is made. */
const ATTEMPT_MS = 3000;
const ATTEMPTS = 4;

/**
 * Takes a screenshot as base64. A JPEG that comes out too large is retaken at
 * lower qualities; a PNG that is too large fails with `device_error`. With
 * a `mask`, every frame must be masked or no screenshot is taken.
 */
export async function takeScreenshot(
  page: Page,
  cdp: CDPSession,
  options: ScreenshotOptions,
): Promise<{ format: "jpeg" | "png"; data: string }> {
  const maxChars = options.maxChars ?? MAX_SCREENSHOT_CHARS;
  const mask = options.mask ?? "none";
  const masked = mask === "none" ? [] : await maskInputs(page, mask === "all");
  try {
    const clip = options.fullPage ? await pageSize(cdp) : undefined;
    const shoot = (format: "jpeg" | "png", quality?: number) =>
      capture(cdp, {
        format,
        ...(quality !== undefined ? { quality } : {}),
        ...(clip ? { clip, captureBeyondViewport: true } : {}),
      });
    if (options.format === "png") {
      const data = await shoot("png");
      if (data.length > maxChars) {
        throw new CommandFailure(
          "device_error",
          `The PNG screenshot is ${data.length} characters of base64, over the message limit: ask for jpeg`,
        );
      }
      return { format: "png", data };
    }
    let quality = options.quality ?? 60;
    while (true) {
      const data = await shoot("jpeg", quality);
      if (data.length <= maxChars) return { format: "jpeg", data };
      if (quality <= 5) {
        throw new CommandFailure(
          "device_error",
          `The screenshot is over the message limit even at JPEG quality ${quality}`,
        );
      }
      quality = Math.max(5, Math.floor(quality / 2));
    }
  } finally {
    await unmaskInputs(masked);
  }
}

/** The whole page, as a clip rectangle. */
async function pageSize(cdp: CDPSession) {
  const { cssContentSize } = await cdp.send("Page.getLayoutMetrics");
  return {
    x: 0,
    y: 0,
    width: Math.ceil(cssContentSize.width),
    height: Math.ceil(cssContentSize.height),
    scale: 1,
  };
}

/** `Page.captureScreenshot`, retried when Chromium loses or refuses it during a navigation. */
async function capture(
  cdp: CDPSession,
  params: {
    format: "jpeg" | "png";
    quality?: number;
    clip?: { x: number; y: number; width: number; height: number; scale: number };
    captureBeyondViewport?: boolean;
  },
): Promise<string> {
  let lastError: unknown = null;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const call = cdp.send("Page.captureScreenshot", params);
    // a capture left behind is rejected when the browser closes
    call.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), ATTEMPT_MS);
    });
    try {
      const result = await Promise.race([call, late]);
      if (result !== "late") return result.data;
      lastError = new Error(`no answer within ${ATTEMPT_MS} ms`);
    } catch (error) {
      if (!/not attached to an active page/i.test((error as Error).message)) throw error;
      lastError = error;
    } finally {
      clearTimeout(timer);
    }
    await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
  }
  throw new Error(`Chromium did not take the screenshot: ${(lastError as Error).message}`);
}

const MASK_KEY = "__passageDeviceMask";

/**
 * Makes typed text invisible in every frame and returns the frames to
 * restore. Throws (after restoring) when any frame could not be masked.
 */
async function maskInputs(page: Page, all: boolean): Promise<Frame[]> {
  for (let attempt = 1;; attempt++) {
    try {
      return await maskEveryFrame(page, all);
    } catch (error) {
      // a frame between two documents: try again once it has settled
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}

async function maskEveryFrame(page: Page, all: boolean): Promise<Frame[]> {
  const frames = page.frames();
  const results = await Promise.allSettled(frames.map(async (frame) => {
    await withDeadline(frame.evaluate(maskFrame, MASK_KEY, INPUT_KEY, all), ATTEMPT_MS);
    return frame;
  }));
  const done = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  if (done.length < frames.length) {
    await unmaskInputs(done);
    throw new Error("Could not mask the inputs of every frame");
  }
  return done;
}

async function unmaskInputs(frames: Frame[]): Promise<void> {
  await Promise.all(frames.map(async (frame) => {
    try {
      await withDeadline(frame.evaluate(unmaskFrame, MASK_KEY), ATTEMPT_MS);
    } catch {
      // the frame navigated away: nothing left to restore
    }
  }));
}

/** `promise`, or a rejection after `ms`. */
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  promise.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs in the page: hides the text of every field (or, unless `all`, of
 * password fields and fields the human typed into), remembering each one's
 * style attribute; in a document the human typed into, hides all text.
 */
function maskFrame(key: string, inputKey: string, all: boolean): void {
  const skip = new Set([
    "button",
    "submit",
    "reset",
    "checkbox",
    "radio",
    "range",
    "color",
    "image",
    "file",
    "hidden",
  ]);
  const w = window as unknown as Record<string, unknown>;
  const saved: Array<[HTMLElement, string | null]> =
    (w[key] as Array<[HTMLElement, string | null]>) ?? [];
  const typed = (w[inputKey] as { typed?: WeakSet<Element> } | undefined)?.typed;
  const sensitive = (el: HTMLElement) =>
    (typed?.has(el) ?? false) ||
    (el instanceof HTMLInputElement &&
      (el.type === "password" || /\b(current|new)-password\b/i.test(el.autocomplete)));
  const fields = document.querySelectorAll<HTMLElement>(
    "input, textarea, select, [contenteditable]:not([contenteditable=false])",
  );
  for (const el of fields) {
    if (el instanceof HTMLInputElement && skip.has(el.type)) continue;
    if (!all && !sensitive(el)) continue;
    saved.push([el, el.getAttribute("style")]);
    el.style.setProperty("color", "transparent", "important");
    el.style.setProperty("-webkit-text-fill-color", "transparent", "important");
    el.style.setProperty("text-shadow", "none", "important");
    el.style.setProperty("caret-color", "transparent", "important");
  }
  Object.defineProperty(w, key, { value: saved, configurable: true, enumerable: false });
  // a document the human typed into may show what they typed in ways no
  // field check sees (a code drawn box by box, a "show password" mirror,
  // generated content): all of its text is hidden, in every shadow root too
  const state = w[inputKey] as { touched?: boolean; roots?: () => Array<Document | ShadowRoot> };
  if (state?.touched) {
    const css = "*, *::before, *::after { color: transparent !important; " +
      "-webkit-text-fill-color: transparent !important; text-shadow: none !important; " +
      "caret-color: transparent !important; } *::before, *::after { content: none !important; } " +
      "canvas, svg text { visibility: hidden !important; }";
    const sheets: HTMLStyleElement[] = [];
    for (const root of state.roots?.() ?? [document]) {
      const style = document.createElement("style");
      style.textContent = css;
      (root instanceof Document ? (root.head ?? root.documentElement) : root).append(style);
      sheets.push(style);
    }
    Object.defineProperty(w, `${key}Sheets`, {
      value: sheets,
      configurable: true,
      enumerable: false,
    });
  }
}

/** Runs in the page: puts every style attribute back as it was. */
function unmaskFrame(key: string): void {
  const w = window as unknown as Record<string, unknown>;
  const saved = (w[key] as Array<[HTMLElement, string | null]>) ?? [];
  delete w[key];
  for (const sheet of (w[`${key}Sheets`] as HTMLStyleElement[] | undefined) ?? []) sheet.remove();
  delete w[`${key}Sheets`];
  for (const [el, style] of saved.reverse()) {
    // set before removing: Chromium otherwise re-adds an empty style attribute
    el.setAttribute("style", style ?? "");
    if (style === null) el.removeAttribute("style");
  }
}
