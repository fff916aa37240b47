/**
 * The controller's side of the relay: a WebSocket to
 * `/v1/sessions/{id}/socket` that authenticates with a hello, sends commands,
 * matches results by id, and reconnects with `after` so nothing is missed.
 */
import { BrowserCommandError, type BrowserTransport } from "./browser.ts";
import {
  CLOSE_CODES,
  type CommandName,
  type Commands,
  PROTOCOL_VERSION,
  type ServerToController,
  type TelemetryEvent,
} from "./protocol.ts";

interface Pending {
  name: CommandName;
  message: string;
  resolve: (value: never) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

// readyState values of the standard API (read from no class: `ws` and the global one agree).
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** Close codes after which reconnecting is pointless. */
const FINAL = new Set<number>([
  CLOSE_CODES.unauthorized,
  CLOSE_CODES.notFound,
  CLOSE_CODES.sessionEnded,
  CLOSE_CODES.protocolError,
]);

/**
 * The {@linkcode BrowserTransport} behind `session.connect()`. Internal: not
 * exported by the package.
 *
 * @example
 * ```ts
 * import { Browser } from "./browser.ts";
 * import { SocketTransport } from "./_socket_transport.ts";
 * const transport = await SocketTransport.open("http://localhost:8000", "sess_…", "sk_test_…");
 * const browser = new Browser(transport);
 * ```
 */
export class SocketTransport implements BrowserTransport {
  readonly #url: string;
  readonly #apiKey: string;
  readonly #pending = new Map<string, Pending>();
  readonly #listeners = new Set<(event: TelemetryEvent) => void>();
  readonly #WebSocket: typeof WebSocket;
  #socket: WebSocket | null = null;
  #after: number | undefined;
  #closed = false;
  #ended: string | null = null;
  #counter = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #attempts = 0;

  private constructor(url: string, apiKey: string, WebSocketClass: typeof WebSocket) {
    this.#url = url;
    this.#apiKey = apiKey;
    this.#WebSocket = WebSocketClass;
  }

  /**
   * Opens the socket with `WebSocketClass` (the global one, or one such as
   * the `ws` package's) and waits for the server's welcome.
   */
  static async open(
    baseUrl: string,
    sessionId: string,
    apiKey: string,
    WebSocketClass: typeof WebSocket = WebSocket,
  ): Promise<SocketTransport> {
    const url = `${baseUrl.replace(/^http/, "ws")}/v1/sessions/${
      encodeURIComponent(sessionId)
    }/socket`;
    const transport = new SocketTransport(url, apiKey, WebSocketClass);
    await transport.#connect();
    return transport;
  }

  #connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new this.#WebSocket(this.#url);
      this.#socket = socket;
      let welcomed = false;
      socket.onopen = () => {
        socket.send(
          JSON.stringify({
            type: "hello",
            v: PROTOCOL_VERSION,
            apiKey: this.#apiKey,
            after: this.#after,
          }),
        );
      };
      socket.onmessage = (e) => {
        const msg = JSON.parse(String(e.data)) as ServerToController;
        if (msg.type === "welcome") {
          welcomed = true;
          this.#attempts = 0;
          // Resend what may not have reached the server; it drops ids it has seen.
          for (const p of this.#pending.values()) socket.send(p.message);
          resolve();
          return;
        }
        this.#handle(msg);
      };
      socket.onerror = () => {};
      socket.onclose = (e) => {
        if (this.#socket === socket) this.#socket = null;
        if (!welcomed) {
          reject(
            new Error(
              `Could not connect to the session (close ${e.code}${
                e.reason ? `: ${e.reason}` : ""
              })`,
            ),
          );
        }
        if (this.#closed) return;
        if (FINAL.has(e.code)) {
          this.#finish(
            e.code === CLOSE_CODES.sessionEnded ? "session_ended" : "connection_lost",
            e.reason || "closed",
          );
          return;
        }
        if (welcomed) this.#scheduleReconnect();
      };
    });
  }

  #scheduleReconnect(): void {
    if (this.#attempts++ > 20) {
      this.#finish("connection_lost", "could not reconnect to the relay");
      return;
    }
    const delay = Math.min(2000, 100 * 2 ** this.#attempts);
    this.#reconnectTimer = setTimeout(() => {
      this.#connect().catch(() => this.#closed || this.#scheduleReconnect());
    }, delay);
  }

  #handle(msg: ServerToController): void {
    if ("seq" in msg) this.#after = msg.seq;
    if (msg.type === "result") {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#settle(msg.id);
      if (msg.ok) p.resolve(msg.value as never);
      else p.reject(new BrowserCommandError(p.name, msg.error.code, msg.error.message));
    } else if (msg.type === "error" && msg.id) {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#settle(msg.id);
      p.reject(
        new BrowserCommandError(p.name, msg.code as BrowserCommandError["code"], msg.message),
      );
    } else if (msg.type === "telemetry") {
      for (const listener of this.#listeners) listener(msg.event);
    } else if (msg.type === "session" && msg.status === "ended") {
      this.#finish("session_ended", `the session ended (${msg.reason ?? "ended"})`);
    }
  }

  #settle(id: string): void {
    const p = this.#pending.get(id);
    if (p) clearTimeout(p.timer);
    this.#pending.delete(id);
  }

  #finish(code: "session_ended" | "connection_lost", reason: string): void {
    this.#ended = reason;
    for (const [id, p] of this.#pending) {
      this.#settle(id);
      p.reject(new BrowserCommandError(p.name, code, reason));
    }
    void this.close();
  }

  /** Sends one command and settles with its result, or a `BrowserCommandError`. */
  run<K extends CommandName>(
    name: K,
    params: Commands[K]["params"],
    timeoutMs: number,
  ): Promise<Commands[K]["result"]> {
    if (this.#ended || this.#closed) {
      return Promise.reject(
        new BrowserCommandError(name, "session_ended", this.#ended ?? "the browser was closed"),
      );
    }
    const id = `cmd_${Date.now().toString(36)}_${(this.#counter++).toString(36)}_${
      crypto.randomUUID().slice(0, 8)
    }`;
    const message = JSON.stringify({ type: "command", id, name, params, timeoutMs });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle(id);
        reject(new BrowserCommandError(name, "timeout", `no result within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        name,
        message,
        resolve: resolve as (v: never) => void,
        reject,
        timer,
      });
      if (this.#socket?.readyState === OPEN) this.#socket.send(message);
    });
  }

  /** Calls `listener` for every telemetry event; returns a function that stops it. */
  onTelemetry(listener: (event: TelemetryEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Fails pending commands with `connection_lost` and closes the socket; no reconnect. */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    for (const [id, p] of this.#pending) {
      this.#settle(id);
      p.reject(new BrowserCommandError(p.name, "connection_lost", "the browser was closed"));
    }
    const socket = this.#socket;
    if (!socket || socket.readyState === CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      socket.addEventListener("close", () => resolve(), { once: true });
      if (socket.readyState !== CLOSING) socket.close(1000, "controller done");
    });
  }
}
