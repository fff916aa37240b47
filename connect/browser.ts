/**
 * `Browser`: Playwright-style commands for the browser on your user's device.
 *
 * @module
 */
import type {
  CommandErrorCode,
  CommandName,
  Commands,
  NetworkCapture,
  TelemetryEvent,
} from "./protocol.ts";

/**
 * A command that failed, with the command's name and a stable code.
 *
 * @example
 * ```ts
 * import { BrowserCommandError, type Browser } from "@passage/connect";
 * async function tryClick(browser: Browser) {
 *   try {
 *     await browser.click({ selector: "#missing" });
 *   } catch (err) {
 *     if (err instanceof BrowserCommandError && err.code === "selector_not_found") return false;
 *     throw err;
 *   }
 *   return true;
 * }
 * ```
 */
export class BrowserCommandError extends Error {
  /** The command that failed, such as `"click"`. */
  readonly command: CommandName;
  /** Why: `timeout`, `selector_not_found`, `yield_timeout`, `session_ended`, … */
  readonly code: CommandErrorCode | "invalid_message" | "connection_lost";

  /**
   * Makes the error for `command` failing with `code`; `message` says why.
   *
   * @example
   * ```ts
   * import { BrowserCommandError } from "@passage/connect";
   * const err = new BrowserCommandError("click", "selector_not_found", 'No element matches "#go"');
   * err.message; // 'click failed (selector_not_found): No element matches "#go"'
   * ```
   */
  constructor(command: CommandName, code: BrowserCommandError["code"], message: string) {
    super(`${command} failed (${code}): ${message}`);
    this.name = "BrowserCommandError";
    this.command = command;
    this.code = code;
  }
}

/**
 * How a `Browser` reaches the device: over a WebSocket (SDK) or directly (server).
 *
 * @example
 * ```ts
 * import { Browser, type BrowserTransport } from "@passage/connect";
 * const stub: BrowserTransport = {
 *   run: () => Promise.reject(new Error("not connected")),
 *   onTelemetry: () => () => {},
 *   close: () => Promise.resolve(),
 * };
 * const browser = new Browser(stub);
 * ```
 */
export interface BrowserTransport {
  /**
   * Runs one command and resolves with its result, or rejects with a `BrowserCommandError`.
   *
   * @example
   * ```ts
   * import type { BrowserTransport } from "@passage/connect";
   * async function open(transport: BrowserTransport, url: string) {
   *   const { status } = await transport.run("navigate", { url }, 30_000);
   *   return status; // the page's HTTP status, or null
   * }
   * ```
   */
  run<K extends CommandName>(
    name: K,
    params: Commands[K]["params"],
    timeoutMs: number,
  ): Promise<Commands[K]["result"]>;
  /**
   * Calls `listener` for every telemetry event; returns a function that stops it.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * const stop = browser.onTelemetry((event) => console.log(event.kind, event.at));
   * stop();
   * ```
   */
  onTelemetry(listener: (event: TelemetryEvent) => void): () => void;
  /**
   * Stops using the session from this side (the session itself goes on).
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * await browser.close(); // the session goes on until ended
   * ```
   */
  close(): Promise<void>;
}

/**
 * Per-call options.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const browser = await (await passage.sessions.create()).connect();
 * await browser.waitForSelector({ selector: "#bill" }, { timeout: 60_000 });
 * ```
 */
export interface CommandOptions {
  /** Milliseconds before the command fails with `timeout` (default 30000). */
  timeout?: number;
}

/**
 * The browser on the user's device. Every method sends one command and
 * resolves when the device has run it.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const session = await passage.sessions.create();
 * const browser = await session.connect();
 * await browser.navigate({ url: "https://example.com/login" });
 * const result = await browser.yieldToUser({
 *   status: { subheading: "Log in to continue..." },
 *   conditions: [{ type: "networkRequest", urlContains: "api/account", captureBody: true }],
 *   timeout: 120_000,
 * });
 * const account = JSON.parse(result.networkCapture!.responseBody!);
 * ```
 */
