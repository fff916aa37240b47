/**
 * `evaluate`'s sandbox (the `snapshot` rule): a fresh permission-less Worker
 * per expression (`_sandbox_worker.ts`), given only the scrubbed copy of the
 * document. One Worker is started ahead so that the next `evaluate` does not
 * wait for linkedom to load.
 *
 * @module
 */
import type { SandboxAnswer, SandboxJob } from "./_sandbox_worker.ts";

export type { SandboxAnswer, SandboxJob };

const WORKER_URL = new URL("./_sandbox_worker.ts", import.meta.url);

function spawn(): Worker {
  return new Worker(WORKER_URL, {
    type: "module",
    name: "passage-evaluate-sandbox",
    // no permission of any kind: the copy of the document is all it has
    deno: { permissions: "none" },
  } as WorkerOptions);
}

/** Where `evaluate` runs, whatever the host: one fresh sandbox per expression. */
export interface EvaluateSandbox {
  /** Gets the next sandbox ready. */
  warm(): void;
  /** Evaluates `job.expression` over `job.html`; rejects with `signal`'s reason when it aborts. */
  run(job: SandboxJob, signal: AbortSignal): Promise<SandboxAnswer>;
  /** Releases everything; later runs are refused. */
  close(): void;
}

/** Runs expressions in sandboxes, one permission-less Deno Worker each. */
export class Sandbox implements EvaluateSandbox {
  #spare: Worker | null = null;
  #closed = false;

  /** Starts the Worker the next expression will use. */
  warm(): void {
    if (!this.#closed) this.#spare ??= spawn();
  }

  /**
   * Evaluates `job.expression` over `job.html`. Rejects with `signal`'s
   * reason when it aborts first (the Worker is terminated at once).
   */
  run(job: SandboxJob, signal: AbortSignal): Promise<SandboxAnswer> {
    if (this.#closed) return Promise.reject(new Error("the device is closing"));
    const worker = this.#spare ?? spawn();
    this.#spare = null;
    this.warm();
    return new Promise<SandboxAnswer>((resolve, reject) => {
      const done = () => {
        signal.removeEventListener("abort", onAbort);
        worker.terminate();
      };
      const onAbort = () => {
        done();
        reject(signal.reason);
      };
      worker.onmessage = (event: MessageEvent<SandboxAnswer>) => {
        done();
        resolve(event.data);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        done();
        resolve({ threw: event.message });
      };
      signal.addEventListener("abort", onAbort, { once: true });
      if (signal.aborted) return onAbort();
      worker.postMessage(job);
    });
  }

  /** Terminates the spare Worker; later runs are refused. */
  close(): void {
    this.#closed = true;
    this.#spare?.terminate();
    this.#spare = null;
  }
}
