/**
 * The shapes of the conformance kit: the device under test, the human who
 * plays the user on it, and what a run reports.
 *
 * @module
 */

/** What the kit hands the device under test: the claim, and where it may go. */
export interface Claim {
  /** The claim page URL (`appClipUrl`), what a phone opens. */
  url: string;
  /** The claim code, `K7QD2-9XW4M`. */
  code: string;
  /** The Passage server's base URL. */
  server: string;
  /**
   * Origins the device must allow although they are on loopback or a
   * private network: the kit's website.
   */
  allowPrivateOrigins: string[];
}

/**
 * How the kit plays the user while the device has handed them control
 * (`yieldToUser`). Selectors are CSS on the kit's own website; `what` names
 * the element in plain words ("the username field") for a person.
 */
export interface Human {
  /** Types `text` into the element `selector` matches, as a person would. */
  type(selector: string, text: string, what?: string): Promise<void>;
  /** Clicks (taps) the element `selector` matches. */
  click(selector: string, what?: string): Promise<void>;
  /** Waits until an element matching `selector` is on the page. */
  waitFor(selector: string, what?: string): Promise<void>;
}

/** A device the kit has started on a claim. */
export interface RunningDevice {
  /** How the kit acts as the user on this device. */
  human: Human;
  /**
   * Cuts the device's socket like a network failure; the device must
   * reconnect and resume. Without it, the reconnect checks are skipped.
   */
  dropConnection?(): void;
  /** Stops the device and closes what it opened. */
  close(): Promise<void>;
}

/** A device implementation the kit can drive. */
export interface DeviceUnderTest {
  /** What the report calls it (`reference device`, `App Clip 1.2 on iPhone`). */
  name: string;
  /**
   * Starts the device on `claim`. May resolve before the device has
   * connected: the kit waits for the server to see it.
   */
  start(claim: Claim): Promise<RunningDevice>;
  /**
   * How long the human may take for one turn (default 60 s; a person
   * needs more).
   */
  humanTimeoutMs?: number;
}

/** How one check ended. */
export type Outcome =
  | { status: "pass" }
  | { status: "fail"; why: string }
  | { status: "skip"; why: string };

/** One check's result, as printed. */
export type CheckResult = Outcome & { name: string; ms: number };

/** What a run found. */
export interface ConformanceReport {
  device: string;
  results: CheckResult[];
  passed: number;
  failed: number;
  skipped: number;
}

/** Options of `runConformance()`. */
export interface ConformanceOptions {
  /** The device under test. */
  device: DeviceUnderTest;
  /**
   * Runs only the checks whose name contains one of these strings (the
   * claim always runs: every other check needs it).
   */
  only?: string[];
  /** Receives each printed line (default `console.log`). */
  print?: (line: string) => void;
  /** The address the kit's servers listen on (default 127.0.0.1). */
  hostname?: string;
  /**
   * The host name the device reaches the kit's servers by (default
   * `hostname`): a LAN address when the device is a phone.
   */
  publicHost?: string;
  /** How long the device has to claim the code and connect (default 60 s). */
  connectTimeoutMs?: number;
}
