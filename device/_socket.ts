/**
 * A small WebSocket client (RFC 6455, text messages) over a raw TCP or TLS
 * connection. The device uses it instead of the `WebSocket` class for one
 * reason: {@link DeviceSocket.drop} can cut the connection the way a network
 * does (no close frame, no handshake), which the `WebSocket` API cannot.
 *
 * @module
 */
import { encodeBase64 } from "./_base64.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** The largest message accepted from the server. */
const MAX_INCOMING_BYTES = 16 * 1024 * 1024;
/** The largest HTTP response head accepted during the handshake. */
const MAX_HEAD_BYTES = 16 * 1024;

/** How a socket ended: the peer's close code, or 1006 when the connection just went away. */
export interface SocketClosed {
  code: number;
  reason: string;
}

/** The server answered the upgrade request with something other than 101. */
export class HandshakeError extends Error {
  /** The HTTP status, or 0 when the response was not HTTP at all. */
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "HandshakeError";
    this.status = status;
  }
}

/** Options of {@link DeviceSocket.connect}. */
export interface ConnectOptions {
  /** Called with each text message, in order. */
  onMessage(text: string): void;
  /** Milliseconds before connecting and the upgrade fail (default 10000). */
  timeoutMs?: number;
  /** Sends a ping this often, in milliseconds (default 10000). */
  pingIntervalMs?: number;
  /** Closes the connection as dropped when nothing arrives for this long (default 30000). */
  idleTimeoutMs?: number;
}

/** A connected WebSocket. */
export class DeviceSocket {
  readonly #conn: Deno.Conn;
  readonly #onMessage: (text: string) => void;
  #buffer: Uint8Array;
  #writes: Promise<void> = Promise.resolve();
  #closeSent = false;
  #closeReceived: SocketClosed | null = null;
  #done = false;
  #lastReceived = Date.now();
  #pinger: ReturnType<typeof setInterval> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  readonly #reading: Promise<void>;
  /** Settles once the connection is fully closed and nothing of it is left running. */
  readonly closed: Promise<SocketClosed>;
  #resolveClosed!: (c: SocketClosed) => void;

