/**
 * Group commit: the appends of many sessions that wait on KV at the same time
 * go into one atomic operation instead of one each. A commit starts at once
 * when none is running (an append alone waits for nothing); the appends that
 * arrive while one runs wait for it, then commit together, within KV's limits
 * for one atomic operation (100 checks, 1,000 mutations, 800 KiB).
 *
 * A batch holds at most one append per group (a session): its appends keep
 * their order, and no two writes of one batch touch the same key. Each append
 * brings its own checks; if any fails, the batch is committed again one
 * append at a time, so each learns its own result, and a conflict costs only
 * the appends it concerns the retry they would have had anyway. Either way an
 * append's writes land together or not at all, as in a commit of its own.
 *
 * @module
 */

/** The writes of one append, applied to whatever operation carries them. */
export type Writes = (op: Deno.AtomicOperation) => void;

type Result = Deno.KvCommitResult | Deno.KvCommitError;

/** KV's limits for one atomic operation, with room for keys and framing in the byte budget. */
const MAX_CHECKS = 100;
const MAX_MUTATIONS = 1000;
const MAX_BYTES = 512 * 1024;

/** One append's writes, recorded so they can be sized and replayed onto a shared operation. */
class Recorded {
  readonly calls: Array<[keyof Deno.AtomicOperation, unknown[]]> = [];
  checks = 0;
  mutations = 0;
  bytes = 0;

  constructor(writes: Writes) {
    const op = new Proxy({} as Deno.AtomicOperation, {
      get: (_, name: keyof Deno.AtomicOperation) => {
        if (name === "commit") {
          return () => Promise.reject(new Error("a grouped append commits through its group"));
        }
        return (...args: unknown[]) => {
          this.calls.push([name, args]);
          if (name === "check") this.checks += args.length;
          else this.mutations += name === "mutate" ? args.length : 1;
          this.bytes += approxBytes(args);
          return op;
        };
      },
    });
    writes(op);
  }

  applyTo(op: Deno.AtomicOperation): void {
    for (const [name, args] of this.calls) {
      (op[name] as (...a: unknown[]) => unknown).apply(op, args);
    }
  }
}

/** An upper bound of what `value` weighs in a commit (keys, values, checks). */
function approxBytes(value: unknown): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value === "string") return value.length * 3;
  if (typeof value !== "object" || value === null) return 16;
  let n = 0;
  for (const v of Array.isArray(value) ? value : Object.values(value)) n += approxBytes(v);
  return n + 16;
}

interface Waiting {
  group: string;
  recorded: Recorded;
  resolve: (result: Result) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  readonly #kv: Deno.Kv;
  /** Off: every append commits alone (the benchmark's "before"). */
  enabled = true;
  #queue: Waiting[] = [];
  #running = false;
  /** Commits made, and appends they carried (for the benchmark). */
  readonly stats = { commits: 0, appends: 0 };

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Commits `writes`, alone or together with other groups' appends waiting at the same time. */
  commit(group: string, writes: Writes): Promise<Result> {
    if (!this.enabled) return this.#alone(writes);
    const recorded = new Recorded(writes);
    return new Promise((resolve, reject) => {
      this.#queue.push({ group, recorded, resolve, reject });
      if (!this.#running) void this.#run();
    });
  }

  async #alone(writes: Writes | Recorded): Promise<Result> {
    const op = this.#kv.atomic();
    if (writes instanceof Recorded) writes.applyTo(op);
    else writes(op);
    this.stats.commits++;
    this.stats.appends++;
    return await op.commit();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length) {
        const batch = this.#take();
        if (batch.length === 1) {
          await this.#settle(batch[0]);
          continue;
        }
        const op = this.#kv.atomic();
        for (const w of batch) w.recorded.applyTo(op);
        let result: Result | null = null;
        try {
          result = await op.commit();
        } catch { /* one of them is refused (too large, say): each alone tells which */ }
        if (result?.ok) {
          this.stats.commits++;
          this.stats.appends += batch.length;
          for (const w of batch) w.resolve(result);
        } else {
          for (const w of batch) await this.#settle(w);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  async #settle(w: Waiting): Promise<void> {
    try {
      w.resolve(await this.#alone(w.recorded));
    } catch (err) {
      w.reject(err);
    }
  }

  /** The next batch: queue order, one per group, within the limits; the rest waits. */
  #take(): Waiting[] {
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    const groups = new Set<string>();
    let checks = 0, mutations = 0, bytes = 0;
    for (const w of this.#queue) {
      const r = w.recorded;
      const fits = batch.length === 0 || (
        !groups.has(w.group) &&
        checks + r.checks <= MAX_CHECKS &&
        mutations + r.mutations <= MAX_MUTATIONS &&
        bytes + r.bytes <= MAX_BYTES
      );
      if (!fits) {
        // A later append of a group already waiting stays behind it.
        groups.add(w.group);
        rest.push(w);
        continue;
      }
      groups.add(w.group);
      batch.push(w);
      checks += r.checks;
      mutations += r.mutations;
      bytes += r.bytes;
    }
    this.#queue = rest;
    return batch;
  }
}
