// deno-lint-ignore-file no-explicit-any
/**
 * A raw WebSocket client for protocol tests: it plays a device or a controller
 * by sending the protocol's JSON messages itself, as an App Clip or an Android
 * device would. Messages queue up so a test awaits exactly the one it expects.
 */
export interface TestSocket extends AsyncDisposable {
  ws: WebSocket;
  send(msg: unknown): void;
  /** The next message matching `match` (earlier non-matching ones are dropped). */
  next<T = any>(match?: (msg: any) => boolean, timeoutMs?: number): Promise<T>;
  /** Resolves with the close event. */
  closed: Promise<CloseEvent>;
  close(): Promise<void>;
}

export async function openSocket(url: string): Promise<TestSocket> {
  const ws = new WebSocket(url);
  const queue: any[] = [];
  let waiter: (() => void) | null = null;
  const closed = new Promise<CloseEvent>((resolve) =>
    ws.addEventListener("close", resolve, { once: true })
  );
  ws.onmessage = (e) => {
    queue.push(JSON.parse(String(e.data)));
    waiter?.();
  };
  ws.onerror = () => {};
  closed.then(() => waiter?.());
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener(
      "close",
      () => reject(new Error(`socket to ${url} closed before opening`)),
      {
        once: true,
      },
    );
  });
  let isClosed = false;
  closed.then(() => isClosed = true);
  const socket: TestSocket = {
    ws,
    closed,
    send: (msg) => ws.send(typeof msg === "string" ? msg : JSON.stringify(msg)),
    async next(match = () => true, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = queue.findIndex(match);
        if (i >= 0) return queue.splice(0, i + 1)[i];
        if (isClosed) {
          throw new Error(`socket closed while waiting; queue: ${JSON.stringify(queue)}`);
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `no matching message within ${timeoutMs} ms; queue: ${JSON.stringify(queue)}`,
          );
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiter = () => {
            clearTimeout(t);
            waiter = null;
            resolve();
          };
        });
      }
    },
    async close() {
      if (ws.readyState !== WebSocket.CLOSED) {
        if (ws.readyState !== WebSocket.CLOSING) ws.close(1000);
        await closed;
      }
    },
    [Symbol.asyncDispose]() {
      return socket.close();
    },
  };
  return socket;
}
