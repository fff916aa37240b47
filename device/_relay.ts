/**
 * The device's side of the relay socket: the hello/welcome handshake, message
 * numbering, the resend buffer, acks, and reconnecting after a drop.
 *
 * Every message the device sends gets the next `seq` (1, 2, 3… for the whole
 * session) and stays in the resend buffer until the server acks it. After a
 * reconnect the server's `welcome` says what it has stored; the rest is sent
 * again, in order.
 *
 * @module
 */
import {
  type DeviceHello,
  type DeviceResult,
  type DeviceTelemetry,
  PROTOCOL_VERSION,
  REFERENCE_DEVICE_NAME,
  type TelemetryEvent,
} from "@passage/connect/protocol";
import { MAX_MESSAGE_BYTES, MAX_UNACKED_BYTES } from "./_limits.ts";

/** The reference device's version, told to the server in its hello. */
const DEVICE_VERSION = "0.2.0";
import type { IncomingCommand, Outcome } from "./_runner.ts";
import { HandshakeError, type SocketClosed } from "./_socket.ts";

/** The relay socket as the device uses it: a WebSocket that can also be cut like a network. */
export interface RelaySocket {
  send(text: string): void;
  close(code: number, reason: string): Promise<unknown>;
  /** Cuts the connection without a close handshake. */
  drop(): void;
  /** Settles once the connection is fully closed. */
  readonly closed: Promise<SocketClosed>;
}

/** Opens a relay socket; rejects with {@link HandshakeError} when the server refuses the upgrade. */
export type ConnectSocket = (
  url: string,
  options: { onMessage(text: string): void },
) => Promise<RelaySocket>;

/** Close codes after which the device must not reconnect, and the reason each ends with. */
const FINAL_CLOSE_CODES: Record<number, string> = {
  4001: "unauthorized",
  4009: "replaced",
  4010: "session_ended",
  4400: "protocol_error",
  4404: "session_not_found",
};

/** Options of {@link RelayConnection}. */
export interface RelayOptions {
  /** How the platform opens a WebSocket. */
  connect: ConnectSocket;
  /** `ws:` or `wss:` URL of `/v1/device/socket`. */
  url: string;
  /** The device token from the claim. */
  token: string;
  /** What the device says it is in its hello (default: the reference device). */
  client?: { name: string; version: string };
  onCommand(command: IncomingCommand): void;
  /** Called once when the session is over for this device (not after {@link RelayConnection.close}). */
  onEnd(reason: string): void;
  log(line: string): void;
  /** Gives up reconnecting after this many milliseconds without a connection (default 60000). */
  reconnectBudgetMs?: number;
  /** Milliseconds to wait for `welcome` after `hello` (default 10000). */
  welcomeTimeoutMs?: number;
}

/** What the server said in its welcome. */
export interface Welcome {
  sessionId: string;
  lastDeviceSeq: number;
}

/** The relay connection of one device, across reconnects. */
export class RelayConnection {
  readonly #options: RelayOptions;
  #nextSeq = 1;
  /** Messages not acked yet, by seq, in seq order. */
  readonly #unacked = new Map<number, { text: string; bytes: number }>();
  #unackedBytes = 0;
  #skipped = 0;
  #lastCommandSeq = 0;
  #socket: RelaySocket | null = null;
  #welcomed = false;
  #onWelcome: ((welcome: Welcome) => void) | null = null;
  #endReason: string | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #firstWelcome: PromiseWithResolvers<Welcome> = Promise.withResolvers();

  constructor(options: RelayOptions) {
    this.#options = options;
    // nobody may be waiting on it when the session ends before it connects
    this.#firstWelcome.promise.catch(() => {});
  }

  /** The highest command seq received (sent in `hello` on reconnect). */
  get lastCommandSeq(): number {
    return this.#lastCommandSeq;
  }

  /** Connects, and keeps reconnecting until closed. Resolves at the first welcome. */
  start(): Promise<Welcome> {
    this.#loop ??= this.#run();
    return this.#firstWelcome.promise;
  }

