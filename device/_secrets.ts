/**
 * The secrets the device keeps in memory, and only there, so it can scrub
 * them from everything it sends (the `secrets` rule): the value of every
 * password field it has seen, of every field the human typed into during a
 * yield, and of every cookie in the browser.
 *
 * @module
 */
import type { TelemetryEvent } from "@passage/connect/protocol";
import { MIN_SECRET_LENGTH, redactSecrets } from "@passage/connect/redact";
import type { BrowserContext, Page } from "puppeteer-core";
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

  /** Reads every cookie of the browser context (HttpOnly ones included). */
  async refreshCookies(context: BrowserContext): Promise<void> {
    const cookies = await withTimeout(context.cookies(), READ_TIMEOUT_MS).catch(() => []);
    for (const cookie of cookies) this.noteCookie(cookie.value);
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
