/**
 * Everything the controller side receives in a run, kept for the privacy
 * checks: a raw controller socket that replays the session from its first
 * event (every result, error, telemetry and session event, as the server
 * sends it), and every value or error the SDK's `Browser` hands the kit.
 *
 * @module
 */
import type { Browser } from "@passage/connect";
import type { CommandName, Commands, ServerToController } from "@passage/connect/protocol";

/** Raw frames of a controller socket that asked for every event (`after: 0`). */
export class ControllerRecorder {
  /** Every frame, as received. */
  readonly frames: string[] = [];
  /** The frames parsed. */
  readonly messages: ServerToController[] = [];
  readonly #ws: WebSocket;
  readonly #closed: Promise<void>;
  readonly #open: Promise<void>;
  #commands = 0;
  #waiters: Array<() => void> = [];

  constructor(server: string, sessionId: string, apiKey: string) {
    const ws = new WebSocket(`${server.replace(/^http/, "ws")}/v1/sessions/${sessionId}/socket`);
    this.#ws = ws;
    this.#closed = new Promise((resolve) => ws.addEventListener("close", () => resolve()));
    // commands wait for the server's welcome
    this.#open = this.waitFor((m) => m.type === "welcome", 10_000, "the controller welcome")
      .then(() => {});
    this.#open.catch(() => {});
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", v: 1, apiKey, after: 0 }));
    ws.onmessage = (event) => {
      const text = String(event.data);
      this.frames.push(text);
      this.messages.push(JSON.parse(text));
      for (const poke of [...this.#waiters]) poke();
    };
    ws.onerror = () => {};
  }

  /** Resolves with the first message matching `match` (already here or to come), or rejects after `ms`. */
  waitFor(
    match: (message: ServerToController) => boolean,
    ms: number,
    what: string,
  ): Promise<ServerToController> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== poke);
      };
      const poke = () => {
        const found = this.messages.find(match);
        if (found) {
          done();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what} did not happen within ${ms} ms`));
      }, ms);
      this.#waiters.push(poke);
      poke();
    });
  }

  /**
   * Sends a command on this socket and resolves with its raw result message
   * (`ok` and `value`, or `error`), for answers the SDK does not hand back
   * whole (`waitForSelector`'s `found`).
   */
  async run<K extends CommandName>(
    name: K,
    params: Commands[K]["params"],
    timeoutMs: number,
  ): Promise<
    { ok: true; value: Commands[K]["result"] } | {
      ok: false;
      error: { code: string; message: string };
    }
  > {
    await this.#open;
    const id = `conformance-${++this.#commands}-${crypto.randomUUID()}`;
    this.#ws.send(JSON.stringify({ type: "command", id, name, params, timeoutMs }));
    const answer = await this.waitFor(
      (m) => (m.type === "result" || m.type === "error") && m.id === id,
      timeoutMs + 5000,
      `the answer to ${name}`,
    );
    if (answer.type === "error") {
      return { ok: false, error: { code: answer.code, message: answer.message } };
    }
    if (answer.type !== "result") throw new Error("unreachable");
    return answer.ok
      ? { ok: true, value: answer.value as Commands[K]["result"] }
      : { ok: false, error: answer.error };
  }

  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.close(1000);
    }
    await this.#closed;
  }
}

/**
 * `browser` with every value its methods resolve with, and every error they
 * reject with, recorded in `received` (as JSON or the error's text).
 */
export function recordingBrowser(browser: Browser, received: string[]): Browser {
  return new Proxy(browser, {
    get(target, key) {
      const member = Reflect.get(target, key, target);
      if (typeof member !== "function") return member;
      return (...args: unknown[]) => {
        const out = member.apply(target, args);
        if (!(out instanceof Promise)) return out;
        return out.then(
          (value) => {
            received.push(JSON.stringify(value) ?? "undefined");
            return value;
          },
          (error) => {
            received.push(String(error));
            throw error;
          },
        );
      };
    },
  });
}