  /** Sends a command's result (never dropped). Returns its seq. */
  sendResult(id: string, outcome: Outcome, name: string): number {
    const build = (seq: number): DeviceResult =>
      outcome.ok
        ? { type: "result", seq, id, ok: true, value: outcome.value }
        : { type: "result", seq, id, ok: false, error: outcome.error };
    let seq = this.#enqueue(build, false);
    if (seq === null) {
      seq = this.#enqueue((s) => ({
        type: "result",
        seq: s,
        id,
        ok: false,
        error: {
          code: "device_error",
          message: `The result of ${name} is over the ${MAX_MESSAGE_BYTES} byte message limit`,
        },
      }), false)!;
    }
    return seq;
  }

  /** Sends a telemetry event, unless it is too large or too much is waiting for acks. */
  sendTelemetry(event: TelemetryEvent): void {
    this.#enqueue((seq): DeviceTelemetry => ({ type: "telemetry", seq, event }), true);
  }

  /** Whether the message with this seq is waiting for its ack. */
  isUnacked(seq: number): boolean {
    return this.#unacked.has(seq);
  }

  /** Sends again a message that waits for its ack (no-op while disconnected). */
  resend(seq: number): void {
    const message = this.#unacked.get(seq);
    if (message !== undefined && this.#welcomed) this.#socket?.send(message.text);
  }

  /** Cuts the connection like a network failure would; the device reconnects. */
  drop(): void {
    this.#socket?.drop();
  }

  /** Closes the socket for good and stops reconnecting. */
  async close(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    const socket = this.#socket;
    if (socket) await socket.close(1000, "device closed");
    await this.#loop;
    this.#firstWelcome.reject(new Error("The device closed before it connected"));
  }

  /** Numbers and buffers a message, and sends it if connected. Returns null when not sent. */
  #enqueue(build: (seq: number) => DeviceResult | DeviceTelemetry, droppable: boolean) {
    if (droppable && this.#unackedBytes > MAX_UNACKED_BYTES) {
      if (this.#skipped++ === 0) {
        this.#options.log("relay: too much waiting for acks, telemetry skipped");
      }
      return null;
    }
    const seq = this.#nextSeq;
    const text = JSON.stringify(build(seq));
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > MAX_MESSAGE_BYTES) {
      this.#options.log(`relay: a ${bytes} byte message was not sent`);
      return null;
    }
    this.#nextSeq++;
    this.#skipped = 0;
    this.#unacked.set(seq, { text, bytes });
    this.#unackedBytes += bytes;
    if (this.#welcomed) this.#socket?.send(text);
    return seq;
  }

  #ack(seq: number): void {
    const message = this.#unacked.get(seq);
    if (message === undefined) return;
    this.#unacked.delete(seq);
    this.#unackedBytes -= message.bytes;
  }

  /** The connect, serve, reconnect loop. Ends when closed or when the session is over. */
  async #run(): Promise<void> {
    const budget = this.#options.reconnectBudgetMs ?? 60_000;
    let delay = 100;
    let giveUpAt = Date.now() + budget;
    let lastProblem = "";
    while (!this.#stopped) {
      try {
        const welcomed = await this.#connectOnce();
        if (welcomed) {
          delay = 100;
          giveUpAt = Date.now() + budget;
        }
        lastProblem = "connection closed";
      } catch (error) {
        if (error instanceof HandshakeError && error.status >= 400 && error.status < 500) {
          if (error.status !== 408 && error.status !== 429) {
            this.#end(`rejected_${error.status}`);
            break;
          }
        }
        lastProblem = (error as Error).message;
      }
      if (this.#stopped) break;
      if (this.#endReason !== null) {
        this.#end(this.#endReason);
        break;
      }
      const left = giveUpAt - Date.now();
      if (left <= 0) {
        this.#options.log(`relay: giving up reconnecting (${lastProblem})`);
        this.#end("connection_lost");
        break;
      }
      const wait = Math.min(delay, left);
      this.#options.log(`relay: reconnecting in ${wait} ms (${lastProblem})`);
      await this.#sleep(wait);
      delay = Math.min(delay * 2, 2000);
    }
  }

  /** One connection, from connect to close. Returns whether it got as far as a welcome. */
  async #connectOnce(): Promise<boolean> {
    let welcomed = false;
    const socket: RelaySocket = await this.#options.connect(this.#options.url, {
      onMessage: (text) => this.#onMessage(socket, text),
    });
    if (this.#stopped) {
      await socket.close(1000, "device closed");
      return false;
    }
    this.#socket = socket;
    const hello: DeviceHello = {
      type: "hello",
      v: PROTOCOL_VERSION,
      token: this.#options.token,
      lastCommandSeq: this.#lastCommandSeq,
      client: this.#options.client ?? { name: REFERENCE_DEVICE_NAME, version: DEVICE_VERSION },
    };
    socket.send(JSON.stringify(hello));
    const timer = setTimeout(() => {
      if (!welcomed) {
        this.#options.log("relay: no welcome in time");
        socket.drop();
      }
    }, this.#options.welcomeTimeoutMs ?? 10_000);
    this.#onWelcome = (welcome) => {
      welcomed = true;
      clearTimeout(timer);
      this.#welcome(socket, welcome);
    };
    const closed = await socket.closed;
    clearTimeout(timer);
    this.#onWelcome = null;
    this.#welcomed = false;
    this.#socket = null;
    const final = FINAL_CLOSE_CODES[closed.code];
    if (final !== undefined && this.#endReason === null) this.#endReason = final;
    this.#options.log(
      `relay: socket closed (${closed.code}${closed.reason ? ` ${closed.reason}` : ""})`,
    );
    return welcomed;
  }

  #welcome(socket: RelaySocket, welcome: Welcome): void {
    for (const seq of [...this.#unacked.keys()]) {
      if (seq <= welcome.lastDeviceSeq) this.#ack(seq);
    }
    this.#welcomed = true;
    this.#options.log(
      `relay: connected to session ${welcome.sessionId} (server has device messages up to ${welcome.lastDeviceSeq}, resending ${this.#unacked.size})`,
    );
    for (const { text } of this.#unacked.values()) socket.send(text);
    this.#firstWelcome.resolve(welcome);
  }

  #onMessage(socket: RelaySocket, text: string): void {
    if (socket !== this.#socket) return;
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text);
      if (typeof message !== "object" || message === null) throw new Error("not an object");
    } catch {
      this.#options.log("relay: a message that is not JSON was ignored");
      return;
    }
    switch (message.type) {
      case "welcome": {
        const lastDeviceSeq = Number(message.lastDeviceSeq ?? 0);
        if (!Number.isInteger(lastDeviceSeq) || lastDeviceSeq < 0) {
          this.#options.log("relay: a welcome without a valid lastDeviceSeq was ignored");
          return;
        }
        this.#onWelcome?.({ sessionId: String(message.sessionId ?? ""), lastDeviceSeq });
        this.#onWelcome = null;
        return;
      }
      case "command": {
        const { seq, id, name, params, timeoutMs } = message;
        if (typeof id !== "string" || id === "" || typeof name !== "string") {
          this.#options.log("relay: a command without an id or name was ignored");
          return;
        }
        if (typeof seq === "number" && Number.isInteger(seq) && seq > this.#lastCommandSeq) {
          this.#lastCommandSeq = seq;
        }
        this.#options.onCommand({
          seq: typeof seq === "number" ? seq : this.#lastCommandSeq,
          id,
          name,
          params,
          timeoutMs: typeof timeoutMs === "number" ? timeoutMs : 30_000,
        });
        return;
      }
      case "ack":
        if (typeof message.seq === "number") this.#ack(message.seq);
        return;
      case "end":
        this.#endReason = typeof message.reason === "string" && message.reason !== ""
          ? message.reason
          : "session_ended";
        this.#options.log(`relay: session ended (${this.#endReason})`);
        socket.close(1000, "session ended");
        return;
      case "error":
        this.#options.log(
          `relay: server error ${String(message.code)}: ${String(message.message)}`,
        );
        // the server missed a message: reconnect, and its welcome says where to resume
        if (message.code === "out_of_order") socket.drop();
        return;
      default:
        this.#options.log(
          `relay: a message of unknown type ${JSON.stringify(message.type)} was ignored`,
        );
    }
  }

  #end(reason: string): void {
    this.#stopped = true;
    this.#firstWelcome.reject(new DeviceEndedError(reason));
    // let the loop finish before the device starts closing everything
    queueMicrotask(() => this.#options.onEnd(reason));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }
}

/** The session ended (or could not be joined) before the device connected. */
export class DeviceEndedError extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(`The device could not join the session: ${reason}`);
    this.name = "DeviceEndedError";
    this.reason = reason;
  }
}
