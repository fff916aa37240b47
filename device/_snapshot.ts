/// <reference lib="dom" />
/**
 * The document as a controller may see it (the `snapshot` rule): a copy of
 * the page's DOM made through CDP (`DOM.getDocument` / `DOM.describeNode`
 * with `pierce`), never through the page's own JavaScript, and written out as
 * HTML with everything that could authenticate left out:
 *
 * - `<script>` elements, comments, `on*` handlers and frames' documents;
 * - the `value` of password, hidden and one-time-code fields, of fields whose
 *   name says they hold a credential, and of every field the human typed
 *   into, and the text of typed text areas and editable elements;
 * - credentials in every URL-valued attribute (`href`, `src`, `action`…).
 *
 * Shadow roots (open and closed) are written as declarative
 * `<template shadowrootmode>` elements; the browser's own (user-agent) shadow
 * roots, which hold an input's text, are not. The caller then scrubs the
 * device's secret set from the text: what is not in the copy cannot be read
 * back from it, in any encoding.
 *
 * @module
 */
import type { CDPSession, ElementHandle } from "puppeteer-core";
import { maskUrl } from "./_mask.ts";

/** A node as CDP describes it (the fields used here). */
export interface CdpNode {
  backendNodeId: number;
  nodeType: number;
  nodeName: string;
  localName?: string;
  nodeValue?: string;
  attributes?: string[];
  children?: CdpNode[];
  shadowRoots?: CdpNode[];
  shadowRootType?: "user-agent" | "open" | "closed";
}

/** Which fields hold what the human typed (by `backendNodeId`). */
export type TypedFields = ReadonlySet<number>;

const VOID = new Set([
  "area",
  "base",
  "br",
  "col",
  "embed",
  "hr",
  "img",
  "input",
  "link",
  "meta",
  "source",
  "track",
  "wbr",
]);
/** Elements left out whole: code, and the extension's own bar (the device's chrome, not the page). */
const DROPPED = new Set(["script", "passage-bar"]);
const URL_ATTRIBUTES = new Set([
  "href",
  "src",
  "action",
  "formaction",
  "poster",
  "cite",
  "data",
  "ping",
  "background",
  "xlink:href",
  "manifest",
  "longdesc",
]);
/** `autocomplete` tokens of fields that hold credentials. */
const CREDENTIAL_AUTOCOMPLETE =
  /\b(current-password|new-password|one-time-code|cc-csc|cc-number)\b/i;
/** Field names and ids that say the field holds a credential. */
const CREDENTIAL_NAME =
  /pass|pwd|otp|mfa|2fa|pin\b|passcode|one.?time|verification|token|secret|csrf|xsrf|nonce|auth|session|ticket|saml|cvv|cvc|csc/i;

/** The attribute that carries each element's `backendNodeId` in a copy made to locate elements. */
export const NODE_ID_ATTRIBUTE = "data-passage-node";

/**
 * The whole main document as safe HTML. With `withIds`, every element also
 * carries its `backendNodeId` in {@link NODE_ID_ATTRIBUTE} (a copy to match
 * selectors on, never sent).
 */
export async function snapshotDocument(
  cdp: CDPSession,
  typed: TypedFields,
  secrets: readonly string[],
  withIds = false,
): Promise<string> {
  return writeDocument(await copyDocument(cdp), typed, secrets, withIds);
}

/** The main document as CDP describes it, shadow roots included: a raw copy, not safe yet. */
export async function copyDocument(cdp: CDPSession): Promise<CdpNode> {
  const { root } = await cdp.send("DOM.getDocument", { depth: -1, pierce: true });
  return root as CdpNode;
}

/**
 * A raw copy ({@link copyDocument}) as safe HTML: blanks the secrets its text
 * spells in place (so any part of it read later is blanked too), then writes
 * it out as {@link snapshotDocument} does.
 */
export function writeDocument(
  root: CdpNode,
  typed: TypedFields,
  secrets: readonly string[],
  withIds = false,
): string {
  blankSecretText(root, secrets);
  return serialize(root, typed, withIds);
}

/** The node of a copy with this `backendNodeId` (frames' documents are not searched), or null. */
export function nodeIn(root: CdpNode, backendNodeId: number): CdpNode | null {
  if (root.backendNodeId === backendNodeId) return root;
  for (const child of [...(root.shadowRoots ?? []), ...(root.children ?? [])]) {
    const found = nodeIn(child, backendNodeId);
    if (found) return found;
  }
  return null;
}

/**
 * Blanks every run of characters in the copy that spells one of `secrets`,
 * wherever markup splits it: the text and the attribute values of `root`, in
 * document order, as one stream (a code the page draws one digit per box, in
 * text or in `data-*`/`aria-label` attributes; a password echoed letter by
 * letter). Compared after Unicode compatibility folding (fullwidth digits are
 * digits) and case folding, ignoring white space; secrets of six letters and
 * digits or more also ignore punctuation between them (`736–251`). Exact
 * spellings inside one string are caught again later by `redactSecrets`.
 */
