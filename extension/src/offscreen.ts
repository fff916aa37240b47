/**
 * The offscreen document: runs each `evaluate` in a new frame of
 * `sandbox.html` and removes the frame when it answers or is aborted.
 *
 * @module
 */
/// <reference lib="dom" />
// deno-lint-ignore no-explicit-any
declare const chrome: any;

const frames = new Map<string, HTMLIFrameElement>();

chrome.runtime.onMessage.addListener(
  (
    message: { type?: string; id?: string; job?: unknown },
    _sender: unknown,
    reply: (r: unknown) => void,
  ) => {
    if (message?.type === "passage:evaluate-abort" && message.id) {
      frames.get(message.id)?.remove();
      frames.delete(message.id);
      return false;
    }
    if (message?.type !== "passage:evaluate" || !message.id) return false;
    const id = message.id;
    const frame = document.createElement("iframe");
    frame.src = "sandbox.html";
    frames.set(id, frame);
    const onAnswer = (event: MessageEvent) => {
      if (event.source !== frame.contentWindow || event.data?.id !== id) return;
      removeEventListener("message", onAnswer);
      frame.remove();
      frames.delete(id);
      reply(event.data.answer);
    };
    addEventListener("message", onAnswer);
    frame.addEventListener(
      "load",
      () => frame.contentWindow?.postMessage({ id, job: message.job }, "*"),
    );
    document.body.append(frame);
    return true;
  },
);
