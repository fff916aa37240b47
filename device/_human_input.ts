/// <reference lib="dom" />
/**
 * Remembers which fields the human typed into while they had control, so the
 * automation can never overwrite, type into or read them afterwards, and
 * tells the device what was typed so it can scrub it from everything it sends.
 *
 * A capturing `input` listener in each document marks the element of every
 * trusted input event in a `WeakSet` while a yield is on, and reports the
 * field's value (and, at any time, a password field's value) to the device
 * through a page binding. The values stay in the device's memory: they are
 * what the `secrets` redaction rule looks for. Nothing is added to the DOM.
 *
 * @module
 */
import type { ElementHandle, Page } from "puppeteer-core";

/** Where the page keeps its input-tracking state (the typed `WeakSet`). */
export const INPUT_KEY = "__passageDeviceInput";
const KEY = INPUT_KEY;
/** The binding the page calls with `(fieldKey, value)`; see {@link HumanInput.attach}. */
const BINDING = "__passageDeviceTyped";

/** Why a field is off limits to the automation. */
export type Sensitivity = "password" | "typed" | null;

/** Tracks human input on one page. */
export class HumanInput {
  readonly #page: Page;
  readonly #onValue: (field: string, value: string) => void;
  #scriptId: string | null = null;

  /** `onValue` receives each typed field's value as it changes, keyed by field. */
  constructor(page: Page, onValue: (field: string, value: string) => void = () => {}) {
    this.#page = page;
    this.#onValue = onValue;
  }

  /** Installs the binding the page reports typed values through. Call once, before any yield. */
  async attach(): Promise<void> {
    await this.#page.exposeFunction(BINDING, (field: unknown, value: unknown) => {
      if (typeof field === "string" && typeof value === "string") {
        this.#onValue(field.slice(0, 200), value);
      }
    });
    // before the page's own scripts: closed shadow roots are recorded as they are made
    await this.#page.evaluateOnNewDocument(track, KEY, BINDING, false);
    await this.#inEveryFrame(false);
  }

  /** Starts marking typed-into fields, in this document and any loaded while it lasts. */
  async begin(): Promise<void> {
    const { identifier } = await this.#page.evaluateOnNewDocument(track, KEY, BINDING, true);
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
        frame.evaluate(track, KEY, BINDING, on).catch(() => {
          // a frame that is navigating: the new-document script covers it
        })
      ),
    );
  }
}

/**
 * The `backendNodeId`s of the fields the human typed into, in every frame
 * (shadow roots included): what `_snapshot.ts` leaves out of its copy.
 */
export async function typedFieldIds(page: Page): Promise<Set<number>> {
  const ids = new Set<number>();
  await Promise.all(
    page.frames().map(async (frame) => {
      try {
        // a frame between two documents may never answer: it has no typed fields yet
        const asked = frame.evaluateHandle(typedElementsIn, KEY);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 1000));
        const list = await Promise.race([asked, late]).finally(() => clearTimeout(timer));
        if (list === null) {
          asked.then((handle) => handle.dispose(), () => {});
          return;
        }
        // none typed (the usual case): no round trips to list and release
        if (!list.remoteObject().objectId) return;
        try {
          for (const handle of (await list.getProperties()).values()) {
            const element = handle.asElement();
            if (element) ids.add(await element.backendNodeId());
            await handle.dispose();
          }
        } finally {
          await list.dispose();
        }
      } catch {
        // a frame that is navigating has no typed fields yet
      }
    }),
  );
  return ids;
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

/**
 * The values of every password field and every field the human typed into,
 * in every frame, read now. Frames that do not answer within `timeoutMs`
 * (navigating) are skipped.
 */