export function blankSecretText(root: CdpNode, secrets: readonly string[]): void {
  const loose = new Set<string>();
  const strict = new Set<string>();
  for (const secret of secrets) {
    const skeleton = fold(secret, ALNUM);
    if (skeleton.length >= MIN_LOOSE_SECRET) loose.add(skeleton);
    const spaced = fold(secret, NOT_SPACE);
    if (spaced.length >= MIN_SPLIT_SECRET) strict.add(spaced);
  }
  if (loose.size === 0 && strict.size === 0) return;
  // every string of the copy a reader can see, in document order
  const parts: Array<{ get(): string; set(value: string): void }> = [];
  const visit = (node: CdpNode) => {
    if (node.nodeType === TEXT) {
      parts.push({ get: () => node.nodeValue ?? "", set: (v) => node.nodeValue = v });
    }
    if (node.nodeType === ELEMENT) {
      if (DROPPED.has(name(node))) return;
      const attrs = node.attributes ?? [];
      for (let i = 1; i < attrs.length; i += 2) {
        parts.push({ get: () => attrs[i], set: (v) => attrs[i] = v });
      }
    }
    for (const r of shadowRootsOf(node)) visit(r);
    for (const child of node.children ?? []) visit(child);
  };
  visit(root);
  const covered = new Map<number, Set<number>>();
  for (const [wanted, keep] of [[strict, NOT_SPACE], [loose, ALNUM]] as const) {
    if (wanted.size === 0) continue;
    // the folded stream, and where each of its characters came from
    let flat = "";
    const from: Array<[number, number]> = [];
    parts.forEach((part, n) => {
      const value = part.get();
      for (let i = 0; i < value.length; i++) {
        const folded = fold(value[i], keep);
        for (const c of folded) {
          flat += c;
          from.push([n, i]);
        }
      }
    });
    for (const secret of wanted) {
      for (let at = flat.indexOf(secret); at >= 0; at = flat.indexOf(secret, at + 1)) {
        for (let k = at; k < at + secret.length; k++) {
          const [n, i] = from[k];
          if (!covered.has(n)) covered.set(n, new Set());
          covered.get(n)!.add(i);
        }
      }
    }
  }
  for (const [n, positions] of covered) {
    const value = parts[n].get();
    parts[n].set(value.split("").map((c, i) => positions.has(i) ? "•" : c).join(""));
  }
}

/** Secrets shorter than this are not searched for across elements (too easy to hit by chance). */
const MIN_SPLIT_SECRET = 4;
/** Secrets with at least this many letters and digits are also found with punctuation between. */
const MIN_LOOSE_SECRET = 6;
const ALNUM = /[\p{L}\p{N}]/u;
const NOT_SPACE = /\S/u;

/** `text` folded for comparison: compatibility forms, lower case, only the characters `keep` keeps. */
function fold(text: string, keep: RegExp): string {
  let out = "";
  for (const c of text.normalize("NFKC").toLowerCase()) if (keep.test(c)) out += c;
  return out;
}

/** One element, described through CDP, with all its descendants. */
export async function describeElement(
  cdp: CDPSession,
  element: ElementHandle<Element>,
): Promise<CdpNode> {
  const backendNodeId = await element.backendNodeId();
  const { node } = await cdp.send("DOM.describeNode", { backendNodeId, depth: -1, pierce: true });
  return node as CdpNode;
}

/** An element's copy with the secrets its text spells blanked (see {@link blankSecretText}). */
export async function copyElement(
  cdp: CDPSession,
  element: ElementHandle<Element>,
  secrets: readonly string[],
): Promise<CdpNode> {
  const node = await describeElement(cdp, element);
  blankSecretText(node, secrets);
  return node;
}

/** The inner HTML of an element as safe HTML (its shadow root included, declaratively). */
export function innerHtmlOf(node: CdpNode, typed: TypedFields): string {
  if (holdsTypedText(node, typed)) return "";
  return [...shadowRootsOf(node), ...(node.children ?? [])].map((n) => serialize(n, typed)).join(
    "",
  );
}

/** The text content of an element, without the text of typed fields or scripts. */
export function textOf(node: CdpNode, typed: TypedFields): string {
  if (node.nodeType === TEXT) return node.nodeValue ?? "";
  if (node.nodeType !== ELEMENT && node.nodeType !== FRAGMENT) return "";
  if (DROPPED.has(name(node)) || holdsTypedText(node, typed)) return "";
  const echo = isEcho(node, typed);
  return (node.children ?? []).map((n) => echo && n.nodeType === TEXT ? "" : textOf(n, typed))
    .join("");
}

/**
 * An attribute of an element as a controller may read it: null when absent,
 * `undefined` when it is a credential field's value (refused).
 */
export function attributeOf(
  node: CdpNode,
  attribute: string,
  typed: TypedFields,
): string | null | undefined {
  const wanted = attribute.toLowerCase();
  for (const [key, value] of pairs(node)) {
    if (key.toLowerCase() !== wanted) continue;
    const safe = safeAttribute(node, key, value, typed);
    return safe === null ? undefined : safe;
  }
  return null;
}

