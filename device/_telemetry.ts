/**
 * Streams what happens in the page as protocol telemetry events: console
 * lines, requests, responses, failures, main-frame navigations, and a
 * screenshot after each main-frame load. No headers, cookies or request
 * bodies are ever read into an event (the `telemetryFields` rule), every URL
 * is redacted (`urls`), and screenshots taken while the human has control
 * hide what is typed (`screenshots`).
 *
 * @module
 */
import type { TelemetryEvent } from "@passage/connect/protocol";
import type {
  CDPSession,
  ConsoleMessage,
  Frame,
  HTTPRequest,
  HTTPResponse,
  Page,
} from "puppeteer-core";
import { maskUrl, maskUrlsInText } from "./_mask.ts";
import { isRuleOn } from "./_rules.ts";
import { takeScreenshot } from "./_screenshot.ts";

/** The protocol's limit on a console line. */
const MAX_CONSOLE_CHARS = 10_000;
/** At most one telemetry screenshot per this many milliseconds. */
const SCREENSHOT_INTERVAL_MS = 1000;
const SCREENSHOT_QUALITY = 50;

/** Options of {@link PageTelemetry}. */
export interface TelemetryOptions {
  /** The device's CDP session on the page (for screenshots). */
  cdp: CDPSession;
  /** Receives each event (already safe to send). */
  emit(event: TelemetryEvent): void;
  /** Whether the human has control now (screenshots are then masked). */
  humanHasControl(): boolean;
  log(line: string): void;
}

/** Watches one page and emits its telemetry until stopped. */
export class PageTelemetry {
  readonly #page: Page;
  readonly #options: TelemetryOptions;
  readonly #ids = new WeakMap<HTTPRequest, string>();
  readonly #started = new WeakMap<HTTPRequest, number>();
  #nextId = 1;
  #lastShotAt = -Infinity;
  #shotTimer: ReturnType<typeof setTimeout> | undefined;
  #shooting: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(page: Page, options: TelemetryOptions) {
    this.#page = page;
    this.#options = options;
    page.on("console", this.#onConsole);
    page.on("pageerror", this.#onPageError);
    page.on("request", this.#onRequest);
    page.on("response", this.#onResponse);
    page.on("requestfailed", this.#onRequestFailed);
    page.on("framenavigated", this.#onNavigated);
    page.on("load", this.#onLoad);
  }

  /** Stops listening and waits for a screenshot in progress. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const page = this.#page;
    page.off("console", this.#onConsole);
    page.off("pageerror", this.#onPageError);
    page.off("request", this.#onRequest);
    page.off("response", this.#onResponse);
    page.off("requestfailed", this.#onRequestFailed);
    page.off("framenavigated", this.#onNavigated);
    page.off("load", this.#onLoad);
    clearTimeout(this.#shotTimer);
    this.#shotTimer = undefined;
    await this.#shooting;
  }

  #emit(event: TelemetryEvent): void {
    if (!this.#stopped) this.#options.emit(event);
  }

  #idOf(request: HTTPRequest): string {
    let id = this.#ids.get(request);
    if (id === undefined) {
      id = `r${this.#nextId++}`;
      this.#ids.set(request, id);
    }
    return id;
  }

  #onConsole = (message: ConsoleMessage): void => {
    this.#emit({
      kind: "console",
      at: now(),
      level: message.type().slice(0, 20),
      text: clip(maskUrlsInText(message.text()), MAX_CONSOLE_CHARS),
    });
    // the arguments are handles into the page: release them
    for (const arg of message.args()) arg.dispose().catch(() => {});
  };

  #onPageError = (error: unknown): void => {
    const message = error instanceof Error ? error.message : String(error);
    this.#emit({
      kind: "console",
      at: now(),
      level: "error",
      text: clip(`Uncaught ${maskUrlsInText(message)}`, MAX_CONSOLE_CHARS),
    });
  };

  #onRequest = (request: HTTPRequest): void => {
    this.#started.set(request, performance.now());
    const event: TelemetryEvent = {
      kind: "request",
      at: now(),
      requestId: this.#idOf(request),
      method: request.method().slice(0, 16),
      url: maskUrl(request.url()),
      resourceType: request.resourceType().slice(0, 40),
    };
    if (!isRuleOn("telemetryFields")) {
      // tests only: what the rule keeps out, so a test can see it matters
      Object.assign(event, { headers: request.headers(), postData: request.postData() });
    }
    this.#emit(event);
  };

  #onResponse = (response: HTTPResponse): void => {
    const request = response.request();
    const started = this.#started.get(request);
    const contentType = response.headers()["content-type"] ?? "";
    const event: TelemetryEvent = {
      kind: "response",
      at: now(),
      requestId: this.#idOf(request),
      method: request.method().slice(0, 16),
      url: maskUrl(response.url()),
      status: response.status(),
      mimeType: contentType.split(";")[0].trim().toLowerCase().slice(0, 200),
      durationMs: started === undefined
        ? 0
        : Math.max(0, Math.round((performance.now() - started) * 10) / 10),
    };
    if (!isRuleOn("telemetryFields")) {
      // tests only: Set-Cookie and the other response headers
      Object.assign(event, { headers: response.headers() });
    }
    this.#emit(event);
  };

  #onRequestFailed = (request: HTTPRequest): void => {
    this.#emit({
      kind: "requestFailed",
      at: now(),
      requestId: this.#idOf(request),
      url: maskUrl(request.url()),
      errorText: clip(request.failure()?.errorText ?? "failed", 1000),
    });
  };

  #onNavigated = (frame: Frame): void => {
    if (frame !== this.#page.mainFrame()) return;
    this.#emit({ kind: "navigation", at: now(), url: maskUrl(frame.url()) });
  };

  #onLoad = (): void => {
    if (this.#stopped || this.#shotTimer !== undefined) return;
    const wait = Math.max(0, this.#lastShotAt + SCREENSHOT_INTERVAL_MS - performance.now());
    this.#shotTimer = setTimeout(() => {
      this.#shotTimer = undefined;
      this.#shooting = this.#shooting.then(() => this.#screenshot());
    }, wait);
  };

  async #screenshot(): Promise<void> {
    if (this.#stopped || this.#page.isClosed()) return;
    this.#lastShotAt = performance.now();
    const rule = isRuleOn("screenshots");
    const masked = rule && this.#options.humanHasControl();
    try {
      const shot = await takeScreenshot(this.#page, this.#options.cdp, {
        format: "jpeg",
        quality: SCREENSHOT_QUALITY,
        // every field while the human types; afterwards, the fields they typed into
        mask: masked ? "all" : rule ? "sensitive" : "none",
      });
      this.#emit({ kind: "screenshot", at: now(), format: "jpeg", data: shot.data, masked });
    } catch (error) {
      if (!this.#stopped) {
        this.#options.log(`telemetry: screenshot skipped (${(error as Error).message})`);
      }
    }
  }
}

function now(): string {
  return new Date().toISOString();
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) : text;
}
