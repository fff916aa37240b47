/**
 * The relay socket over the browser's `WebSocket`, for the extension.
 * `drop()` closes without waiting: the browser API cannot cut a connection
 * the way a network does, so the server sees a close rather than silence.
 *
 * @module
 */
/// <reference lib="dom" />
import type { ConnectSocket, RelaySocket } from "../../device/_relay.ts";
import { HandshakeError, type SocketClosed } from "../../device/_socket.ts";

/** Opens `url`; rejects with `HandshakeError` when the upgrade fails. */
export const connectBrowserSocket: ConnectSocket = (url, { onMessage }) =>
  new Promise<RelaySocket>((resolve, reject) => {
    const ws = new WebSocket(url);
    let opened = false;
    const closed = new Promise<SocketClosed>((done) => {
      ws.addEventListener("close", (e) => done({ code: e.code, reason: e.reason }));
    });
    ws.addEventListener("message", (e) => {
      if (typeof e.data === "string") onMessage(e.data);
    });
    ws.addEventListener("open", () => {
      opened = true;
      resolve({
        send: (text) => ws.readyState === WebSocket.OPEN && ws.send(text),
        close: async (code, reason) => {
          if (ws.readyState < WebSocket.CLOSING) ws.close(code, reason);
          return await closed;
        },
        drop: () => ws.close(),
        closed,
      });
    });
    ws.addEventListener("error", () => {
      if (!opened) reject(new HandshakeError(0, `Could not open ${url}`));
    });
  });
