/// <reference lib="dom" />
/**
 * The sandbox `evaluate` runs in: a Worker started with no permissions at
 * all (no network, files, environment, subprocesses or FFI), holding only a
 * copy of the document that the device already scrubbed (`_snapshot.ts`),
 * parsed with linkedom. It answers one expression and is terminated.
 *
 * @module
 */
import { parseHTML } from "linkedom";

/** What the device sends the sandbox. */
export interface SandboxJob {
  html: string;
  /** The page's URL, already masked. */
  url: string;
  expression: string;
}

/** What the sandbox answers: JSON text, or why there is none. */
export type SandboxAnswer = { json: string } | { threw: string } | { notJson: string };

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<SandboxJob>) => void) | null;
  postMessage(message: SandboxAnswer): void;
};

scope.onmessage = async (event) => {
  scope.onmessage = null; // one job per sandbox
  const { html, url, expression } = event.data;
  const { window, document } = parseHTML(html);
  const location = Object.freeze(new URL(url));
  // the copy has no cookies: the device never puts them in it
  Object.defineProperty(document, "cookie", { value: "", writable: false });
  const g = globalThis as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries({ window, document, location })) {
    Object.defineProperty(g, key, { value, writable: false, configurable: false });
  }
  let value: unknown;
  try {
    value = await (0, eval)(expression);
  } catch (error) {
    scope.postMessage({
      threw: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    return;
  }
  try {
    scope.postMessage({ json: JSON.stringify(value) ?? "null" });
  } catch (error) {
    scope.postMessage({ notJson: String(error) });
  }
};
