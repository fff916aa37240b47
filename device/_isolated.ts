/// <reference lib="dom" />
/**
 * `evaluate` in an isolated world (the `evaluateIsolation` rule). Each call
 * gets a fresh world of the main frame, where, before the expression runs,
 * field values of password and human-typed fields, cookies, storage,
 * `FormData` and the network are made unreachable. Each world has its own
 * prototypes and globals: the page's own JavaScript is unaffected.
 *
 * @module
 */
import type { CDPSession } from "puppeteer-core";
import { CommandFailure } from "./_errors.ts";
import { INPUT_KEY, typedElementsIn } from "./_human_input.ts";

/** The message of every refused network call. */
export const NO_NETWORK = "network access is not available to evaluate";

/** The message of every refused change to the page. */
export const NO_WRITE = "evaluate cannot change the page";

let worlds = 0;

/**
 * Evaluates `expression` in a new isolated world of the page's main frame and
 * returns its (awaited) value as JSON text, or `{ error }` when the value is
 * not JSON-serialisable. Throws `evaluation_failed` when the expression throws.
 */
export async function evaluateIsolated(
  cdp: CDPSession,
  expression: string,
): Promise<string | { error: string }> {
  const group = `passage-evaluate-${++worlds}`;
  try {
    const { frameTree } = await cdp.send("Page.getFrameTree");
    const { executionContextId } = await cdp.send("Page.createIsolatedWorld", {
      frameId: frameTree.frame.id,
      worldName: group,
      grantUniveralAccess: false,
    });
    // the fields the human typed into, as seen from the new world
    const typed: { objectId: string }[] = [];
    const { result: list } = await cdp.send("Runtime.evaluate", {
      expression: `(${typedElementsIn})(${JSON.stringify(INPUT_KEY)})`,
      objectGroup: group,
    });
    if (list.objectId) {
      const { result: items } = await cdp.send("Runtime.getProperties", {
        objectId: list.objectId,
        ownProperties: true,
      });
      for (const item of items) {
        const objectId = item.value?.subtype === "node" ? item.value.objectId : undefined;
        if (!objectId) continue;
        const { node } = await cdp.send("DOM.describeNode", { objectId });
        const { object } = await cdp.send("DOM.resolveNode", {
          backendNodeId: node.backendNodeId,
          executionContextId,
          objectGroup: group,
        });
        if (object.objectId) typed.push({ objectId: object.objectId });
      }
    }
    const guarded = await cdp.send("Runtime.callFunctionOn", {
      // guardWorld calls readOnlyDom: both are declared in the world
      functionDeclaration:
        `function (...args) { ${readOnlyDom}\n${guardWorld}\nreturn guardWorld(...args); }`,
      executionContextId,
      arguments: [{ value: NO_NETWORK }, { value: NO_WRITE }, ...typed],
      objectGroup: group,
    });
    if (guarded.exceptionDetails) {
      throw new Error(`the isolated world could not be prepared: ${guarded.exceptionDetails.text}`);
    }
    const run = await cdp.send("Runtime.evaluate", {
      expression,
      contextId: executionContextId,
      awaitPromise: true,
      objectGroup: group,
    });
    if (run.exceptionDetails) {
      const details = run.exceptionDetails;
      throw new CommandFailure(
        "evaluation_failed",
        `Evaluate threw: ${details.exception?.description ?? details.text}`,
      );
    }
    const value = run.result;
    const argument = value.objectId
      ? { objectId: value.objectId }
      : value.unserializableValue !== undefined
      ? { unserializableValue: value.unserializableValue }
      : "value" in value
      ? { value: value.value }
      : {};
    const json = await cdp.send("Runtime.callFunctionOn", {
      functionDeclaration: `${toJson}`,
      executionContextId,
      arguments: [argument],
      returnByValue: true,
      objectGroup: group,
    });
    if (json.exceptionDetails) return { error: json.exceptionDetails.text };
    return json.result.value as string | { error: string };
  } finally {
    await cdp.send("Runtime.releaseObjectGroup", { objectGroup: group }).catch(() => {});
  }
}

/** Runs in the isolated world: the value as JSON text. */
function toJson(value: unknown): string | { error: string } {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? "null" : text;
  } catch (error) {
    return { error: String(error) };
  }
}

/**
 * Runs in the isolated world, before the expression: makes the values of
 * password fields and of `typed` fields read as "", `document.cookie` read
 * as "", storage, IndexedDB, the Cache API, `FormData`, frames' windows and
 * the network throw, except `fetch` of a same-origin URL with GET and no
 * header but `accept`, and the DOM read-only (see {@link readOnlyDom}).
 * Everything it relies on later is captured now, and what it defines cannot
 * be redefined.
 */
