/**
 * The device core: every rule of the device, over a puppeteer `Page` that a
 * host provides (`_start.ts`: a Chromium the device launches; `extension/`:
 * a tab of the user's own browser through `chrome.debugger`). `runDevice()`
 * joins a claimed session's relay socket and runs the server's commands
 * until the session ends. Nothing here touches Deno or the extension APIs:
 * what differs between hosts comes in through {@link DeviceHost} and
 * {@link DevicePlatform}.
 *
 * @module
 */
import type { Commands, TelemetryEvent } from "@passage/connect/protocol";
import type { DeviceClaim } from "@passage/connect/schemas";
import type { Browser, CDPSession, Frame, HTTPRequest, HTTPResponse, Page } from "puppeteer-core";
import { ResponseCapture } from "./_capture.ts";
import { type CommandContext, createHandlers } from "./_commands.ts";
import { clearSecretValues, HumanInput, typedFieldIds } from "./_human_input.ts";
import { type Find, type FindEach, finder, finderEach, type LocateDeps } from "./_locate.ts";
import { OriginGuard } from "./_origin_guard.ts";
import { type ConnectSocket, RelayConnection } from "./_relay.ts";
import { isRuleOn } from "./_rules.ts";
import type { EvaluateSandbox } from "./_sandbox.ts";
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

/** The browser tab a device runs in, as its host gives it. */
export interface DeviceHost {
  page: Page;
  /** A CDP session on the page, for what puppeteer has no API for. */
  cdp: CDPSession;
  /** The value of every cookie the page's browser holds for the sites it visits. */
  cookieValues(): Promise<string[]>;
  /** Calls `listener` when the browser or the tab goes away; returns an unsubscribe. */
  onGone(listener: () => void): () => void;
  /** Closes the tab (and the browser, when the host launched one). */
  close(): Promise<void>;
}

/** What a host's platform provides the device. */
export interface DevicePlatform {
  /** Opens the relay WebSocket. */
  connectSocket: ConnectSocket;
  /** Where `evaluate` runs: a sandbox with no network and no path back to the page. */
  sandbox: EvaluateSandbox;
  /**
   * Resolves a host name to its addresses, so names pointing into the
   * private network are refused too; null where the platform cannot (only
   * IP literals and `localhost` are then checked).
   */
  resolveDns: ((host: string) => Promise<string[]>) | null;
  /** Says something to the human outside the page (a terminal line, the extension's bar). */
  say?: (line: string) => void;
  /** What the device tells the server it is (unverified; default: the reference device). */
  client?: { name: string; version: string };
}

/** What {@link runDevice} needs. */
export interface RunDeviceOptions extends Pick<DeviceOptions, "onStatus" | "allowPrivateOrigins"> {
  server: string;
  claim: DeviceClaim;
  host: DeviceHost;
  platform: DevicePlatform;
  secrets: DeviceSecrets;
  /** Already scrubbed of the device's secrets. */
  log: (line: string) => void;
}

/**
 * Runs a claimed session on `host` until it ends. Resolves once the server
 * has welcomed the device; on failure the host is closed.
 */
