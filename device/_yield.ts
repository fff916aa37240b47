/**
 * `yieldToUser`: the human has the browser until one of the conditions holds.
 *
 * @module
 */
import type { Commands, YieldCondition } from "@passage/connect/protocol";
import type { Frame, HTTPResponse, Page } from "puppeteer-core";
import { describeResponse } from "./_capture.ts";
import { CommandFailure, quote } from "./_errors.ts";
import type { FindEach } from "./_locate.ts";
import { maskUrl } from "./_mask.ts";

type YieldParams = Commands["yieldToUser"]["params"];
type YieldResult = Commands["yieldToUser"]["result"];

/** Selector and URL conditions are checked this often (and on every navigation). */
const POLL_MS = 250;

/**
 * Compiles the `urlMatches` patterns of `params`, failing with
 * `invalid_command` on one that is not a valid regular expression.
 */
export function checkConditions(params: YieldParams): (RegExp | null)[] {
  return params.conditions.map((c) => {
    if (c.type !== "url" || c.urlMatches === undefined) return null;
    try {
      return new RegExp(c.urlMatches);
    } catch (error) {
      throw new CommandFailure(
        "invalid_command",
        `Invalid urlMatches ${quote(c.urlMatches)} (yieldToUser): ${(error as Error).message}`,
      );
    }
  });
}

/**
 * Waits until a condition holds, or fails with `yield_timeout` after
 * `params.timeout` milliseconds, or with the signal's reason when it aborts.
 * Selector and URL conditions that already hold count; network responses
 * count only from now. The caller hands control to the human before and
 * takes it back after.
 */
export async function waitForConditions(
  page: Page,
  params: YieldParams,
  signal: AbortSignal,
  findEach: FindEach,
): Promise<YieldResult> {
  const { conditions } = params;
  const patterns = checkConditions(params);

  return await new Promise<YieldResult>((resolve, reject) => {
    let settled = false;
    let checking = false;

    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      page.off("response", onResponse);
      page.off("framenavigated", onNavigated);
      clearInterval(poll);
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      outcome();
    };
    const won = (index: number, type: YieldCondition["type"], extra: Partial<YieldResult> = {}) =>
      finish(() => resolve({ condition: { index, type }, url: maskUrl(page.url()), ...extra }));

    const onResponse = (response: HTTPResponse) => {
      if (settled) return;
      const url = response.url();
      const method = response.request().method();
      conditions.forEach((c, index) => {
        if (c.type !== "networkRequest" || settled) return;
        if (!url.includes(c.urlContains)) return;
        if (c.method !== undefined && c.method.toUpperCase() !== method.toUpperCase()) return;
        const { capture, body } = describeResponse(response, c.captureBody ?? false);
        body.then((text) => {
          const networkCapture = text === undefined ? capture : { ...capture, responseBody: text };
          won(index, "networkRequest", { networkCapture });
        });
      });
    };

    const check = async () => {
      if (settled || checking) return;
      checking = true;
      try {
        for (const [index, c] of conditions.entries()) {
          if (settled) return;
          if (c.type === "url") {
            const url = page.url();
            const pattern = patterns[index];
            if (
              (c.urlContains !== undefined && url.includes(c.urlContains)) ||
              (pattern !== null && pattern.test(url))
            ) {
              return won(index, "url");
            }
          }
        }
        // every selector condition on one copy of the document
        const selectors = conditions.flatMap((c, index) =>
          c.type === "selector" ? [{ index, selector: c.selector }] : []
        );
        if (selectors.length > 0 && !settled) {
          const shown = await anyShown(findEach, selectors.map((s) => s.selector));
          if (shown !== null && !settled) return won(selectors[shown].index, "selector");
        }
      } catch (error) {
        if (error instanceof CommandFailure && error.code === "invalid_command") {
          finish(() => reject(error));
        }
        // otherwise the page was navigating: the next check will tell
      } finally {
        checking = false;
      }
    };

    const onNavigated = (frame: Frame) => {
      if (frame === page.mainFrame()) check();
    };
    const onAbort = () => finish(() => reject(signal.reason));

    const poll = setInterval(check, POLL_MS);
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new CommandFailure(
              "yield_timeout",
              `The user did not finish within ${params.timeout} ms (yieldToUser)`,
            ),
          )
        ),
      params.timeout,
    );
    page.on("response", onResponse);
    page.on("framenavigated", onNavigated);
    signal.addEventListener("abort", onAbort);
    if (signal.aborted) onAbort();
    else check();
  });
}

/**
 * The position of the first of `selectors` whose element (on the device's
 * copy) is attached and visible, or null. Gives up (null) after five seconds,
 * as calls into a page that is navigating can hang.
 */
async function anyShown(findEach: FindEach, selectors: string[]): Promise<number | null> {
  const look = (async () => {
    const elements = await findEach(selectors, "yieldToUser");
    try {
      for (const [i, element] of elements.entries()) {
        if (element && await element.isVisible()) return i;
      }
      return null;
    } finally {
      await Promise.all(elements.map((el) => el?.dispose().catch(() => {})));
    }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 5000));
  try {
    return await Promise.race([look, late]);
  } finally {
    clearTimeout(timer);
  }
}
