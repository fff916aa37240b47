/**
 * Network responses the automation asked to keep (`captureResponses`,
 * `readCapturedResponses`, and `yieldToUser`'s `captureBody`).
 *
 * @module
 */
import type { NetworkCapture } from "@passage/connect/protocol";
import type { HTTPResponse, Page } from "puppeteer-core";
import { MAX_VALUE_CHARS } from "./_limits.ts";
import { maskUrl } from "./_mask.ts";

/** Bodies kept in total before new ones are dropped. */
const MAX_STORED_CHARS = 32 * 1024 * 1024;

/** A response being captured: what is known at once, and its body when it has arrived. */
interface Pending {
  /** The real URL, for matching (never sent). */
  url: string;
  capture: NetworkCapture;
  body: Promise<string | undefined>;
}

/**
 * Reads what can be sent of a response. The body, when asked for, is omitted
 * when it cannot be read (a redirect, a response evicted by a navigation) or
 * is too large for a message.
 */
export function describeResponse(
  response: HTTPResponse,
  withBody: boolean,
): { capture: NetworkCapture; body: Promise<string | undefined> } {
  const capture: NetworkCapture = {
    url: maskUrl(response.url()),
    method: response.request().method(),
    status: response.status(),
  };
  const body = withBody
    ? response.text().then(
      (text) => text.length <= MAX_VALUE_CHARS ? text : undefined,
      () => undefined,
    )
    : Promise.resolve(undefined);
  return { capture, body };
}

/** Keeps the responses whose URL contains any of the asked-for strings. */
export class ResponseCapture {
  readonly #page: Page;
  readonly #patterns = new Set<string>();
  readonly #items: Pending[] = [];
  #storedChars = 0;
  readonly #log: (line: string) => void;

  constructor(page: Page, log: (line: string) => void) {
    this.#page = page;
    this.#log = log;
    page.on("response", this.#onResponse);
  }

  /** From now on, keep responses whose URL contains `urlContains`. */
  add(urlContains: string): void {
    this.#patterns.add(urlContains);
  }

  /**
   * The responses kept so far, oldest first, optionally only those whose URL
   * contains `urlContains`. Waits for bodies still arriving until `deadline`
   * (a `performance.now()` time); a body not there by then is left out.
   */
  async read(urlContains: string | undefined, deadline: number): Promise<NetworkCapture[]> {
    const items = this.#items.filter((i) =>
      urlContains === undefined || i.url.includes(urlContains)
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), Math.max(0, deadline - performance.now()));
    });
    try {
      return await Promise.all(items.map(async (item) => {
        const body = await Promise.race([item.body, late]);
        return body === "late" || body === undefined
          ? { ...item.capture }
          : { ...item.capture, responseBody: body };
      }));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops listening. */
  stop(): void {
    this.#page.off("response", this.#onResponse);
  }

  #onResponse = (response: HTTPResponse): void => {
    const url = response.url();
    if (![...this.#patterns].some((p) => url.includes(p))) return;
    const { capture, body } = describeResponse(response, true);
    const kept = body.then((text) => {
      if (text === undefined) return undefined;
      if (this.#storedChars + text.length > MAX_STORED_CHARS) {
        this.#log(`capture: store full, body of a response left out`);
        return undefined;
      }
      this.#storedChars += text.length;
      return text;
    });
    this.#items.push({ url, capture, body: kept });
  };
}
