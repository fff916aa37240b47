/**
 * Puts the Passage bar on top of the session's tab: an extension frame
 * (`bar.html`) inside a closed shadow root, put back if the page removes it.
 * The page cannot read or write inside the frame: it is another origin.
 * Injected again on every load of the tab; once per document.
 *
 * @module
 */
/// <reference lib="dom" />
// deno-lint-ignore no-explicit-any
declare const chrome: any;

const KEY = "__passageBar";
/** The bar's height, in CSS pixels; the page is pushed down by as much. */
const HEIGHT = 56;
const w = window as unknown as Record<string, unknown>;
if (!w[KEY]) {
  w[KEY] = true;
  const host = document.createElement("passage-bar");
  const root = host.attachShadow({ mode: "closed" });
  const frame = document.createElement("iframe");
  // the tab's id, set by the service worker just before it injected this file
  frame.src = chrome.runtime.getURL(`bar.html?tab=${w.__passageBarTab ?? ""}`);
  frame.title = "Passage";
  frame.setAttribute(
    "style",
    `position:fixed;top:0;left:0;right:0;width:100%;height:${HEIGHT}px;border:0;margin:0;` +
      "padding:0;z-index:2147483647;box-shadow:0 2px 6px rgba(0,0,0,.25);background:#0b3d2e;" +
      "color-scheme:normal;display:block;visibility:visible;opacity:1;transform:none",
  );
  root.append(frame);
  let observed: Element | null = null;
  const place = () => {
    const html = document.documentElement;
    if (!html) return; // the parser has not made it yet: the document observer calls again
    if (host.parentNode !== html) html.append(host);
    html.style.setProperty("margin-top", `${HEIGHT}px`, "important");
    if (observed !== html) {
      observed = html;
      new MutationObserver(place).observe(html, { childList: true });
    }
  };
  place();
  // a document injected into before it had its <html> element, or that replaces it
  new MutationObserver(place).observe(document, { childList: true });
}
