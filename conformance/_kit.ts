/**
 * The world a run happens in: a Passage server, the kit's website and its
 * unreachable target, a Sessions API session held to the website, the SDK
 * controller on it, a raw recorder of everything the controller side
 * receives, and the device under test on the session's claim.
 *
 * @module
 */
import { type Browser, Passage, type Session, type TelemetryEvent } from "@passage/connect";
import type { Commands } from "@passage/connect/protocol";
import { ControllerRecorder, recordingBrowser } from "./_recorder.ts";
import { type PassageServer, startPassage } from "./_server.ts";
import type { ConformanceOptions, DeviceUnderTest, Human, RunningDevice } from "./_types.ts";
import { type KitServer, type Site, startSite, startTarget } from "./fixtures/site.ts";

/** The values that must never reach the controller side. */
export interface Canaries {
  /** The password the human logs in with. */
  password: string;
  /** What the human types into an ordinary field. */
  typed: string;
  /** The value of a cookie the website sets. */
  cookie: string;
}

/** What the checks share. */
export interface Kit {
  /** The SDK controller (every answer it gets is recorded). */
  browser: Browser;
  server: PassageServer;
  site: Site;
  /** A server the device must never reach. */
  target: KitServer;
  sessionId: string;
  /** The session's claim page URL and code, for the device. */
  claim: { url: string; code: string };
  passage: Passage;
  device: DeviceUnderTest;
  /** Set once the device has started. */
  running: RunningDevice | null;
  /** How long the human has for one turn. */
  humanTimeoutMs: number;
  /** How long the device has to claim the code and connect. */
  connectTimeoutMs: number;
  canaries: Canaries;
  /** Telemetry the controller received, in order. */
  telemetry: TelemetryEvent[];
  /** Every raw frame a controller of the session received, from its first event. */
  recorder: ControllerRecorder;
  /** Every value and error the SDK handed the kit, as text. */
  received: string[];
  /** What earlier checks learned. */
  state: {
    /** The login's yield result (`networkRequest` with `captureBody`), once the human logged in. */
    login?: Commands["yieldToUser"]["result"];
    /** Whether the human typed into `#nickname` on `/widgets` (and that page is still open). */
    typedNickname?: boolean;
  };
  /** The running device's human (fails when the device has not started). */
  human(): Human;
  /** Resolves with the first telemetry event at index `from` or later matching `match`. */
  nextTelemetry(
    match: (event: TelemetryEvent) => boolean,
    options: { from?: number; ms?: number; what: string; signal?: AbortSignal },
  ): Promise<TelemetryEvent>;
  /** The session as the API answers it now. */
  session(): Promise<Session>;
  close(): Promise<void>;
}

/** Opens the world for `options.device`, without starting the device yet. */
export async function openKit(options: ConformanceOptions): Promise<Kit> {
  const net = { hostname: options.hostname, publicHost: options.publicHost };
  const canaries: Canaries = {
    password: `pw-${randomWord(10)}`,
    typed: `nick-${randomWord(10)}`,
    cookie: `pref-${randomWord(16)}`,
  };
  const opened: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of opened.splice(0).reverse()) await close().catch(() => {});
  };
  try {
    const server = await startPassage(net);
    opened.push(server.close);
    const site = await startSite({
      ...net,
      password: canaries.password,
      cookieValue: canaries.cookie,
    });
    opened.push(site.close);
    const target = await startTarget(net);
    opened.push(target.close);
    const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
    const session = await passage.sessions.create({
      allowedOrigins: [site.url],
      appName: "Passage device conformance",
    });
    opened.push(() => passage.sessions.end(session.id).then(() => {}));
    const recorder = new ControllerRecorder(server.url, session.id, server.apiKey);
    opened.push(() => recorder.close());
    const received: string[] = [];
    const sdk = await session.connect();
    opened.push(() => sdk.close());
    const telemetry: TelemetryEvent[] = [];
    let waiters: Array<() => void> = [];
    sdk.onTelemetry((event) => {
      telemetry.push(event);
      for (const poke of [...waiters]) poke();
    });
    const kit: Kit = {
      browser: recordingBrowser(sdk, received),
      server,
      site,
      target,
      sessionId: session.id,
      claim: { url: session.appClipUrl!, code: session.claimCode! },
      passage,
      device: options.device,
      running: null,
      humanTimeoutMs: options.device.humanTimeoutMs ?? 60_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 60_000,
      canaries,
      telemetry,
      recorder,
      received,
      state: {},
      human() {
        if (kit.running === null) throw new Error("The device has not started");
        return kit.running.human;
      },
      nextTelemetry(match, { from = 0, ms = 15_000, what, signal }) {
        return new Promise((resolve, reject) => {
          const done = () => {
            clearTimeout(timer);
            waiters = waiters.filter((w) => w !== poke);
            signal?.removeEventListener("abort", onAbort);
          };
          const onAbort = () => {
            done();
            reject(new Error(`stopped waiting for ${what} telemetry`));
          };
          signal?.addEventListener("abort", onAbort);
          const poke = () => {
            const found = telemetry.slice(from).find(match);
            if (found) {
              done();
              resolve(found);
            }
          };
          const timer = setTimeout(() => {
            done();
            reject(new Error(`no ${what} telemetry within ${ms} ms`));
          }, ms);
          waiters.push(poke);
          poke();
        });
      },
      async session() {
        return (await passage.sessions.get(session.id)).data;
      },
      async close() {
        const device = kit.running;
        kit.running = null;
        // the device first, while the server it talks to is up
        if (device) await device.close().catch(() => {});
        await closeAll();
      },
    };
    return kit;
  } catch (error) {
    await closeAll();
    throw error;
  }
}

function randomWord(length: number): string {
  const alphabet = "abcdefghjkmnpqrstuvwxyz23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}
