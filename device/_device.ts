/**
 * `startDevice()`: claims a code, launches Chromium, joins the session's
 * relay socket and runs the server's commands until the session ends.
 *
 * @module
 */
import type { Commands, TelemetryEvent } from "@passage/connect/protocol";
import type { DeviceClaim } from "@passage/connect/schemas";
import type { Browser, Frame, HTTPRequest, HTTPResponse, Page } from "puppeteer-core";
import { closeBrowser, launchBrowser, type LaunchedBrowser } from "./_browser.ts";
import { ResponseCapture } from "./_capture.ts";
import { claimDevice } from "./_claim.ts";
import { type CommandContext, createHandlers } from "./_commands.ts";
import { clearSecretValues, HumanInput } from "./_human_input.ts";
import { OriginGuard } from "./_origin_guard.ts";
import { RelayConnection } from "./_relay.ts";
import { isRuleOn } from "./_rules.ts";
import { Sandbox } from "./_sandbox.ts";
import { CommandRunner, type Outcome } from "./_runner.ts";
import { DeviceSecrets } from "./_secrets.ts";
import { PageTelemetry } from "./_telemetry.ts";
import { checkConditions, waitForConditions } from "./_yield.ts";

/** What the human is asked to do while they have control (`yieldToUser`'s `status`). */
export interface DeviceStatus {
  heading?: string;
  subheading?: string;
  /**
   * The real origin of the page the human is on, read by the device itself
   * (the controller cannot set it), updated as the page navigates.
   */
  origin: string;
}

/** Options of {@link startDevice}. */
export interface DeviceOptions {
  /** The Passage server's base URL, such as `http://localhost:8000`. */
  server: string;
  /** The claim code (`K7QD2-9XW4M`) the link or session handed out. */
  claimCode: string;
  /** Run Chromium without a window (default true). */
  headless?: boolean;
  /** The Chromium binary (default `/usr/bin/chromium`). */
  executablePath?: string;
  /**
   * A running Chromium to use instead of launching one (`launchChromium()`):
   * the device opens its own incognito context in it and closes only that.
   */
  browser?: Browser;
  /**
   * Origins the device may load although they are on loopback or a private
   * network (a developer's local site). The Passage server it claims at is
   * always allowed: its sandbox sites live there.
   */
  allowPrivateOrigins?: string[];
  /** Called with the status when the human gets control (and as they navigate), and with null when it ends. */
  onStatus?: (status: DeviceStatus | null) => void;
  /**
   * Receives one line per notable event. Never given what was typed or
   * captured: every line is scrubbed of the device's secrets first.
   */
  log?: (line: string) => void;
}

/** A running device. */
export interface DeviceHandle extends AsyncDisposable {
  /** The device's browser page: a test can act as the human on it. */
  readonly page: Page;
  /** The session this device joined. */
  readonly sessionId: string;
  /** The token the device authenticates its socket with. */
  readonly deviceToken: string;
  /** What the link asks for (Connect sessions), or null. */
  readonly link: DeviceClaim["link"];
  /** Settles once the device has stopped and closed everything, with why. */
  readonly ended: Promise<{ reason: string }>;
  /** Test hook: cuts the socket like a network failure; the device reconnects and resumes. */
  dropConnection(): void;
  /** Closes the socket and the browser and removes the profile. Idempotent. */
  close(): Promise<void>;
}

/**
 * Claims `claimCode` at `server`, launches Chromium and connects to the
 * session's relay. Resolves once the server has welcomed the device.
 *
 * @example
 * ```ts
 * await using device = await startDevice({ server: "http://localhost:8000", claimCode: "K7QD2-9XW4M" });
 * console.log((await device.ended).reason);
 * ```
 */
export async function startDevice(options: DeviceOptions): Promise<DeviceHandle> {
  const server = options.server.replace(/\/+$/, "");
  const secrets = new DeviceSecrets();
  const sink = options.log ?? (() => {});
  const log = (line: string) => sink(secrets.redact(line));
  const claim = await claimDevice(server, options.claimCode);
  log(`claimed: session ${claim.sessionId}`);
  const headless = options.headless ?? true;
  const launched = await launchBrowser({
    headless,
    executablePath: options.executablePath,
    browser: options.browser,
  });
  const device = new Device(server, claim, launched, { ...options, headless }, log, secrets);
  try {
    await device.connect();
  } catch (error) {
    await device.handle.close();
    throw error;
  }
  return device.handle;
}

