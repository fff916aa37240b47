/// <reference lib="dom" />
/**
 * The sandbox `evaluate` runs in: a Worker started with no permissions at
 * all (no network, files, environment, subprocesses or FFI), holding only a
 * copy of the document that the device already scrubbed (`_snapshot.ts`),
 * parsed with linkedom. It answers one expression and is terminated.
 *
 * Deno's permissions do not cover its module loader: `import("npm:…")` in a
 * Worker still fetches from the npm registry. So the expression may not
 * contain `import` (a keyword cannot be spelled with escapes), and before it
 * runs, every other way to compile code or start a module is taken away:
 * `eval`, the `Function` constructors, string timers, `Worker`,
 * `BroadcastChannel` and the `Deno` namespace.
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

/** `import` as a keyword: `import(`, `import.meta`, a static import. */
const IMPORT = /\bimport\b/;

/** Takes away every way to compile more code or to load a module; returns the one eval kept. */
function closeCompilers(): (code: string) => unknown {
  const evaluate = globalThis.eval;
  const g = globalThis as unknown as Record<string, unknown>;
  const refuse = (what: string) =>
    function () {
      throw new EvalError(`${what} is not available to evaluate`);
    };
  for (const name of ["eval", "Worker", "SharedWorker", "BroadcastChannel", "Deno", "Function"]) {
    Object.defineProperty(g, name, { value: refuse(name), writable: false, configurable: false });
  }
  // the constructors every function reaches through `.constructor`
  const kinds = [
    function () {},
    async function () {},
    function* () {},
    async function* () {},
  ];
  for (const f of kinds) {
    Object.defineProperty(Object.getPrototypeOf(f), "constructor", {
      value: refuse("the Function constructor"),
      writable: false,
      configurable: false,
    });
  }
  for (const name of ["setTimeout", "setInterval"]) {
    const timer = g[name] as (f: unknown, ...rest: unknown[]) => unknown;
    Object.defineProperty(g, name, {
      value: (f: unknown, ...rest: unknown[]) => {
        if (typeof f !== "function") throw new EvalError(`${name} takes a function here`);
        return timer(f, ...rest);
      },
      writable: false,
      configurable: false,
    });
  }
  return (code) => evaluate(code);
}

scope.onmessage = async (event) => {
  scope.onmessage = null; // one job per sandbox
  const { html, url, expression } = event.data;
  if (IMPORT.test(expression)) {
    scope.postMessage({ threw: "SyntaxError: evaluate cannot import modules" });
    return;
  }
  const { window, document } = parseHTML(html);
  const location = Object.freeze(new URL(url));
  // the copy has no cookies: the device never puts them in it
  Object.defineProperty(document, "cookie", { value: "", writable: false });
  const g = globalThis as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries({ window, document, location })) {
    Object.defineProperty(g, key, { value, writable: false, configurable: false });
  }
  const run = closeCompilers();
  let value: unknown;
  try {
    value = await run(expression);
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