function guardWorld(noNetwork: string, noWrite: string, ...typed: Element[]): void {
  const uncurry = <A extends unknown[], R>(f: (...args: A) => R) =>
    Function.prototype.call.bind(f) as unknown as (self: unknown, ...args: A) => R;
  const getter = (proto: object, name: string) => {
    const get = Object.getOwnPropertyDescriptor(proto, name)?.get;
    if (!get) throw new Error(`no getter ${name}`);
    return uncurry(get as () => unknown);
  };
  const define = Object.defineProperty;
  const describe = Object.getOwnPropertyDescriptor;
  const ErrorC = Error;
  const hidden = new WeakSet<object>(typed);
  const has = uncurry(WeakSet.prototype.has as (v: object) => boolean);
  const exec = uncurry(RegExp.prototype.exec);
  const passwordName = /\b(current|new)-password\b/i;
  const inputType = getter(HTMLInputElement.prototype, "type");
  const inputAutocomplete = getter(HTMLInputElement.prototype, "autocomplete");
  const secret = (el: object): boolean => {
    if (has(hidden, el)) return true;
    try {
      return inputType(el) === "password" ||
        exec(passwordName, inputAutocomplete(el) as string) !== null;
    } catch {
      return false; // not an input
    }
  };
  const refuse = (what: string) => () => {
    throw new ErrorC(`${what} is not available to evaluate`);
  };
  const lock = (target: object, name: string, get: () => unknown, set?: (v: unknown) => void) => {
    if (!(name in target) && describe(target, name) === undefined) return;
    define(target, name, { get, set, configurable: false, enumerable: true });
  };

  for (const C of [HTMLInputElement, HTMLTextAreaElement]) {
    const d = describe(C.prototype, "value")!;
    const read = uncurry(d.get as () => string);
    lock(C.prototype, "value", function (this: object) {
      return secret(this) ? "" : read(this);
    }, d.set);
  }
  lock(Document.prototype, "cookie", () => "", describe(Document.prototype, "cookie")?.set);
  const g = globalThis as unknown as Record<string, unknown>;
  for (const name of ["localStorage", "sessionStorage", "indexedDB", "caches", "cookieStore"]) {
    lock(g, name, refuse(name));
  }
  // a frame's window is a realm this world has not guarded
  for (const C of [HTMLIFrameElement, HTMLFrameElement, HTMLObjectElement]) {
    lock(C.prototype, "contentWindow", refuse("a frame's window"));
    lock(C.prototype, "contentDocument", refuse("a frame's document"));
  }
  const fixed = (name: string, value: unknown) =>
    define(g, name, { value, writable: false, configurable: false, enumerable: false });
  fixed("FormData", function FormData() {
    throw new ErrorC("FormData is not available to evaluate");
  });
  const offline = function () {
    throw new ErrorC(noNetwork);
  };
  for (
    const name of [
      "XMLHttpRequest",
      "WebSocket",
      "EventSource",
      "WebTransport",
      "RTCPeerConnection",
      "Worker",
      "SharedWorker",
      "open",
    ]
  ) {
    if (name in g) fixed(name, offline);
  }
  readOnlyDom(noWrite);
  define(Navigator.prototype, "sendBeacon", {
    value: offline,
    writable: false,
    configurable: false,
  });

  // fetch: same-origin GET only, no header but `accept`, no redirect
  const realFetch = fetch;
  const URLC = URL;
  const urlOrigin = getter(URL.prototype, "origin");
  const urlHref = getter(URL.prototype, "href");
  const origin = location.origin;
  const base = location.href;
  const keys = Object.keys;
  const lower = uncurry(String.prototype.toLowerCase);
  const StringC = String;
  fixed("fetch", function fetch(input: unknown, init?: Record<string, unknown>) {
    if (typeof input !== "string" && !(input instanceof URLC)) throw new ErrorC(noNetwork);
    const url = new URLC(StringC(input), base);
    if (urlOrigin(url) !== origin) throw new ErrorC(noNetwork);
    const method = init?.method;
    if (method !== undefined && lower(StringC(method)) !== "get") throw new ErrorC(noNetwork);
    if (init?.body !== undefined && init?.body !== null) throw new ErrorC(noNetwork);
    const headers: Record<string, string> = {};
    const given = init?.headers;
    if (given !== undefined) {
      if (typeof given !== "object" || given === null) throw new ErrorC(noNetwork);
      for (const name of keys(given)) {
        if (lower(name) !== "accept") throw new ErrorC(noNetwork);
        headers.accept = StringC((given as Record<string, unknown>)[name]);
      }
    }
    return realFetch(urlHref(url) as string, {
      method: "GET",
      headers,
      credentials: "same-origin",
      redirect: "error",
    });
  });
}

