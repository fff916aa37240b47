/**
 * The secrets the device keeps in memory, and only there, so it can scrub
 * them from everything it sends (the `secrets` rule). It holds everything
 * the device can see that authenticates:
 *
 * - the value of every password field, and of every field the human typed
 *   into during a yield (one-character code boxes joined into one value);
 * - every cookie value in the browser and in every `Set-Cookie` header;
 * - credential request headers (`Authorization`, `Cookie`, `X-…-Token`…);
 * - web storage values that authenticate (credential-named keys, tokens);
 * - token-shaped fields of the JSON the page receives (`access_token`,
 *   `refresh_token`, `jwt`, `session`, JWT and bearer shapes).
 *
 * @module
 */
import type { TelemetryEvent } from "@passage/connect/protocol";
import {
  credentialValuesIn,
  isCredentialName,
  MIN_SECRET_LENGTH,
  redactSecrets,
} from "@passage/connect/redact";
import type { CDPSession, HTTPRequest, HTTPResponse, Page } from "puppeteer-core";
import { readSecretValues } from "./_human_input.ts";
import { isRuleOn } from "./_rules.ts";
import type { Outcome } from "./_runner.ts";

/** Cookie values shorter than this are not treated as secrets ("1", "en-US"). */
export const MIN_COOKIE_LENGTH = 6;
/** Longer values are cut before they are remembered (a pasted novel is not a password). */
const MAX_SECRET_LENGTH = 10_000;
/** At most this many typed-field entries are kept (a page flooding the binding cannot grow memory). */
const MAX_TYPED_FIELDS = 10_000;
/** How long a cookie or page read may take before the device sends with what it knows. */
const READ_TIMEOUT_MS = 1000;
/** JSON bodies larger than this are not searched for tokens as they arrive. */
const MAX_SCANNED_BODY = 1024 * 1024;
/** Request headers whose values authenticate, besides `x-…-token`-like names. */
const CREDENTIAL_HEADERS = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "x-api-key",
  "x-csrf-token",
  "x-xsrf-token",
  "x-auth-token",
  "x-access-token",
  "x-session-id",
  "x-amz-security-token",
]);
/** A storage value shaped like a token: long, no spaces, letters and digits mixed. */
const TOKEN_SHAPE = /^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9._~+/=:-]{20,}$/;

/** One device's secrets. */
export class DeviceSecrets {
  /** The current value of each field the human types into, by field. */
  readonly #typed = new Map<string, string>();
  /** Passwords, cookie values, and typed values later shortened (a correction). */
  readonly #kept = new Set<string>();
  #list: string[] | null = [];

  /** The secrets known now. Never sent, never logged. */
  values(): string[] {
    this.#list ??= [...new Set([...this.#kept, ...this.#typed.values()])];
    return this.#list;
  }

  /** Remembers a field's value as the human types it. */
  noteTyped(field: string, value: string): void {
    const before = this.#typed.get(field);
    if (before === value) return;
    // each keystroke extends the value: keep only the latest, but remember a
    // value that was shortened (a correction), it may have been sent already
    if (before !== undefined && !value.startsWith(before)) this.#keep(before);
    if (value === "") this.#typed.delete(field);
    else if (this.#typed.has(field) || this.#typed.size < MAX_TYPED_FIELDS) {
      this.#typed.set(field, value.slice(0, MAX_SECRET_LENGTH));
    }
    this.#list = null;
  }

  /** Remembers a password or typed value read from the page. */
  noteValue(value: string): void {
    this.#keep(value);
  }

  /** Remembers a cookie value (when long enough to be one worth hiding). */
  noteCookie(value: string): void {
    if (value.length >= MIN_COOKIE_LENGTH) this.#keep(value);
  }

  /** Remembers the cookie values of a `Set-Cookie` header (lines joined by newlines). */
  noteSetCookie(header: string): void {
    for (const line of header.split("\n")) {
      const pair = line.split(";")[0];
      const eq = pair.indexOf("=");
      if (eq < 0) continue;
      this.noteCookie(pair.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1"));
    }
  }

  /** Remembers the credential headers of a request the page makes. */
  noteRequest(request: HTTPRequest): void {
    for (const [name, value] of Object.entries(request.headers())) {
      const lower = name.toLowerCase();
      if (lower === "cookie") {
        for (const pair of value.split(";")) {
          this.noteCookie(pair.slice(pair.indexOf("=") + 1).trim());
        }
      } else if (
        CREDENTIAL_HEADERS.has(lower) || (lower.startsWith("x-") && isCredentialName(lower))
      ) {
        this.#keep(value);
        // `Bearer abc…`, `Basic …`: the credential alone too
        const space = value.indexOf(" ");
        if (space > 0) this.#keep(value.slice(space + 1).trim());
      }
    }
  }

  /** Remembers what a response sets: its cookies, and the tokens of a JSON body. */
  noteResponse(response: HTTPResponse): void {
    const headers = response.headers();
    if (headers["set-cookie"]) this.noteSetCookie(headers["set-cookie"]);
    const type = response.request().resourceType();
    if ((type !== "xhr" && type !== "fetch" && type !== "document") || !isJson(headers)) return;
    const length = Number(headers["content-length"] ?? 0);
    if (length > MAX_SCANNED_BODY) return;
    this.#pending.add(
      response.text().then((body) => this.noteBody(body, "application/json"), () => {}),
    );
  }

