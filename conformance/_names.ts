/**
 * `checkNames()`: what a run checks, in order.
 *
 * @module
 */
import { CHECKS, claimCheck } from "./_checks.ts";

/** The name of every check, in the order a run takes them. */
export function checkNames(): string[] {
  return [claimCheck, ...CHECKS].map((check) => check.name);
}