/** `ws(s)://…/v1/device/socket` for a server base URL. */
function socketUrl(server: string): string {
  const url = new URL(`${server}/v1/device/socket`);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

class Device {
  readonly handle: DeviceHandle;
  readonly #launched: LaunchedBrowser;
  readonly #options: DeviceOptions & { headless: boolean };
  readonly #log: (line: string) => void;
  readonly #relay: RelayConnection;
  readonly #runner: CommandRunner;
  readonly #telemetry: PageTelemetry;
  readonly #capture: ResponseCapture;
  readonly #human: HumanInput;
  readonly #secrets: DeviceSecrets;
  readonly #guard: OriginGuard;
  readonly #sandbox = new Sandbox();
  /** What the human was asked, while they have control. */
  #asked: { heading?: string; subheading?: string } | null = null;
  /** Telemetry waiting to be scrubbed and sent, in order. */
  readonly #outbox: TelemetryEvent[] = [];
  #sending: Promise<void> | null = null;
  readonly #ended = Promise.withResolvers<{ reason: string }>();
  #humanHasControl = false;
  #closing: Promise<void> | null = null;

  constructor(
    server: string,
    claim: DeviceClaim,
    launched: LaunchedBrowser,
    options: DeviceOptions & { headless: boolean },
    log: (line: string) => void,
    secrets: DeviceSecrets,
  ) {
    const { browser, page } = launched;
    this.#launched = launched;
    this.#options = options;
    this.#log = log;
    this.#secrets = secrets;
    // before telemetry's own listener: a cookie is known before its response is reported
    page.on("response", this.#onResponse);
    page.on("request", this.#onRequest);
    page.on("framenavigated", this.#onNavigated);
    this.#guard = new OriginGuard(page, {
      allowed: claim.allowedOrigins,
      privateAllowed: [server, ...(options.allowPrivateOrigins ?? [])],
    }, log);
    this.#relay = new RelayConnection({
      url: socketUrl(server),
      token: claim.deviceToken,
      log,
      onCommand: (command) => this.#runner.receive(command),
      onEnd: (reason) => void this.#shutdown(reason),
    });
    this.#capture = new ResponseCapture(page, log);
    this.#human = new HumanInput(page, (field, value) => secrets.noteTyped(field, value));
    this.#runner = new CommandRunner(
      createHandlers({
        page,
        cdp: launched.cdp,
        capture: this.#capture,
        sandbox: this.#sandbox,
        noteBody: (body, contentType) => secrets.noteBody(body, contentType),
        lastRefusal: () => this.#guard.lastRefusal,
        refuseTop: (url) => this.#guard.refuseTop(url),
        scrub: async (text) => {
          await this.#refreshSecrets();
          return secrets.redact(text);
        },
        yieldToUser: (params, ctx) => this.#yieldToUser(params, ctx),
      }),
      this.#relay,
      log,
      (name, outcome) => this.#safeOutcome(name, outcome),
    );
    this.#telemetry = new PageTelemetry(page, {
      cdp: launched.cdp,
      emit: (event) => this.#event(event),
      humanHasControl: () => this.#humanHasControl,
      log,
    });
    browser.on("disconnected", this.#onBrowserGone);
    page.on("close", this.#onBrowserGone);
    const close = () => this.#shutdown("closed");
    this.handle = {
      page,
      sessionId: claim.sessionId,
      deviceToken: claim.deviceToken,
      link: claim.link,
      ended: this.#ended.promise,
      dropConnection: () => this.#relay.drop(),
      close,
      [Symbol.asyncDispose]: close,
    };
  }

  async connect(): Promise<void> {
    this.#sandbox.warm();
    await this.#guard.attach();
    await this.#human.attach();
    const welcome = await this.#relay.start();
    this.#log(`connected: session ${welcome.sessionId || this.handle.sessionId}`);
  }

  #onBrowserGone = () => void this.#shutdown("browser_closed");

  /** Remembers the cookies and tokens a response carries, before anything about it is sent. */
  #onResponse = (response: HTTPResponse): void => this.#secrets.noteResponse(response);

  /** Remembers the credentials a request carries. */
  #onRequest = (request: HTTPRequest): void => this.#secrets.noteRequest(request);

  /** While the human has control, tells them where they really are. */
  #onNavigated = (frame: Frame): void => {
    if (this.#asked !== null && frame === this.handle.page.mainFrame()) this.#status(this.#asked);
  };

  /**
   * A command's outcome as it may leave the device: the secrets are read
   * again (cookies, password fields, typed fields) and scrubbed from it.
   */
  async #safeOutcome(
    name: string,
    outcome: Outcome,
  ): Promise<Outcome> {
    await this.#refreshSecrets();
    return this.#secrets.redactOutcome(name, outcome);
  }

  /** Reads every source of secrets again: cookies, fields, storage, bodies still arriving. */
  async #refreshSecrets(): Promise<void> {
    const { context, page, cdp } = this.#launched;
    await Promise.all([
      this.#secrets.refreshCookies(context),
      this.#secrets.refreshPage(page),
      this.#secrets.refreshStorage(cdp),
      this.#secrets.settle(),
    ]);
  }

  async #yieldToUser(
    params: Commands["yieldToUser"]["params"],
    ctx: CommandContext,
  ): Promise<Commands["yieldToUser"]["result"]> {
    checkConditions(params);
    this.#humanHasControl = true;
    try {
      // mark what the human types before telling them it is their turn
      await this.#human.begin().catch((error) => {
        this.#log(`yield: could not watch input (${(error as Error).message})`);
      });
      this.#event({ kind: "yield", at: new Date().toISOString(), state: "started" });
      this.#asked = params.status ?? {};
      this.#status(this.#asked);
      return await waitForConditions(this.handle.page, params, ctx.signal);
    } finally {
      // what the human typed, read while the fields still hold it
      await this.#secrets.refreshPage(this.handle.page);
      // then empty those fields: the login is submitted, and nothing the
      // automation runs later (evaluate) can read them back, in any encoding
      if (isRuleOn("snapshot") && !this.handle.page.isClosed()) {
        await clearSecretValues(this.handle.page).catch(() => {});
      }
      await this.#human.end().catch(() => {});
      this.#humanHasControl = false;
      this.#asked = null;
      this.#status(null);
      this.#event({ kind: "yield", at: new Date().toISOString(), state: "ended" });
    }
  }

  /** Queues a telemetry event; it is scrubbed of secrets and sent in order. */
  #event(event: TelemetryEvent): void {
    if (this.#closing !== null) return;
    this.#outbox.push(event);
    this.#sending ??= this.#sendTelemetry();
  }

  async #sendTelemetry(): Promise<void> {
    const { context, page, cdp } = this.#launched;
    try {
      while (this.#outbox.length > 0) {
        // take the batch first: every event in it was queued before the secrets are read
        const batch = this.#outbox.splice(0);
        // cookies can change with any response; fields only while the human types
        await Promise.all([
          this.#secrets.refreshCookies(context),
          this.#secrets.refreshStorage(cdp),
          this.#secrets.settle(),
          this.#humanHasControl ? this.#secrets.refreshPage(page) : undefined,
        ]);
        for (const event of batch) {
          if (this.#closing === null) this.#relay.sendTelemetry(this.#secrets.redactEvent(event));
        }
      }
    } finally {
      this.#sending = null;
    }
  }

  #status(asked: { heading?: string; subheading?: string } | null): void {
    const page = this.handle.page;
    const origin = page.isClosed() ? "" : originOf(page.url());
    const status: DeviceStatus | null = asked && { ...asked, origin };
    try {
      this.#options.onStatus?.(status);
    } catch (error) {
      this.#log(`onStatus threw: ${(error as Error).message}`);
    }
    if (!this.#options.headless) {
      // a visible window: say whose turn it is (the page itself is left alone)
      const say = (line: string) => (this.#options.log ?? console.log)(this.#secrets.redact(line));
      say(
        status
          ? `>>> Your turn, on ${status.origin}: ${
            [status.heading, status.subheading].filter(Boolean).join(" — ") ||
            "continue in the browser window"
          }`
          : ">>> Thanks, the automation continues",
      );
    }
  }

  #shutdown(reason: string): Promise<void> {
    this.#closing ??= (async () => {
      this.#log(`closing: ${reason}`);
      const { browser, page } = this.#launched;
      browser.off("disconnected", this.#onBrowserGone);
      page.off("close", this.#onBrowserGone);
      page.off("response", this.#onResponse);
      page.off("request", this.#onRequest);
      page.off("framenavigated", this.#onNavigated);
      this.#sandbox.close();
      const commandsStopped = this.#runner.stop();
      const telemetryStopped = this.#telemetry.stop();
      this.#capture.stop();
      await this.#relay.close();
      await closeBrowser(this.#launched);
      await Promise.allSettled([commandsStopped, telemetryStopped]);
      this.#ended.resolve({ reason });
    })();
    return this.#closing;
  }
}

/** The origin of a URL, or the URL itself when it has none (`about:blank`). */
function originOf(url: string): string {
  try {
    const origin = new URL(url).origin;
    return origin === "null" ? url : origin;
  } catch {
    return url;
  }
}
