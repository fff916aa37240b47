/**
 * What a check is, and the few ways it says how it went: it returns to
 * pass, or throws through {@link fail} or {@link skip}.
 *
 * @module
 */
import { BrowserCommandError } from "@passage/connect";
import type { Kit } from "./_kit.ts";

/** One conformance check. */
export interface Check {
  /** Printed after PASS, FAIL or SKIP; `area: what the device does`. */
  name: string;
  /** Passes by returning; fails by throwing (see {@link fail}), skips through {@link skip}. */
  run(kit: Kit): Promise<void>;
  /** Whether the human acts in it (its time limit grows with the human's). */
  human?: boolean;
}

/** Thrown by {@link skip}. */
export class Skipped extends Error {}

/** Thrown by {@link fail}. */
export class Failed extends Error {}

/** Ends the check as failed, with why. */
export function fail(why: string): never {
  throw new Failed(why);
}

/** Ends the check as skipped, with why. */
export function skip(why: string): never {
  throw new Skipped(why);
}

/** Fails with `why` unless `condition` holds. */
export function expect(condition: unknown, why: string): asserts condition {
  if (!condition) fail(why);
}

/** A value, shortened for a failure message. */
export function show(value: unknown): string {
  const text = typeof value === "string"
    ? JSON.stringify(value)
    : JSON.stringify(value) ?? "undefined";
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * Fails unless `run` rejects with a command error whose code is one of
 * `codes`; `what` says what was tried.
 */
export async function expectRefusal(
  what: string,
  codes: readonly string[],
  run: () => Promise<unknown>,
): Promise<BrowserCommandError> {
  let value: unknown;
  try {
    value = await run();
  } catch (error) {
    if (error instanceof BrowserCommandError && codes.includes(error.code)) return error;
    fail(`${what}: expected ${codes.join(" or ")}, got ${String(error)}`);
  }
  fail(`${what}: expected ${codes.join(" or ")}, but it answered ${show(value)}`);
}

/** The command error's code, or null when it is not one. */
export function codeOf(error: unknown): string | null {
  return error instanceof BrowserCommandError ? error.code : null;
}
