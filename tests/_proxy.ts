/**
 * A TCP front for several server processes, as the load balancer in front of
 * several instances: every connection goes to the first upstream that accepts
 * it, so once a process dies its clients reconnect to the next one. A test
 * names the front's URL as every process's `PASSAGE_PUBLIC_URL`, so links,
 * sandbox sites and their cookies all live on one origin.
 *
 * @module
 */

/** A running front. */
export interface Front extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Adds an upstream port (tried after those added before). */
  add(port: number): void;
}

/** Starts a front on a loopback port; upstreams are added with `add`. */
export function startFront(): Front {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const upstreams: number[] = [];
  const open = new Set<Deno.Conn>();
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable, { preventClose: true });
    } catch { /* a side went away */ }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch { /* already closed */ }
      open.delete(conn);
    }
  };
  const serve = async (client: Deno.Conn) => {
    open.add(client);
    for (const port of upstreams) {
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        continue; // refused: that process is gone
      }
      open.add(upstream);
      await Promise.all([pipe(client, upstream), pipe(upstream, client)]);
      return;
    }
    client.close();
    open.delete(client);
  };
  const accepting = (async () => {
    for await (const client of listener) void serve(client);
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    add: (port) => void upstreams.push(port),
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      await accepting;
    },
  };
}