export class Browser {
  readonly #transport: BrowserTransport;
  readonly #defaultTimeout: number;

  /**
   * Wraps a transport; `session.connect()` builds one for you.
   * `defaultTimeout` is the milliseconds a command may take when its call
   * sets no `timeout` (default 30000).
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const session = await passage.sessions.create();
   * const browser = await session.connect({ defaultTimeout: 60_000 }); // a Browser
   * ```
   */
  constructor(transport: BrowserTransport, options: { defaultTimeout?: number } = {}) {
    this.#transport = transport;
    this.#defaultTimeout = options.defaultTimeout ?? 30_000;
  }

  #run<K extends CommandName>(name: K, params: Commands[K]["params"], options?: CommandOptions) {
    return this.#transport.run(name, params, options?.timeout ?? this.#defaultTimeout);
  }

  /**
   * Loads a URL; resolves with the final URL and HTTP status.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * const { url, status } = await browser.navigate({ url: "https://example.com/login" });
   * ```
   */
  navigate(
    params: Commands["navigate"]["params"],
    options?: CommandOptions,
  ): Promise<Commands["navigate"]["result"]> {
    return this.#run("navigate", params, options);
  }

  /**
   * Clicks the first element matching `selector`.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * await browser.click({ selector: "#sign-in" });
   * ```
   */
  async click(params: Commands["click"]["params"], options?: CommandOptions): Promise<void> {
    await this.#run("click", params, options);
  }

  /**
   * Replaces an input's value (refused on password fields and fields the user typed in).
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * await browser.fill({ selector: "#email", value: "alex@example.com" });
   * ```
   */
  async fill(params: Commands["fill"]["params"], options?: CommandOptions): Promise<void> {
    await this.#run("fill", params, options);
  }

  /**
   * Types text key by key.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * await browser.type({ selector: "#search", text: "bill" });
   * ```
   */
  async type(params: Commands["type"]["params"], options?: CommandOptions): Promise<void> {
    await this.#run("type", params, options);
  }

  /**
   * Presses a key such as `"Enter"`.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * await browser.press({ key: "Enter" });
   * ```
   */
  async press(params: Commands["press"]["params"], options?: CommandOptions): Promise<void> {
    await this.#run("press", params, options);
  }

  /**
   * Chooses `<select>` options by value; resolves with the values chosen.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * const chosen = await browser.select({ selector: "#month", values: ["2026-11"] });
   * ```
   */
  async select(params: Commands["select"]["params"], options?: CommandOptions): Promise<string[]> {
    return (await this.#run("select", params, options)).values;
  }

  /**
   * Waits for an element to reach a state (default visible).
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * await browser.waitForSelector({ selector: ".account-details" });
   * ```
   */
  async waitForSelector(
    params: Commands["waitForSelector"]["params"],
    options?: CommandOptions,
  ): Promise<void> {
    await this.#run("waitForSelector", params, options);
  }

  /**
   * Waits for the next navigation (or a URL containing `urlContains`); resolves with the URL.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * const url = await browser.waitForNavigation({ urlContains: "/dashboard" });
   * ```
   */
  async waitForNavigation(
    params: Commands["waitForNavigation"]["params"] = {},
    options?: CommandOptions,
  ): Promise<string> {
    return (await this.#run("waitForNavigation", params, options)).url;
  }

  /**
   * The inner HTML of the first element matching `selector`.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * const html = await browser.innerHTML({ selector: ".account-details" });
   * ```
   */
  async innerHTML(
    params: Commands["innerHTML"]["params"],
    options?: CommandOptions,
  ): Promise<string> {
    return (await this.#run("innerHTML", params, options)).html;
  }

  /**
   * The text content of the first element matching `selector`.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * const name = await browser.textContent({ selector: ".account-holder" });
   * ```
   */
  async textContent(
    params: Commands["textContent"]["params"],
    options?: CommandOptions,
  ): Promise<string> {
    return (await this.#run("textContent", params, options)).text;
  }

  /**
   * An attribute's value, or null when the element lacks it.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * const href = await browser.getAttribute({ selector: "a.statement", name: "href" });
   * ```
   */
  async getAttribute(
    params: Commands["getAttribute"]["params"],
    options?: CommandOptions,
  ): Promise<string | null> {
    return (await this.#run("getAttribute", params, options)).value;
  }

  /**
   * Evaluates a JavaScript expression over a copy of the page's document (made
   * by the device with scripts and secrets left out) in a sandbox with no
   * network; resolves with its JSON value.
   *
   * @example
   * ```ts ignore
   * const rows = await browser.evaluate<string[]>({
   *   expression: "[...document.querySelectorAll('.bill td')].map((td) => td.textContent)",
   * });
   * ```
   */
  async evaluate<T = unknown>(
    params: Commands["evaluate"]["params"],
    options?: CommandOptions,
  ): Promise<T> {
    return (await this.#run("evaluate", params, options)).value as T;
  }

  /**
   * A `GET` on the page's own origin, made by the device with the page's
   * cookies; the body comes back scrubbed of every secret the device knows.
   *
   * @example
   * ```ts ignore
   * const { status, body } = await browser.fetch({ url: "/api/account", accept: "application/json" });
   * ```
   */
  fetch(
    params: Commands["fetch"]["params"],
    options?: CommandOptions,
  ): Promise<Commands["fetch"]["result"]> {
    return this.#run("fetch", params, options);
  }

  /**
   * A screenshot, base64-encoded.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * const { data } = await browser.screenshot();
   * ```
   */
  screenshot(
    params: Commands["screenshot"]["params"] = {},
    options?: CommandOptions,
  ): Promise<Commands["screenshot"]["result"]> {
    return this.#run("screenshot", params, options);
  }

  /**
   * The page's current URL.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * console.log(await browser.url());
   * ```
   */
  async url(options?: CommandOptions): Promise<string> {
    return (await this.#run("url", {}, options)).url;
  }

  /**
   * Hands the browser to the human until a condition holds; rejects with code
   * `yield_timeout` after `timeout` ms. The command's own deadline is `timeout`
   * plus a margin, so the device's answer always arrives first.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * const result = await browser.yieldToUser({
   *   status: { subheading: "Log in to continue..." },
   *   conditions: [{ type: "url", urlContains: "/account" }],
   *   timeout: 120_000,
   * });
   * ```
   */
  yieldToUser(
    params: Commands["yieldToUser"]["params"],
  ): Promise<Commands["yieldToUser"]["result"]> {
    return this.#run("yieldToUser", params, { timeout: params.timeout + 15_000 });
  }

  /**
   * From now on, keep the bodies of responses whose URL contains `urlContains`.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * await browser.captureResponses({ urlContains: "/api/bill" });
   * ```
   */
  async captureResponses(
    params: Commands["captureResponses"]["params"],
    options?: CommandOptions,
  ): Promise<void> {
    await this.#run("captureResponses", params, options);
  }

  /**
   * The responses captured so far.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * const responses = await browser.readCapturedResponses({ urlContains: "/api/bill" });
   * ```
   */
  async readCapturedResponses(
    params: Commands["readCapturedResponses"]["params"] = {},
    options?: CommandOptions,
  ): Promise<NetworkCapture[]> {
    return (await this.#run("readCapturedResponses", params, options)).responses;
  }

  /**
   * Calls `listener` for each telemetry event (console, network, navigation, screenshots).
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * const stop = browser.onTelemetry((event) => console.log(event.kind, event.at));
   * stop();
   * ```
   */
  onTelemetry(listener: (event: TelemetryEvent) => void): () => void {
    return this.#transport.onTelemetry(listener);
  }

  /**
   * Disconnects this controller; the session goes on until ended or timed out.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const browser = await (await passage.sessions.create()).connect();
   * await browser.close(); // the session goes on until ended
   * ```
   */
  close(): Promise<void> {
    return this.#transport.close();
  }
}