export async function runDevice(options: RunDeviceOptions): Promise<DeviceHandle> {
  const device = new Device(options);
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
  readonly #host: DeviceHost;
  readonly #platform: DevicePlatform;
  readonly #options: RunDeviceOptions;
  readonly #log: (line: string) => void;
  readonly #relay: RelayConnection;
  readonly #runner: CommandRunner;
  readonly #telemetry: PageTelemetry;
  readonly #capture: ResponseCapture;
  readonly #human: HumanInput;
  readonly #secrets: DeviceSecrets;
  readonly #guard: OriginGuard;
  readonly #sandbox: EvaluateSandbox;
  #offGone: () => void = () => {};
  /** What the human was asked, while they have control. */
  #asked: { heading?: string; subheading?: string } | null = null;
  /** Telemetry waiting to be scrubbed and sent, in order. */
  readonly #outbox: TelemetryEvent[] = [];
  #sending: Promise<void> | null = null;
  readonly #ended = Promise.withResolvers<{ reason: string }>();
  #humanHasControl = false;
  #closing: Promise<void> | null = null;

  constructor(options: RunDeviceOptions) {
    const { server, claim, host, platform, secrets, log } = options;
    const { page, cdp } = host;
    this.#host = host;
    this.#platform = platform;
    this.#sandbox = platform.sandbox;
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
      resolveDns: platform.resolveDns,
    }, log);
    this.#relay = new RelayConnection({
      connect: platform.connectSocket,
      url: socketUrl(server),
      token: claim.deviceToken,
      client: platform.client,
      log,
      onCommand: (command) => this.#runner.receive(command),
      onEnd: (reason) => void this.#shutdown(reason),
    });
    this.#capture = new ResponseCapture(page, log);
    this.#human = new HumanInput(page, (field, value) => secrets.noteTyped(field, value));
    this.#runner = new CommandRunner(
      createHandlers({
        page,
        cdp,
        capture: this.#capture,
        sandbox: this.#sandbox,
        noteBody: (body, contentType) => secrets.noteBody(body, contentType),
        lastRefusal: () => this.#guard.lastRefusal,
        refuseTop: (url) => this.#guard.refuseTop(url),
        secretsNow: this.#secretsNow,
        find: this.#find,
        yieldToUser: (params, ctx) => this.#yieldToUser(params, ctx),
      }),
      this.#relay,
      log,
      (name, outcome) => this.#safeOutcome(name, outcome),
    );
    this.#telemetry = new PageTelemetry(page, {
      cdp,
      emit: (event) => this.#event(event),
      humanHasControl: () => this.#humanHasControl,
      log,
    });
    this.#offGone = host.onGone(this.#onBrowserGone);
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

  #secretsNow = async (): Promise<readonly string[]> => {
    await this.#refreshSecrets();
    return isRuleOn("secrets") ? this.#secrets.values() : [];
  };

  /** Selectors are matched on the scrubbed copy of the document (`_locate.ts`). */
  #locateDeps = (): LocateDeps => ({
    page: this.#host.page,
    cdp: this.#host.cdp,
    typed: () => typedFieldIds(this.#host.page),
    secrets: this.#secretsNow,
  });

  #find: Find = (selector, command) => finder(this.#locateDeps())(selector, command);

  #findEach: FindEach = (selectors, command) => finderEach(this.#locateDeps())(selectors, command);

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
    const { page, cdp } = this.#host;
    await Promise.all([
      this.#secrets.refreshCookies(this.#host),
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
      return await waitForConditions(this.handle.page, params, ctx.signal, this.#findEach);
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
    const { page, cdp } = this.#host;
    try {
      while (this.#outbox.length > 0) {
        // take the batch first: every event in it was queued before the secrets are read
        const batch = this.#outbox.splice(0);
        // cookies can change with any response; fields only while the human types
        await Promise.all([
          this.#secrets.refreshCookies(this.#host),
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
    const say = this.#platform.say;
    if (say) {
      // outside the page, where the controller cannot write: whose turn, and where
      say(this.#secrets.redact(
        status
          ? `>>> Your turn, on ${status.origin}: ${
            [status.heading, status.subheading].filter(Boolean).join(" — ") ||
            "continue in the browser window"
          }`
          : ">>> Thanks, the automation continues",
      ));
    }
  }

  #shutdown(reason: string): Promise<void> {
    this.#closing ??= (async () => {
      this.#log(`closing: ${reason}`);
      const { page } = this.#host;
      this.#offGone();
      page.off("response", this.#onResponse);
      page.off("request", this.#onRequest);
      page.off("framenavigated", this.#onNavigated);
      this.#sandbox.close();
      const commandsStopped = this.#runner.stop();
      const telemetryStopped = this.#telemetry.stop();
      this.#capture.stop();
      await this.#relay.close();
      await this.#host.close();
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
