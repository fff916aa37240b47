/**
 * A Server-Sent Events stream read as it arrives, for tests that hold one open
 * and wait for the event they expect (or for the server to end it).
 */
import { createParser, type EventSourceMessage } from "eventsource-parser";

/** A Server-Sent Events stream read as it arrives. */
export interface SseStream extends AsyncDisposable {
  status: number;
  headers: Headers;
  /** The next event matching `match`; rejects if the stream ends first or after `timeoutMs`. */
  next(match: (m: EventSourceMessage) => boolean, timeoutMs?: number): Promise<EventSourceMessage>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
}

export async function openSse(url: string, headers: Record<string, string>): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { accept: "text/event-stream", ...headers },
    signal: abort.signal,
  });
  const queue: EventSourceMessage[] = [];
  let wake = () => {};
  let done = false;
  const parser = createParser({
    onEvent: (m) => {
      queue.push(m);
      wake();
    },
  });
  const ended = (async () => {
    if (!res.body) return;
    try {
      for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) parser.feed(chunk);
    } catch {
      // aborted by the test
    } finally {
      done = true;
      wake();
    }
  })();
  return {
    status: res.status,
    headers: res.headers,
    ended,
    async next(match, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = queue.findIndex(match);
        if (i >= 0) return queue.splice(0, i + 1)[i];
        if (done) throw new Error(`the stream ended; unread: ${JSON.stringify(queue)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    async [Symbol.asyncDispose]() {
      abort.abort();
      await ended;
    },
  };
}
