/**
 * `evaluate`'s sandbox in the extension: an extension sandbox page
 * (`sandbox.html`, whose CSP allows no network at all and which has no
 * extension APIs), one fresh frame per expression, hosted by an offscreen
 * document because a service worker cannot hold a frame.
 *
 * @module
 */
import type { EvaluateSandbox, SandboxAnswer, SandboxJob } from "../../device/_sandbox.ts";

// deno-lint-ignore no-explicit-any
declare const chrome: any;

let creating: Promise<void> | null = null;

async function ensureOffscreen(): Promise<void> {
  const contexts = await chrome.runtime.getContexts({ contextTypes: ["OFFSCREEN_DOCUMENT"] });
  if (contexts.length > 0) return;
  creating ??= chrome.offscreen.createDocument({
    url: "offscreen.html",
    reasons: ["IFRAME_SCRIPTING"],
    justification: "evaluate runs in a sandboxed frame with no network",
  }).finally(() => creating = null);
  await creating;
}

export class OffscreenSandbox implements EvaluateSandbox {
  #closed = false;

  warm(): void {
    void ensureOffscreen().catch(() => {});
  }

  async run(job: SandboxJob, signal: AbortSignal): Promise<SandboxAnswer> {
    if (this.#closed) throw new Error("the device is closing");
    await ensureOffscreen();
    const id = crypto.randomUUID();
    const answer = chrome.runtime.sendMessage({ type: "passage:evaluate", id, job }) as Promise<
      SandboxAnswer
    >;
    return await new Promise<SandboxAnswer>((resolve, reject) => {
      const onAbort = () => {
        void chrome.runtime.sendMessage({ type: "passage:evaluate-abort", id }).catch(() => {});
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      if (signal.aborted) return onAbort();
      answer.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  close(): void {
    this.#closed = true;
  }
}