export async function readSecretValues(page: Page, timeoutMs = 500): Promise<string[]> {
  const all = await Promise.all(
    page.frames().map(async (frame) => {
      const read = frame.evaluate(secretValuesIn, KEY).catch(() => [] as string[]);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<string[]>((resolve) =>
        timer = setTimeout(() => resolve([]), timeoutMs)
      );
      try {
        return await Promise.race([read, late]);
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return all.flat();
}

/**
 * Empties every password field and every field the human typed into, in
 * every frame that answers within `timeoutMs`: sets `.value = ""` (or the
 * text of an editable element) and dispatches no event. Call it when a yield
 * ends, after the values were recorded: the login has been submitted, and no
 * later command can read them back, in any encoding.
 */
export async function clearSecretValues(page: Page, timeoutMs = 500): Promise<void> {
  await Promise.all(
    page.frames().map(async (frame) => {
      const clear = frame.evaluate(clearSecretsIn, KEY).catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
      try {
        await Promise.race([clear, late]);
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/** Runs in the page: the elements of this document the human typed into (null for none). */
export function typedElementsIn(key: string): Element[] | null {
  const state = (window as unknown as Record<string, FieldState | undefined>)[key];
  if (!state) return null;
  const typed = [...state.fields().filter((el) => state.typed.has(el)), ...state.echoes()];
  return typed.length > 0 ? typed : null;
}

/** What `track` keeps in each document. */
interface FieldState {
  typed: WeakSet<Element>;
  on: boolean;
  /** Every input, text area and editable element, in open and closed shadow roots too. */
  fields(): Element[];
  /** The joined values of one-character code boxes (`[1][2][3][4][5][6]`), by group. */
  groups(): string[];
  /** Whether the human typed anything into this document. */
  touched: boolean;
  /** Elements the page changed in answer to the human's typing (it echoed what they typed). */
  echoes(): Element[];
  /** The document and its shadow roots. */
  roots(): Array<Document | ShadowRoot>;
}

/** Runs in the page: empties password fields and human-typed fields. */
function clearSecretsIn(key: string): void {
  const state = (window as unknown as Record<string, FieldState | undefined>)[key];
  const typed = state?.typed;
  const fields = state?.fields() ?? document.querySelectorAll("input, textarea, [contenteditable]");
  for (const el of fields) {
    const password = el instanceof HTMLInputElement &&
      (el.type === "password" || /\b(current|new)-password\b/i.test(el.autocomplete));
    if (!password && !(typed?.has(el) ?? false)) continue;
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
      if (el.value !== "") el.value = "";
    } else if (el.textContent !== "") {
      el.textContent = "";
    }
  }
}

/**
 * Runs in the page: installs the listener once, and turns marking on or off.
 * Each trusted input into a text field while marking is on (and into a
 * password field at any time) is reported to the device through `binding`.
 */
function track(key: string, binding: string, on: boolean): void {
  const w = window as unknown as Record<string, unknown>;
  let state = w[key] as { typed: WeakSet<Element>; on: boolean } | undefined;
  if (!state) {
    // closed shadow roots are out of reach of every script but through this record
    const closed = new WeakMap<Element, ShadowRoot>();
    const attach = Element.prototype.attachShadow;
    Element.prototype.attachShadow = function (this: Element, init: ShadowRootInit) {
      const root = attach.call(this, init);
      closed.set(this, root);
      (w[key] as { watch?: (n: Node) => void } | undefined)?.watch?.(root);
      return root;
    };
    const selector = "input, textarea, [contenteditable]";
    const fields = (): Element[] => {
      const out: Element[] = [];
      const visit = (root: Document | ShadowRoot) => {
        for (const el of root.querySelectorAll("*")) {
          if (el.matches(selector)) out.push(el);
          const inner = el.shadowRoot ?? closed.get(el);
          if (inner) visit(inner);
        }
      };
      visit(document);
      return out;
    };
    /** A one- or two-character box: part of a code typed box by box. */
    const isBox = (el: Element): el is HTMLInputElement =>
      el instanceof HTMLInputElement && el.maxLength > 0 && el.maxLength <= 2;
    /** The nearest container (up to three levels up) holding at least two boxes. */
    const groupOf = (el: HTMLInputElement): Element | null => {
      let at: Element | null = el.parentElement;
      for (let level = 0; at && level < 3; level++, at = at.parentElement) {
        if ([...at.querySelectorAll("input")].filter(isBox).length >= 2) return at;
      }
      return null;
    };
    const joined = (group: Element) =>
      [...group.querySelectorAll("input")].filter(isBox).map((box) => box.value).join("");
    const groups = (): string[] => {
      const seen = new Set<Element>();
      for (const el of fields()) {
        const group = isBox(el) && s.typed.has(el) ? groupOf(el) : null;
        if (group) seen.add(group);
      }
      return [...seen].map(joined).filter((v) => v !== "");
    };
    /** The document and every shadow root in it, open or closed. */
    const roots = (): Array<Document | ShadowRoot> => {
      const out: Array<Document | ShadowRoot> = [document];
      const visit = (root: Document | ShadowRoot) => {
        for (const el of root.querySelectorAll("*")) {
          const inner = el.shadowRoot ?? closed.get(el);
          if (inner) {
            out.push(inner);
            visit(inner);
          }
        }
      };
      visit(document);
      return out;
    };
    // what the page changes while it handles a keystroke of the human's (the
    // event's own task and its microtasks) echoes what they typed: a code
    // drawn box by box, a "show password" mirror, a strength meter
    const echoed = new Set<WeakRef<Element>>();
    let echoing = false;
    const record = (records: MutationRecord[]) => {
      if (!echoing) return;
      for (const r of records) {
        const el = r.target instanceof Element ? r.target : r.target.parentElement;
        if (el) echoed.add(new WeakRef(el));
        for (const added of r.addedNodes) {
          if (added instanceof Element) echoed.add(new WeakRef(added));
        }
      }
    };
    const observer = new MutationObserver(record);
    const watch = (root: Node) =>
      observer.observe(root, {
        subtree: true,
        childList: true,
        characterData: true,
        attributes: true,
      });
    watch(document);
    const echoes = (): Element[] => {
      const out: Element[] = [];
      for (const ref of echoed) {
        const el = ref.deref();
        if (el) out.push(el);
        else echoed.delete(ref);
      }
      return out;
    };
    const s = {
      typed: new WeakSet<Element>(),
      on: false,
      touched: false,
      fields,
      groups,
      roots,
      echoes,
      /** Starts counting the page's changes as echoes until this task is over. */
      echo() {
        echoing = true;
        setTimeout(() => {
          record(observer.takeRecords());
          echoing = false;
        }, 0);
      },
      watch,
    };
    state = s;
    Object.defineProperty(w, key, { value: s, enumerable: false });
    const ids = new WeakMap<Element, number>();
    const doc = Math.random().toString(36).slice(2);
    let next = 1;
    const textTypes = new Set(["", "text", "password", "email", "tel", "number", "search", "url"]);
    const valueOf = (el: Element): string | null => {
      if (el instanceof HTMLInputElement) return textTypes.has(el.type) ? el.value : null;
      if (el instanceof HTMLTextAreaElement) return el.value;
      if (el instanceof HTMLElement && el.isContentEditable) return el.textContent ?? "";
      return null;
    };
    const isPassword = (el: Element) =>
      el instanceof HTMLInputElement &&
      (el.type === "password" || /\b(current|new)-password\b/i.test(el.autocomplete));
    addEventListener("input", (event) => {
      if (!event.isTrusted) return;
      const first = event.composedPath()[0];
      const target = first instanceof Element
        ? first
        : event.target instanceof Element
        ? event.target
        : null;
      if (!target) return;
      if (s.on) {
        s.echo();
        s.touched = true;
        s.typed.add(target);
        if (event.target instanceof Element) s.typed.add(event.target);
      }
      if (!s.on && !isPassword(target)) return;
      const value = valueOf(target);
      if (value === null) return;
      let id = ids.get(target);
      if (id === undefined) ids.set(target, id = next++);
      const report = w[binding];
      if (typeof report === "function") {
        Promise.resolve(report(`${doc}:${id}`, value)).catch(() => {});
        // a code typed box by box is a secret only when the boxes are joined
        const group = s.on && isBox(target) ? groupOf(target) : null;
        if (group) {
          let gid = ids.get(group);
          if (gid === undefined) ids.set(group, gid = next++);
          Promise.resolve(report(`${doc}:g${gid}`, joined(group))).catch(() => {});
        }
      }
    }, true);
  }
  state.on = on;
}

/** Runs in the page: the values of password fields and of fields the human typed into. */
function secretValuesIn(key: string): string[] {
  const state = (window as unknown as Record<string, FieldState | undefined>)[key];
  const typed = state?.typed;
  const out: string[] = state?.groups() ?? [];
  const fields = state?.fields() ?? document.querySelectorAll("input, textarea, [contenteditable]");
  for (const el of fields) {
    const password = el instanceof HTMLInputElement &&
      (el.type === "password" || /\b(current|new)-password\b/i.test(el.autocomplete));
    if (!password && !(typed?.has(el) ?? false)) continue;
    const value = el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement
      ? el.value
      : el.textContent ?? "";
    if (value !== "") out.push(value);
  }
  return out;
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
