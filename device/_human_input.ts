/// <reference lib="dom" />
/**
 * Remembers which fields the human typed into while they had control, so the
 * automation can never overwrite, type into or read them afterwards.
 *
 * A capturing `input` listener in each document marks the element of every
 * trusted input event in a `WeakSet` while a yield is on. Nothing is added to
 * the DOM.
 *
 * @module
 */
import type { ElementHandle, Page } from "puppeteer-core";

const KEY = "__passageDeviceInput";

/** Why a field is off limits to the automation. */
export type Sensitivity = "password" | "typed" | null;

/** Tracks human input on one page. */
export class HumanInput {
  readonly #page: Page;
  #scriptId: string | null = null;

  constructor(page: Page) {
    this.#page = page;
  }

  /** Starts marking typed-into fields, in this document and any loaded while it lasts. */
  async begin(): Promise<void> {
    const { identifier } = await this.#page.evaluateOnNewDocument(track, KEY, true);
    this.#scriptId = identifier;
    await this.#inEveryFrame(true);
  }

  /** Stops marking. Marks already made stay for the life of their document. */
  async end(): Promise<void> {
    const id = this.#scriptId;
    this.#scriptId = null;
    if (id !== null) {
      await this.#page.removeScriptToEvaluateOnNewDocument(id).catch(() => {});
    }
    await this.#inEveryFrame(false);
  }

  async #inEveryFrame(on: boolean): Promise<void> {
    await Promise.all(
      this.#page.frames().map((frame) =>
        frame.evaluate(track, KEY, on).catch(() => {
          // a frame that is navigating: the new-document script covers it
        })
      ),
    );
  }
}

/** Whether an element is a password field or a field the human typed into. */
export async function sensitivity(element: ElementHandle<Element>): Promise<Sensitivity> {
  return await element.evaluate(sensitivityOf, KEY) as Sensitivity;
}

/**
 * The element's inner HTML (or text), with the values of password fields and
 * human-typed fields inside it left out.
 */
export async function readSafely(
  element: ElementHandle<Element>,
  what: "html" | "text",
): Promise<string> {
  return await element.evaluate(readWithoutSecrets, KEY, what);
}

/** Runs in the page: installs the listener once, and turns marking on or off. */
function track(key: string, on: boolean): void {
  const w = window as unknown as Record<string, { typed: WeakSet<Element>; on: boolean }>;
  let state = w[key];
  if (!state) {
    const s = { typed: new WeakSet<Element>(), on: false };
    state = s;
    Object.defineProperty(w, key, { value: s, enumerable: false });
    addEventListener("input", (event) => {
      if (!s.on || !event.isTrusted) return;
      const first = event.composedPath()[0];
      if (first instanceof Element) s.typed.add(first);
      if (event.target instanceof Element) s.typed.add(event.target);
    }, true);
  }
  state.on = on;
}

/** Runs in the page. Written out in full: puppeteer sends each function on its own. */
function sensitivityOf(el: Element, key: string): string | null {
  const view = el.ownerDocument.defaultView as unknown as Record<
    string,
    { typed: WeakSet<Element> } | undefined
  >;
  if (view?.[key]?.typed.has(el)) return "typed";
  if (
    el instanceof HTMLInputElement &&
    (el.type === "password" || /\b(current|new)-password\b/i.test(el.autocomplete))
  ) {
    return "password";
  }
  return null;
}

/** Runs in the page: innerHTML or textContent of a copy with secret values removed. */
function readWithoutSecrets(root: Element, key: string, what: "html" | "text"): string {
  const view = root.ownerDocument.defaultView as unknown as Record<
    string,
    { typed: WeakSet<Element> } | undefined
  >;
  const typed = view?.[key]?.typed;
  const secret = (el: Element) =>
    (typed?.has(el) ?? false) ||
    (el instanceof HTMLInputElement &&
      (el.type === "password" || /\b(current|new)-password\b/i.test(el.autocomplete)));
  const read = (el: Element) => what === "html" ? el.innerHTML : el.textContent ?? "";
  if (secret(root)) return "";
  const fields = "input, textarea, [contenteditable]";
  const originals = [...root.querySelectorAll(fields)];
  if (!originals.some(secret)) return read(root);
  // copy into an inert document (no scripts, no custom element upgrades) and blank the secrets
  const inert = document.implementation.createHTMLDocument("");
  const copy = inert.importNode(root, true) as Element;
  const copies = [...copy.querySelectorAll(fields)];
  originals.forEach((original, i) => {
    if (!secret(original) || !copies[i]) return;
    copies[i].removeAttribute("value");
    if (copies[i].localName !== "input") copies[i].textContent = "";
  });
  return read(copy);
}
