/**
 * The Passage bar: the real origin of the page (and whether its connection
 * is encrypted), what is being read, progress, whose turn it is, and a Stop
 * button that ends the session. It is an extension page, shown in a frame
 * the page cannot reach.
 *
 * @module
 */
/// <reference lib="dom" />
import type { BarState } from "./bar_state.ts";

// deno-lint-ignore no-explicit-any
declare const chrome: any;

const tabId = Number(new URLSearchParams(location.search).get("tab"));
const $ = (id: string) => document.getElementById(id)!;

function render(state: BarState | undefined): void {
  if (!state) return;
  $("origin").textContent = state.origin || "…";
  const scheme = $("scheme");
  const protocol = /^([a-z]+):/.exec(state.origin)?.[1];
  scheme.dataset.secure = String(protocol === "https");
  scheme.textContent = protocol === "https"
    ? "Encrypted"
    : protocol === "http"
    ? "Not encrypted"
    : "";
  $("what").textContent = state.what;
  const progress = state.yourTurn ? "Waiting for you" : state.progress;
  $("progress").textContent = progress;
  $("sep").hidden = !state.what || !progress;
  const turn = $("turn");
  turn.hidden = !state.yourTurn;
  turn.textContent = state.yourTurn ? `Your turn: ${state.yourTurn}` : "";
  turn.title = turn.textContent;
  // once the session is over there is nothing to stop
  $("stop").hidden = state.stopped;
}

if (Number.isInteger(tabId)) {
  const key = `bar:${tabId}`;
  chrome.storage.session.get(key).then((items: Record<string, BarState>) => render(items[key]));
  chrome.storage.onChanged.addListener((changes: Record<string, { newValue?: BarState }>) => {
    if (changes[key]) render(changes[key].newValue);
  });
  $("stop").addEventListener("click", () => {
    chrome.runtime.sendMessage({ type: "passage:stop", tabId });
  });
}
