/**
 * The claim page's one inline script (allowed by the response's CSP nonce). It
 * only improves a page that already reads well without it:
 *
 * - shows `<time datetime>` in the reader's own time zone;
 * - offers "Continue in this browser" when the Passage extension announced
 *   itself (`data-passage-extension` on `<html>`, or a `passage:extension`
 *   event), and hands it the code with `postMessage` to this same window and
 *   origin only; answers come back the same way (`passage:continued`,
 *   `passage:error`);
 * - polls `GET /c/{code}/status` every 2 s until the state is final, updating
 *   the heading, the `aria-live` message and the operations' progress.
 *
 * Everything it reads comes from `data-*` attributes of `#view`; it writes
 * text only (`textContent`), never markup.
 */
export const CLAIM_SCRIPT = `(() => {
  "use strict";
  const view = document.getElementById("view");
  const d = view.dataset;
  const $ = (id) => document.getElementById(id);
  const when = new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", year: "numeric",
    hour: "numeric", minute: "2-digit", timeZoneName: "short",
  });
  for (const t of document.querySelectorAll("time[datetime]")) {
    const at = new Date(t.dateTime);
    if (!Number.isNaN(at.getTime())) t.textContent = when.format(at);
  }

  const code = d.claimCode, button = $("continue-here"), out = $("continue-status");
  if (code && button && out) {
    const found = () => { $("ext-yes").hidden = false; $("ext-no").hidden = true; };
    if (document.documentElement.dataset.passageExtension) found();
    window.addEventListener("passage:extension", found);
    button.addEventListener("click", () => {
      button.disabled = true;
      out.textContent = "Opening the link in the extension…";
      window.postMessage({ type: "passage:continue", claimCode: code }, location.origin);
    });
    window.addEventListener("message", (event) => {
      if (event.source !== window || event.origin !== location.origin) return;
      const data = event.data;
      if (!data || typeof data !== "object") return;
      if (data.type === "passage:continued") {
        out.textContent = "Continue in the new tab.";
      } else if (data.type === "passage:error") {
        button.disabled = false;
        out.textContent = typeof data.message === "string" && data.message
          ? data.message.slice(0, 300)
          : "The extension could not open this link.";
      }
    });
  }

  if (!d.statusUrl || d.final === "true") return;
  const WORDS = { pending: "Waiting", running: "Reading", complete: "Done", failed: "Failed", skipped: "Skipped" };
  let state = d.state;
  const show = (s) => {
    if (s.state !== state) {
      state = s.state;
      view.dataset.state = s.state;
      document.body.className = "state-" + s.state;
      const h1 = document.querySelector("h1");
      if (h1.textContent !== s.headline) h1.textContent = s.headline;
      if (s.state !== "pending") for (const el of document.querySelectorAll("[data-pending-only]")) el.hidden = true;
    }
    const live = $("live");
    if (live.textContent !== s.message) live.textContent = s.message;
    const items = document.querySelectorAll("#progress li");
    (s.state === "pending" ? [] : s.operations).forEach((op, i) => {
      const li = items[i];
      if (!li) return;
      let badge = li.querySelector(".badge");
      if (!badge) {
        badge = document.createElement("span");
        li.append(badge);
      }
      badge.className = "badge s-" + op.status;
      badge.textContent = WORDS[op.status] || op.status;
    });
    return s.final;
  };
  const tick = async () => {
    if (!document.hidden) {
      try {
        const res = await fetch(d.statusUrl, { cache: "no-store", headers: { accept: "application/json" } });
        if (res.ok && show(await res.json())) return;
        if (res.status === 404) return;
      } catch { /* offline for a moment: try again */ }
    }
    setTimeout(tick, 2000);
  };
  setTimeout(tick, 2000);
})();`;