/**
 * Runs in the isolated world (called by `guardWorld`): every way this world
 * has to change the page throws `noWrite`. Markup, attributes, URLs and
 * events that a change would add run in the page's own world, where cookies,
 * storage and the network are not guarded, so none may be added: node
 * insertion and replacement, HTML parsing into the page, attributes, every
 * setter of a node or attribute (text, URLs, `on*` handlers, styles),
 * `document.write`/`open`/`execCommand`, ranges, synthetic clicks, form
 * submission and events. Not covered: `location` (its members are
 * [LegacyUnforgeable] own properties, see docs/SECURITY.md).
 */
function readOnlyDom(noWrite: string): void {
  const define = Object.defineProperty;
  const describe = Object.getOwnPropertyDescriptor;
  const names = Object.getOwnPropertyNames;
  const protoOf = Object.getPrototypeOf;
  const ErrorC = Error;
  const g = globalThis as unknown as Record<string, unknown>;
  const refuse = function () {
    throw new ErrorC(noWrite);
  };
  const proto = (name: string): object | undefined => {
    // data properties only: a guarded global's getter throws
    const C = describe(g, name)?.value as unknown;
    if (typeof C !== "function") return undefined;
    const p = (C as { prototype?: unknown }).prototype;
    return typeof p === "object" && p !== null ? p : undefined;
  };
  /** `name` on `target` throws when called (a method) or set (an accessor). */
  const block = (target: object | undefined, name: string, settersOnly = false) => {
    if (!target) return;
    const d = describe(target, name);
    if (!d || !d.configurable) return;
    if (d.get || d.set) {
      if (!d.set) return;
      define(target, name, {
        get: d.get,
        set: refuse,
        configurable: false,
        enumerable: d.enumerable,
      });
    } else if (!settersOnly && typeof d.value === "function") {
      define(target, name, {
        value: refuse,
        writable: false,
        configurable: false,
        enumerable: d.enumerable,
      });
    }
  };
  const methods: Record<string, string[]> = {
    Node: ["appendChild", "insertBefore", "replaceChild", "removeChild"],
    Element: [
      "append",
      "prepend",
      "before",
      "after",
      "replaceWith",
      "replaceChildren",
      "remove",
      "insertAdjacentHTML",
      "insertAdjacentElement",
      "insertAdjacentText",
      "setAttribute",
      "setAttributeNS",
      "setAttributeNode",
      "setAttributeNodeNS",
      "removeAttribute",
      "removeAttributeNS",
      "removeAttributeNode",
      "toggleAttribute",
      "setHTMLUnsafe",
      "setHTML",
      "attachShadow",
      "moveBefore",
    ],
    CharacterData: [
      "appendData",
      "insertData",
      "replaceData",
      "deleteData",
      "before",
      "after",
      "replaceWith",
      "remove",
    ],
    Text: ["splitText"],
    DocumentType: ["before", "after", "replaceWith", "remove"],
    Document: [
      "write",
      "writeln",
      "open",
      "close",
      "execCommand",
      "append",
      "prepend",
      "replaceChildren",
      "moveBefore",
    ],
    DocumentFragment: ["append", "prepend", "replaceChildren", "moveBefore"],
    ShadowRoot: ["setHTMLUnsafe", "setHTML"],
    NamedNodeMap: ["setNamedItem", "setNamedItemNS", "removeNamedItem", "removeNamedItemNS"],
    Range: [
      "createContextualFragment",
      "insertNode",
      "surroundContents",
      "deleteContents",
      "extractContents",
    ],
    Selection: ["deleteFromDocument"],
    HTMLElement: ["click"],
    HTMLFormElement: ["submit", "requestSubmit", "reset"],
    EventTarget: ["dispatchEvent"],
    CSSStyleDeclaration: ["setProperty", "removeProperty"],
    DOMTokenList: ["add", "remove", "replace", "toggle"],
  };
  for (const name of names(methods)) {
    for (const method of methods[name]) block(proto(name), method);
  }
  // every setter of the DOM's own interfaces: text, HTML, attributes, URLs
  // (`src`, `href`, `srcdoc`, `action`, `formAction`, `data`, …), `on*`
  // handlers and styles. A field's `value` stays as `guardWorld` set it.
  const nodeProto = Node.prototype;
  const isDom = (p: object | undefined): boolean => {
    for (let at = p; at; at = protoOf(at)) if (at === nodeProto) return true;
    return false;
  };
  const extra = [
    "Attr",
    "CSSStyleDeclaration",
    "CSS2Properties",
    "CSSStyleProperties",
    "DOMTokenList",
    "SVGAnimatedString",
    "Location",
  ];
  for (const name of names(g)) {
    const p = proto(name);
    if (!p || !(isDom(p) || extra.includes(name))) continue;
    for (const key of names(p)) block(p, key, true);
  }
  // `on*` handlers of the window
  for (const target of [g, proto("Window")]) {
    if (!target) continue;
    for (const key of names(target)) if (key.startsWith("on")) block(target, key);
  }
}
