/**
 * The reference device's network guard below the page: a small HTTP proxy on
 * loopback that every connection of the device's browser goes through
 * (`--proxy-server`, with `<-loopback>` so loopback is not bypassed). Request
 * interception (`_origin_guard.ts`) never sees WebSocket handshakes or what a
 * page's workers open; the proxy sees every TCP connection, whatever made it.
 *
 * It connects to the target itself, then looks at the address it actually
 * reached: a loopback, private-network, link-local or metadata address is
 * refused (403) unless its origin is one the device allows. Because the check
 * is made on the connection that is then used, a DNS answer that changes
 * between a check and the connection (rebinding) cannot slip through.
 *
 * HTTPS and WebSockets arrive as `CONNECT host:port` and are tunnelled; plain
 * HTTP arrives in absolute form and is forwarded with `Connection: close`.
 *
 * @module
 */
import { classifyIp } from "../lib/webhook_address.ts";

/** The largest request head accepted from the browser. */
const MAX_HEAD = 64 * 1024;
const CONNECT_TIMEOUT_MS = 15_000;

/** A running proxy. */
export interface DeviceProxy extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`, for `--proxy-server`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the proxy. `allowed` holds the `host:port` pairs (as in a URL's
 * `host`, default ports included) that may be reached on private addresses.
 * `onRefused` hears of each refusal.
 */
export function startDeviceProxy(
  allowed: readonly string[],
  onRefused: (target: string, why: string) => void = () => {},
): DeviceProxy {
  const permitted = new Set(allowed.map((origin) => hostPort(origin)).filter(Boolean));
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      open.add(conn);
      handle(conn, permitted, onRefused).catch(() => {}).finally(() => {
        open.delete(conn);
        try {
          conn.close();
        } catch {
          // already closed
        }
      });
    }
  })().catch(() => {});
  const { port } = listener.addr as Deno.NetAddr;
  let closing: Promise<void> | null = null;
  const close = () =>
    closing ??= (async () => {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await serving;
    })();
  return { url: `http://127.0.0.1:${port}`, close, [Symbol.asyncDispose]: close };
}

/** `host:port` of an origin, with the scheme's default port made explicit. */
function hostPort(origin: string): string {
  try {
    const url = new URL(origin);
    const port = url.port || (url.protocol === "https:" || url.protocol === "wss:" ? "443" : "80");
    return `${url.hostname.toLowerCase()}:${port}`;
  } catch {
    return "";
  }
}

async function handle(
  client: Deno.Conn,
  permitted: ReadonlySet<string>,
  onRefused: (target: string, why: string) => void,
): Promise<void> {
  const { head, rest } = await readHead(client);
  const [requestLine, ...headerLines] = head.split("\r\n");
  const [method, target, version] = requestLine.split(" ");
  let hostname: string, port: number, forwardHead: string | null = null;
  if (method === "CONNECT") {
    const at = target.lastIndexOf(":");
    hostname = target.slice(0, at).replace(/^\[|\]$/g, "");
    port = Number(target.slice(at + 1));
  } else {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return await answer(client, 400, "Bad Request");
    }
    if (url.protocol !== "http:") return await answer(client, 400, "Bad Request");
    hostname = url.hostname.replace(/^\[|\]$/g, "");
    port = Number(url.port || 80);
    const headers = headerLines.filter((line) =>
      line !== "" && !/^(proxy-connection|connection|keep-alive):/i.test(line)
    );
    forwardHead = `${method} ${url.pathname}${url.search} ${version}\r\n` +
      `${[...headers, "Connection: close"].join("\r\n")}\r\n\r\n`;
  }
  if (!hostname || !Number.isInteger(port) || port <= 0 || port > 65535) {
    return await answer(client, 400, "Bad Request");
  }
  const name = `${hostname.toLowerCase()}:${port}`;
  let upstream: Deno.Conn;
  try {
    upstream = await Deno.connect({
      hostname,
      port,
      signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS),
    });
  } catch {
    return await answer(client, 502, "Bad Gateway");
  }
  try {
    // the address this very connection reached decides, not a lookup made before
    const reached = (upstream.remoteAddr as Deno.NetAddr).hostname;
    const kind = classifyIp(reached);
    if (kind !== "public" && !permitted.has(name)) {
      onRefused(name, `${reached} is a ${kind ?? "non-public"} address`);
      return await answer(client, 403, "Forbidden");
    }
    const encoder = new TextEncoder();
    if (forwardHead === null) {
      await writeAll(client, encoder.encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
    } else {
      await writeAll(upstream, encoder.encode(forwardHead));
    }
    if (rest.byteLength > 0) await writeAll(upstream, rest);
    await Promise.race([pipe(client, upstream), pipe(upstream, client)]);
  } finally {
    try {
      upstream.close();
    } catch {
      // already closed
    }
  }
}

async function answer(client: Deno.Conn, status: number, text: string): Promise<void> {
  const body = `${status} ${text}: the Passage device does not open this address\n`;
  await writeAll(
    client,
    new TextEncoder().encode(
      `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    ),
  ).catch(() => {});
}

async function readHead(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array }> {
  let buffer = new Uint8Array(0);
  const chunk = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await conn.read(chunk);
    if (n === null) throw new Error("closed before the request head");
    const next = new Uint8Array(buffer.byteLength + n);
    next.set(buffer);
    next.set(chunk.subarray(0, n), buffer.byteLength);
    buffer = next;
    const end = indexOfHeadEnd(buffer);
    if (end >= 0) {
      return {
        head: new TextDecoder().decode(buffer.subarray(0, end)),
        rest: buffer.slice(end + 4),
      };
    }
    if (buffer.byteLength > MAX_HEAD) throw new Error("request head too large");
  }
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.byteLength; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const chunk = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(chunk);
      if (n === null) return;
      await writeAll(to, chunk.subarray(0, n));
    }
  } catch {
    // either side went away
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.byteLength) written += await conn.write(data.subarray(written));
}
