/**
 * SQLite-backed KV (a local file) answers a commit that collides with another
 * connection's write (a Worker, another server process) by throwing "database
 * is locked" instead of waiting. Such a commit has not happened, so running it
 * again is safe: its checks are evaluated anew. `retryLockedCommits` makes every
 * commit of one `Deno.Kv` do that, with a short random backoff, so no caller
 * has to know. Deno Deploy's KV never throws this.
 */

const ATTEMPTS = 50;

function isLocked(err: unknown): boolean {
  return err instanceof Error && /database is locked|SQLITE_BUSY/i.test(err.message);
}

async function retrying<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (!isLocked(err) || attempt >= ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * attempt)));
    }
  }
}

/** Makes `kv`'s writes retry while the database is locked by another connection. */
export function retryLockedCommits(kv: Deno.Kv): Deno.Kv {
  const atomic = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = atomic();
    const commit = op.commit.bind(op);
    op.commit = () => retrying(commit);
    return op;
  };
  const set = kv.set.bind(kv);
  kv.set = (key, value, options) => retrying(() => set(key, value, options));
  const del = kv.delete.bind(kv);
  kv.delete = (key) => retrying(() => del(key));
  return kv;
}
