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
import { redactSecrets } from "@passage/connect/redact";
import { parseHTML } from "linkedom";
import type { CDPSession, ElementHandle, Frame, Page } from "puppeteer-core";
import { CommandFailure, describe, isInvalidSelectorError, quote } from "./_errors.ts";
import { isRuleOn } from "./_rules.ts";
import {
  type CdpNode,
  copyDocument,
  NODE_ID_ATTRIBUTE,
  nodeIn,
  type TypedFields,
  writeDocument,
} from "./_snapshot.ts";

/** What a locator needs of the device. */
export interface LocateDeps {
  page: Page;
  cdp: CDPSession;
  typed: () => Promise<TypedFields>;
  /** The device's secrets, read again now. */
  secrets: () => Promise<readonly string[]>;
}

/** The copy each located element was found on: its node there, secrets blanked, and the typed fields. */
const copies = new WeakMap<ElementHandle<Element>, { node: CdpNode; typed: TypedFields }>();

/**
 * The copy of an element as it was when {@link locateEach} found it (made
 * safe as the copy was, before any selector saw it), or undefined for an
 * element found otherwise. Reading it spares a second copy of the element.
 */
export function copyFound(
  element: ElementHandle<Element>,
): { node: CdpNode; typed: TypedFields } | undefined {
  return copies.get(element);
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
 * The first live element matching each of `selectors` on one copy of the
 * document (null where none does). Throws `invalid_command` for a selector
 * the copy cannot parse.
 */
export async function locateEach(
  deps: LocateDeps,
  selectors: readonly string[],
  command: string,
): Promise<Array<ElementHandle<Element> | null>> {
  for (const selector of selectors) checkSelector(selector, command);
  const [typed, root] = await Promise.all([deps.typed(), copyDocument(deps.cdp)]);
  // the secrets are read after the copy is made, so everything the copy
  // holds was there to be read; then they are blanked and scrubbed from it
  const secrets = await deps.secrets();
  const html = redactSecrets(writeDocument(root, typed, secrets, true), secrets) as string;
  const { document } = parsed(html);
  const frame = deps.page.mainFrame() as Frame & {
    mainRealm(): {
      adoptBackendNode(id: number): Promise<{ asElement(): unknown; dispose(): Promise<void> }>;
    };
  };
  const out: Array<ElementHandle<Element> | null> = [];
  for (const selector of selectors) {
    let match: Element | null;
    try {
      match = document.querySelector(selector) as unknown as Element | null;
    } catch (error) {
      await Promise.all(out.map((el) => el?.dispose()));
      throw new CommandFailure(
        "invalid_command",
        `Invalid selector ${quote(selector)} (${command}): ${(error as Error).message}`,
      );
    }
    const id = Number(match?.getAttribute(NODE_ID_ATTRIBUTE));
    let element: ElementHandle<Element> | null = null;
    if (Number.isInteger(id) && id > 0) {
      try {
        const handle = await frame.mainRealm().adoptBackendNode(id);
        element = handle.asElement() as ElementHandle<Element> | null;
        if (!element) await handle.dispose();
        const node = element && nodeIn(root, id);
        if (node) copies.set(element!, { node, typed });
      } catch {
        // gone from the page since the copy was made
      }
    }
    out.push(element);
  }
  return out;
}

/**
 * The copy parsed, for selectors to run on. Commands in a row on a page that
 * did not change make the same copy: the last one parsed is parsed once
 * (selectors only read it).
 */
function parsed(html: string): { document: Document } {
  if (lastParsed?.html !== html) lastParsed = { html, document: parseHTML(html).document };
  return lastParsed;
}
let lastParsed: { html: string; document: Document } | null = null;

/** The first live element matching `selector` on the copy, or null. */
export async function locate(
  deps: LocateDeps,
  selector: string,
  command: string,
): Promise<ElementHandle<Element> | null> {
  return (await locateEach(deps, [selector], command))[0];
}

/** Finds the first element matching a selector, or null. */
export type Find = (selector: string, command: string) => Promise<ElementHandle<Element> | null>;

/** Finds the first element matching each of several selectors, on one copy. */
export type FindEach = (
  selectors: readonly string[],
  command: string,
) => Promise<Array<ElementHandle<Element> | null>>;

/** {@link finder} for several selectors at once (a yield's conditions). */
export function finderEach(deps: LocateDeps): FindEach {
  return (selectors, command) =>
    isRuleOn("snapshot")
      ? locateEach(deps, selectors, command)
      : Promise.all(selectors.map((selector) => queryLive(deps.page, selector, command)));
}

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
