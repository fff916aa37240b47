/**
 * Background work. A job is written to KV (the truth) and, where KV queues
 * exist, a queue message wakes a worker at once; a `Deno.cron` sweep finds
 * whatever a lost message or a crash left behind (new Deno Deploy has no
 * queues at all, so there the sweep is the only path).
 *
 * One `Deno.Kv` takes one `listenQueue` handler, so every kind of job goes
 * through this one dispatcher.
 */

/** A queue message: which handler, and its argument. */
export interface Job {
  kind: string;
  id: string;
}

type Handler = (id: string) => Promise<void>;

export class Jobs {
  readonly #kv: Deno.Kv;
  readonly #useQueues: boolean;
  readonly #handlers = new Map<string, Handler>();
  #listening: Promise<void> | null = null;

  /** `useQueues: false` (new Deno Deploy) leaves every job to the sweeps. */
  constructor(kv: Deno.Kv, options: { useQueues: boolean }) {
    this.#kv = kv;
    this.#useQueues = options.useQueues;
  }

  /** Registers the handler for one kind of job. */
  on(kind: string, handler: Handler): void {
    this.#handlers.set(kind, handler);
  }

  /**
   * Adds "wake a worker for this job" to an atomic operation, so the wake-up
   * is sent if and only if the state change it follows is committed.
   */
  enqueueIn(op: Deno.AtomicOperation, job: Job, delayMs = 0): void {
    if (this.#useQueues) op.enqueue(job, { delay: delayMs });
  }

  /** Starts handling queue messages (once). Ends when the KV store closes. */
  listen(): void {
    if (!this.#useQueues || this.#listening) return;
    this.#listening = this.#kv.listenQueue(async (msg: unknown) => {
      const job = msg as Job;
      const handler = this.#handlers.get(job?.kind);
      if (!handler) return;
      try {
        await handler(job.id);
      } catch (err) {
        // The sweep retries from KV state; a failed wake-up is not retried here.
        console.error(`job ${job.kind} ${job.id} failed:`, err);
      }
    });
  }

  /** Waits for the listener to stop (after the KV store is closed). */
  async stopped(): Promise<void> {
    await this.#listening;
  }
}