  /** Remembers the token-shaped fields of a body (JSON) the device read. */
  noteBody(body: string, contentType: string): void {
    if (!/json/i.test(contentType) && !/^\s*[{[]/.test(body)) return;
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return;
    }
    for (const value of credentialValuesIn(json)) this.#keep(value);
  }

  /**
   * Reads the main frame's `localStorage` and `sessionStorage` through CDP's
   * isolated world and remembers the values that authenticate: those under a
   * credential-named key, token-shaped ones, and credential fields of JSON
   * values.
   */
  async refreshStorage(cdp: CDPSession): Promise<void> {
    const entries = await withTimeout(readStorage(cdp), READ_TIMEOUT_MS).catch(() => []);
    for (const [key, value] of entries) {
      if (isCredentialName(key) || TOKEN_SHAPE.test(value)) this.#keep(value);
      this.noteBody(value, "");
    }
  }

  /** Waits for the bodies still being searched for tokens (at most `READ_TIMEOUT_MS`). */
  async settle(): Promise<void> {
    if (this.#pending.size === 0) return;
    const pending = [...this.#pending];
    this.#pending.clear();
    await withTimeout(Promise.allSettled(pending), READ_TIMEOUT_MS).catch(() => {});
  }

  readonly #pending = new Set<Promise<void>>();

  /** Reads every cookie the host's browser holds (HttpOnly ones included). */
  async refreshCookies(host: { cookieValues(): Promise<string[]> }): Promise<void> {
    const values = await withTimeout(host.cookieValues(), READ_TIMEOUT_MS).catch(() => []);
    for (const value of values) this.noteCookie(value);
  }

  /** Reads the values of password fields and human-typed fields in every frame. */
  async refreshPage(page: Page): Promise<void> {
    if (page.isClosed()) return;
    const values = await withTimeout(readSecretValues(page), READ_TIMEOUT_MS).catch(() => []);
    for (const value of values) this.noteValue(value);
  }

  /** `value` with every secret replaced by `[REDACTED]` (under the `secrets` rule). */
  redact<T>(value: T): T {
    if (!isRuleOn("secrets")) return value;
    return redactSecrets(value, this.values()) as T;
  }

  /** A telemetry event as it may leave the device. Screenshot pixels are left alone. */
  redactEvent(event: TelemetryEvent): TelemetryEvent {
    if (event.kind === "screenshot") {
      return { ...this.redact({ ...event, data: "" }), data: event.data };
    }
    return this.redact(event);
  }

  /** A command's outcome as it may leave the device. Screenshot pixels are left alone. */
  redactOutcome(name: string, outcome: Outcome): Outcome {
    if (outcome.ok && name === "screenshot") {
      const value = outcome.value as { data?: unknown };
      return { ok: true, value: { ...this.redact({ ...value, data: "" }), data: value.data } };
    }
    return this.redact(outcome);
  }

  #keep(value: string): void {
    if (value.length < MIN_SECRET_LENGTH) return;
    const cut = value.slice(0, MAX_SECRET_LENGTH);
    if (this.#kept.has(cut)) return;
    this.#kept.add(cut);
    this.#list = null;
  }
}

function isJson(headers: Record<string, string>): boolean {
  return /json/i.test(headers["content-type"] ?? "");
}

/**
 * The isolated world storage is read in. Chromium keeps one world per frame
 * and name, so every read of one document reuses the same world (a name per
 * read made a new JavaScript context in the page every time, never freed
 * until it navigated).
 */
const STORAGE_WORLD = "passage-storage";
let storageReads = 0;
/** The main frame's id by CDP session: it stays the tab's across navigations. */
const mainFrameIds = new WeakMap<CDPSession, string>();

/** The main frame's web storage entries, read in an isolated world the page cannot touch. */
async function readStorage(cdp: CDPSession): Promise<Array<[string, string]>> {
  const group = `${STORAGE_WORLD}-${++storageReads}`;
  try {
    const world = async (frameId: string) =>
      (await cdp.send("Page.createIsolatedWorld", { frameId, worldName: STORAGE_WORLD }))
        .executionContextId;
    let executionContextId;
    const known = mainFrameIds.get(cdp);
    try {
      if (known === undefined) throw new Error("main frame not known yet");
      executionContextId = await world(known);
    } catch {
      const { frameTree } = await cdp.send("Page.getFrameTree");
      mainFrameIds.set(cdp, frameTree.frame.id);
      executionContextId = await world(frameTree.frame.id);
    }
    const { result } = await cdp.send("Runtime.evaluate", {
      expression: `(() => { const out = []; for (const s of ["localStorage", "sessionStorage"]) {
        try { const st = globalThis[s]; for (let i = 0; i < st.length; i++) { const k = st.key(i);
        out.push([k, st.getItem(k) ?? ""]); } } catch {} } return out; })()`,
      contextId: executionContextId,
      returnByValue: true,
      objectGroup: group,
    });
    return Array.isArray(result.value) ? result.value as Array<[string, string]> : [];
  } finally {
    // nothing waits on the release (a value, not a handle, came back)
    cdp.send("Runtime.releaseObjectGroup", { objectGroup: group }).catch(() => {});
  }
}

/** `promise`, or a rejection after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  promise.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