  private constructor(conn: Deno.Conn, leftover: Uint8Array, options: ConnectOptions) {
    this.#conn = conn;
    this.#onMessage = options.onMessage;
    this.#buffer = leftover;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    const idle = options.idleTimeoutMs ?? 30_000;
    this.#pinger = setInterval(() => {
      if (Date.now() - this.#lastReceived > idle) {
        this.drop();
        return;
      }
      this.#sendFrame(0x9, new Uint8Array(0));
    }, options.pingIntervalMs ?? 10_000);
    this.#reading = this.#readLoop();
  }

  /** Opens a WebSocket to `url` (`ws:` or `wss:`). */
  static async connect(url: string, options: ConnectOptions): Promise<DeviceSocket> {
    const target = new URL(url);
    const secure = target.protocol === "wss:";
    if (!secure && target.protocol !== "ws:") {
      throw new TypeError(`Unsupported WebSocket URL "${url}"`);
    }
    const hostname = target.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(target.port || (secure ? 443 : 80));
    const timeoutMs = options.timeoutMs ?? 10_000;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    let conn: Deno.Conn | null = null;
    try {
      conn = secure
        ? await Deno.connectTls({ hostname, port })
        : await Deno.connect({ hostname, port, signal: abort.signal });
      const key = encodeBase64(crypto.getRandomValues(new Uint8Array(16)));
      const request = [
        `GET ${target.pathname}${target.search} HTTP/1.1`,
        `Host: ${target.host}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${key}`,
        "Sec-WebSocket-Version: 13",
        "User-Agent: passage-device",
        "",
        "",
      ].join("\r\n");
      const c = conn;
      const onAbort = () => c.close();
      abort.signal.addEventListener("abort", onAbort, { once: true });
      try {
        await writeAll(conn, new TextEncoder().encode(request));
        const { head, rest } = await readHead(conn);
        const [statusLine, ...headerLines] = head.split("\r\n");
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
        if (status !== 101) {
          throw new HandshakeError(status, `WebSocket upgrade answered ${statusLine}`);
        }
        const headers = new Map(headerLines.map((line) => {
          const at = line.indexOf(":");
          return [line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim()];
        }));
        const expected = encodeBase64(
          new Uint8Array(
            await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + GUID)),
          ),
        );
        if (headers.get("sec-websocket-accept") !== expected) {
          throw new HandshakeError(101, "WebSocket upgrade sent a wrong Sec-WebSocket-Accept");
        }
        if (headers.has("sec-websocket-extensions")) {
          throw new HandshakeError(101, "WebSocket upgrade enabled an extension not asked for");
        }
        return new DeviceSocket(conn, rest, options);
      } finally {
        abort.signal.removeEventListener("abort", onAbort);
      }
    } catch (error) {
      try {
        conn?.close();
      } catch {
        // already closed by the timeout
      }
      if (abort.signal.aborted && !(error instanceof HandshakeError)) {
        throw new Error(`WebSocket connection to ${target.host} timed out after ${timeoutMs} ms`);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether {@link send} can still deliver. */
  get open(): boolean {
    return !this.#done && !this.#closeSent;
  }

  /** Sends a text message. Returns false when the socket is closing or closed. */
  send(text: string): boolean {
    if (!this.open) return false;
    this.#sendFrame(0x1, new TextEncoder().encode(text));
    return true;
  }

  /**
   * Closes politely: sends a close frame, waits up to a second for the server's,
   * then closes the connection. Resolves when everything is closed.
   */
  async close(code = 1000, reason = ""): Promise<SocketClosed> {
    if (!this.#done && !this.#closeSent) {
      const body = new Uint8Array(2 + new TextEncoder().encode(reason).length);
      new DataView(body.buffer).setUint16(0, code);
      body.set(new TextEncoder().encode(reason), 2);
      this.#sendFrame(0x8, body);
      this.#closeSent = true;
      this.#closeTimer = setTimeout(() => this.drop(), 1000);
    }
    return await this.closed;
  }

  /** Cuts the connection at once, like a network failure: no close frame is sent. */
  drop(): void {
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    clearInterval(this.#pinger);
    clearTimeout(this.#closeTimer);
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    const result = this.#closeReceived ?? { code: 1006, reason: "" };
    // resolve only once the read loop and pending writes have stopped
    Promise.allSettled([this.#reading, this.#writes]).then(() => this.#resolveClosed(result));
  }

  #sendFrame(opcode: number, payload: Uint8Array): void {
    if (this.#done) return;
    const frame = encodeFrame(opcode, payload);
    this.#writes = this.#writes
      .then(() => this.#done ? undefined : writeAll(this.#conn, frame))
      .catch(() => this.#finish());
  }

  async #readLoop(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    await Promise.resolve(); // let connect() hand the socket out before any message
    try {
      while (!this.#done) {
        if (!this.#drainFrames()) break;
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        this.#lastReceived = Date.now();
        this.#buffer = concat(this.#buffer, chunk.subarray(0, n));
      }
    } catch {
      // the connection failed or was closed under us
    }
    // after a close frame, let the reply go out before the connection closes
    if (this.#closeReceived && !this.#done) await this.#writes;
    this.#finish();
  }

  /** Handles every complete frame in the buffer. Returns false when the socket must stop. */
  #drainFrames(): boolean {
    while (true) {
      const frame = decodeFrame(this.#buffer);
      if (frame === "incomplete") return true;
      if (frame === "invalid") return false;
      this.#buffer = this.#buffer.subarray(frame.length);
      switch (frame.opcode) {
        case 0x0:
        case 0x1:
        case 0x2: {
          this.#fragments.push(frame.payload);
          this.#fragmentBytes += frame.payload.length;
          if (this.#fragmentBytes > MAX_INCOMING_BYTES) return false;
          if (!frame.fin) break;
          const whole = this.#fragments.length === 1
            ? this.#fragments[0]
            : this.#fragments.reduce((a, b) => concat(a, b));
          this.#fragments = [];
          this.#fragmentBytes = 0;
          let text: string;
          try {
            text = new TextDecoder("utf-8", { fatal: true }).decode(whole);
          } catch {
            return false;
          }
          if (!this.#done) this.#onMessage(text);
          break;
        }
        case 0x8: {
          const view = new DataView(
            frame.payload.buffer,
            frame.payload.byteOffset,
            frame.payload.byteLength,
          );
          const code = frame.payload.length >= 2 ? view.getUint16(0) : 1005;
          const reason = new TextDecoder().decode(frame.payload.subarray(2));
          this.#closeReceived = { code, reason };
          if (!this.#closeSent) {
            this.#closeSent = true;
            this.#sendFrame(0x8, frame.payload.subarray(0, 2));
          }
          return false;
        }
        case 0x9:
          this.#sendFrame(0xA, frame.payload);
          break;
        default:
          // pong and anything unknown
          break;
      }
    }
  }
}

type Frame = { fin: boolean; opcode: number; payload: Uint8Array; length: number };

function decodeFrame(buf: Uint8Array): Frame | "incomplete" | "invalid" {
  if (buf.length < 2) return "incomplete";
  const fin = (buf[0] & 0x80) !== 0;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let at = 2;
  if (len === 126) {
    if (buf.length < 4) return "incomplete";
    len = (buf[2] << 8) | buf[3];
    at = 4;
  } else if (len === 127) {
    if (buf.length < 10) return "incomplete";
    const big = new DataView(buf.buffer, buf.byteOffset + 2, 8).getBigUint64(0);
    if (big > BigInt(MAX_INCOMING_BYTES)) return "invalid";
    len = Number(big);
    at = 10;
  }
  if (len > MAX_INCOMING_BYTES) return "invalid";
  let mask: Uint8Array | null = null;
  if (masked) {
    if (buf.length < at + 4) return "incomplete";
    mask = buf.subarray(at, at + 4);
    at += 4;
  }
  if (buf.length < at + len) return "incomplete";
  let payload = buf.subarray(at, at + len);
  if (mask) {
    const m = mask;
    payload = payload.map((b, i) => b ^ m[i & 3]);
  }
  return { fin, opcode, payload, length: at + len };
}

function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const headLen = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = new Uint8Array(headLen + 4 + len);
  frame[0] = 0x80 | opcode;
  const view = new DataView(frame.buffer);
  if (len < 126) {
    frame[1] = 0x80 | len;
  } else if (len < 65536) {
    frame[1] = 0x80 | 126;
    view.setUint16(2, len);
  } else {
    frame[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(len));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  frame.set(mask, headLen);
  const body = headLen + 4;
  for (let i = 0; i < len; i++) frame[body + i] = payload[i] ^ mask[i & 3];
  return frame;
}

async function readHead(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array }> {
  let buf: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  while (true) {
    const n = await conn.read(chunk);
    if (n === null) throw new HandshakeError(0, "WebSocket upgrade: connection closed");
    buf = concat(buf, chunk.subarray(0, n));
    for (let i = 3; i < buf.length; i++) {
      if (buf[i - 3] === 13 && buf[i - 2] === 10 && buf[i - 1] === 13 && buf[i] === 10) {
        return {
          head: new TextDecoder().decode(buf.subarray(0, i - 3)),
          rest: buf.slice(i + 1),
        };
      }
    }
    if (buf.length > MAX_HEAD_BYTES) {
      throw new HandshakeError(0, "WebSocket upgrade: response head too large");
    }
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let at = 0;
  while (at < data.length) at += await conn.write(data.subarray(at));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
