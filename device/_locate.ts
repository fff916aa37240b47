/// <reference lib="dom" />
/**
 * Where a controller's selector is matched: on the device's scrubbed copy of
 * the document (`_snapshot.ts`), never in the live page. A selector run in
 * the page would be an oracle: `#pw[value^="a"]`, `:has()`, XPath or text
 * queries answer yes or no about values the copy leaves out, one bit per
 * command. Matched on the copy, a selector can only tell what the controller
 * may read anyway. The element found is then adopted in the live page by its
 * `backendNodeId`, so clicks and typing still act on the real thing.
 *
 * Selectors are plain CSS, as linkedom (css-select) understands them;
 * puppeteer's own syntax (`::-p-xpath`, `::-p-text`, `>>>`) is refused.
 *
 * @module
 */
import { parseHTML } from "linkedom";
import type { CDPSession, ElementHandle, Frame, Page } from "puppeteer-core";
import { CommandFailure, describe, isInvalidSelectorError, quote } from "./_errors.ts";
import { isRuleOn } from "./_rules.ts";
import { NODE_ID_ATTRIBUTE, snapshotDocument, type TypedFields } from "./_snapshot.ts";

/** What a locator needs of the device. */
export interface LocateDeps {
  page: Page;
  cdp: CDPSession;
  typed: () => Promise<TypedFields>;
  /** The device's secrets, read again now. */
  secrets: () => Promise<readonly string[]>;
  /** Replaces the secrets' spellings in a string (the copy, before any selector sees it). */
  scrub: (text: string) => Promise<string>;
}

const PUPPETEER_SYNTAX = /::-p-|>>>|\/deep\//;

/** Refuses what is not plain CSS, before any copy is made. */
export function checkSelector(selector: string, command: string): void {
  if (PUPPETEER_SYNTAX.test(selector)) {
    throw new CommandFailure(
      "invalid_command",
      `Invalid selector ${quote(selector)} (${command}): selectors are plain CSS`,
    );
  }
}

/**
 * The live elements matching `selector` on the copy, in document order (at
 * most `limit`). Throws `invalid_command` for a selector the copy cannot parse.
 */
export async function locateAll(
  deps: LocateDeps,
  selector: string,
  command: string,
  limit = 1,
): Promise<ElementHandle<Element>[]> {
  checkSelector(selector, command);
  const [typed, secrets] = await Promise.all([deps.typed(), deps.secrets()]);
  const html = await deps.scrub(await snapshotDocument(deps.cdp, typed, secrets, true));
  const { document } = parseHTML(html);
  let matches: Element[];
  try {
    matches = [...document.querySelectorAll(selector)].slice(0, limit) as unknown as Element[];
  } catch (error) {
    throw new CommandFailure(
      "invalid_command",
      `Invalid selector ${quote(selector)} (${command}): ${(error as Error).message}`,
    );
  }
  const frame = deps.page.mainFrame() as Frame & {
    mainRealm(): {
      adoptBackendNode(id: number): Promise<{ asElement(): unknown; dispose(): Promise<void> }>;
    };
  };
  const out: ElementHandle<Element>[] = [];
  for (const match of matches) {
    const id = Number(match.getAttribute(NODE_ID_ATTRIBUTE));
    if (!Number.isInteger(id) || id <= 0) continue;
    try {
      const handle = await frame.mainRealm().adoptBackendNode(id);
      const element = handle.asElement() as ElementHandle<Element> | null;
      if (element) out.push(element);
      else await handle.dispose();
    } catch {
      // gone from the page since the copy was made
    }
  }
  return out;
}

/** The first live element matching `selector` on the copy, or null. */
export async function locate(
  deps: LocateDeps,
  selector: string,
  command: string,
): Promise<ElementHandle<Element> | null> {
  return (await locateAll(deps, selector, command, 1))[0] ?? null;
}

/** Finds the first element matching a selector, or null. */
export type Find = (selector: string, command: string) => Promise<ElementHandle<Element> | null>;

/**
 * The device's way to find elements: on the scrubbed copy under the
 * `snapshot` rule; in the live page only when a test switched it off.
 */
export function finder(deps: LocateDeps): Find {
  return (selector, command) =>
    isRuleOn("snapshot")
      ? locate(deps, selector, command)
      : queryLive(deps.page, selector, command);
}

/** `page.$()`, with a malformed selector reported as `invalid_command` (rule off only). */
async function queryLive(
  page: Page,
  selector: string,
  command: string,
): Promise<ElementHandle<Element> | null> {
  try {
    return await page.$(selector);
  } catch (error) {
    if (isInvalidSelectorError(error)) {
      throw new CommandFailure(
        "invalid_command",
        `Invalid selector ${quote(selector)} (${command}): ${describe(error)}`,
      );
    }
    throw error;
  }
}
