/**
 * `evaluate`'s sandbox page. Declared in the manifest's `sandbox.pages`: it
 * has no extension APIs, a unique opaque origin, and a CSP that allows no
 * network request of any kind. It receives the scrubbed copy of the
 * document, parses it with `DOMParser` (scripts in it never run) and
 * evaluates the expression with `document` and `location` describing the
 * copy. Each expression gets a new page (`offscreen.ts`).
 *
 * @module
 */
/// <reference lib="dom" />

addEventListener("message", async (event: MessageEvent) => {
  const { id, job } = event.data ?? {};
  if (typeof id !== "string" || !job) return;
  const copy = new DOMParser().parseFromString(String(job.html), "text/html");
  Object.defineProperty(copy, "cookie", { value: "", writable: false });
  const location = Object.freeze(new URL(String(job.url)));
  let answer: unknown;
  try {
    // a direct eval inside a function whose parameters shadow the page's own
    // `document`, `window` and `location`: the expression sees the copy
    const run = new Function(
      "document",
      "window",
      "location",
      "__expression",
      "return eval(__expression);",
    );
    const value = await run(copy, { document: copy, location }, location, String(job.expression));
    try {
      answer = { json: JSON.stringify(value) ?? "null" };
    } catch (error) {
      answer = { notJson: String(error) };
    }
  } catch (error) {
    answer = { threw: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
  (event.source as Window | null)?.postMessage({ id, answer }, "*");
});