/** Whether an element's `value` is a credential or something the human typed. */
export function isCredentialField(node: CdpNode, typed: TypedFields): boolean {
  if (typed.has(node.backendNodeId)) return true;
  const tag = name(node);
  if (tag !== "input" && tag !== "textarea" && tag !== "select") return false;
  const attrs = new Map(pairs(node).map(([k, v]) => [k.toLowerCase(), v]));
  const type = (attrs.get("type") ?? "").toLowerCase();
  if (type === "password" || type === "hidden") return true;
  if (CREDENTIAL_AUTOCOMPLETE.test(attrs.get("autocomplete") ?? "")) return true;
  return CREDENTIAL_NAME.test(attrs.get("name") ?? "") ||
    CREDENTIAL_NAME.test(attrs.get("id") ?? "");
}

const ELEMENT = 1;
const TEXT = 3;
const COMMENT = 8;
const DOCUMENT = 9;
const DOCTYPE = 10;
const FRAGMENT = 11;

function name(node: CdpNode): string {
  return (node.localName || node.nodeName).toLowerCase();
}

function pairs(node: CdpNode): Array<[string, string]> {
  const attrs = node.attributes ?? [];
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < attrs.length; i += 2) out.push([attrs[i], attrs[i + 1]]);
  return out;
}

function shadowRootsOf(node: CdpNode): CdpNode[] {
  return (node.shadowRoots ?? []).filter((r) => r.shadowRootType !== "user-agent");
}

/** A typed (or credential) text area, or a typed editable element: its text is left out. */
function holdsTypedText(node: CdpNode, typed: TypedFields): boolean {
  if (node.nodeType !== ELEMENT || name(node) === "input") return false;
  return (typed.has(node.backendNodeId) && isField(node)) ||
    (name(node) === "textarea" && isCredentialField(node, typed));
}

/** A field the human types into: its value or its whole text is what they typed. */
function isField(node: CdpNode): boolean {
  const tag = name(node);
  return tag === "input" || tag === "textarea" || tag === "select" ||
    pairs(node).some(([k, v]) => k.toLowerCase() === "contenteditable" && v !== "false");
}

/**
 * An element the page changed while it handled the human's typing (an echo,
 * `_human_input.ts`): its own text and its attributes' values are what they
 * typed, redrawn. Its `id` and `class` stay, so it can still be found.
 */
function isEcho(node: CdpNode, typed: TypedFields): boolean {
  return node.nodeType === ELEMENT && typed.has(node.backendNodeId) && !isField(node);
}

/** An attribute's value as it may be written out, or null to leave it out. */
function safeAttribute(
  node: CdpNode,
  key: string,
  value: string,
  typed: TypedFields,
): string | null {
  const lower = key.toLowerCase();
  if (lower.startsWith("on")) return null;
  if (isEcho(node, typed) && lower !== "id" && lower !== "class") return "";
  if (lower === "value" && isCredentialField(node, typed)) return null;
  if (URL_ATTRIBUTES.has(lower)) return maskUrl(value);
  if (lower === "srcset") {
    return value.split(",").map((part) => {
      const [url, ...rest] = part.trim().split(/\s+/);
      return [maskUrl(url), ...rest].join(" ");
    }).join(", ");
  }
  return value;
}

function serialize(node: CdpNode, typed: TypedFields, withIds = false): string {
  switch (node.nodeType) {
    case DOCUMENT:
    case FRAGMENT:
      return (node.children ?? []).map((n) => serialize(n, typed, withIds)).join("");
    case DOCTYPE:
      return `<!DOCTYPE ${node.nodeName}>`;
    case TEXT:
      return escapeText(node.nodeValue ?? "");
    case ELEMENT:
      return element(node, typed, withIds);
    case COMMENT:
    default:
      return "";
  }
}

function element(node: CdpNode, typed: TypedFields, withIds: boolean): string {
  const tag = name(node);
  if (DROPPED.has(tag)) return "";
  let attrs = withIds ? ` ${NODE_ID_ATTRIBUTE}="${node.backendNodeId}"` : "";
  for (const [key, value] of pairs(node)) {
    if (key.toLowerCase() === NODE_ID_ATTRIBUTE) continue; // the page cannot forge one
    const safe = safeAttribute(node, key, value, typed);
    if (safe !== null) attrs += ` ${key}="${escapeAttribute(safe)}"`;
  }
  if (VOID.has(tag)) return `<${tag}${attrs}>`;
  const shadow = shadowRootsOf(node).map((root) =>
    `<template shadowrootmode="${root.shadowRootType === "closed" ? "closed" : "open"}">${
      serialize(root, typed, withIds)
    }</template>`
  ).join("");
  // a frame's document (`contentDocument`) is never part of the copy
  const echo = isEcho(node, typed);
  const inner = holdsTypedText(node, typed) || tag === "iframe" || tag === "frame"
    ? ""
    : (node.children ?? []).map((n) =>
      echo && n.nodeType === TEXT ? "" : serialize(n, typed, withIds)
    )
      .join("");
  return `<${tag}${attrs}>${shadow}${inner}</${tag}>`;
}

function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}
