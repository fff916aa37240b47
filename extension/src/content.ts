/**
 * The content script, on the Passage servers this extension was built for
 * only (the manifest's `matches`). It tells the claim page the extension is
 * here, and passes the claim code the page hands it, from this window and
 * this origin only, to the service worker. Other pages never see it run.
 *
 * @module
 */
/// <reference lib="dom" />
// deno-lint-ignore no-explicit-any
declare const chrome: any;

document.documentElement.dataset.passageExtension = chrome.runtime.getManifest().version;
dispatchEvent(new CustomEvent("passage:extension"));

addEventListener("message", (event: MessageEvent) => {
  if (event.source !== window || event.origin !== location.origin) return;
  const data = event.data as { type?: string; claimCode?: unknown };
  if (data?.type !== "passage:continue" || typeof data.claimCode !== "string") return;
  chrome.runtime.sendMessage({ type: "passage:continue", claimCode: data.claimCode })
    .then((answer: { ok: boolean; message?: string }) => {
      postMessage(
        answer?.ok
          ? { type: "passage:continued" }
          : { type: "passage:error", message: answer?.message ?? "The extension could not start" },
        location.origin,
      );
    })
    .catch((error: Error) => {
      postMessage({ type: "passage:error", message: error.message }, location.origin);
    });
});
