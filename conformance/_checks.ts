/**
 * Every check, in the order a run takes them: each area sets up the page it
 * needs, but the refusals on typed fields follow the yield that typed, and
 * the scan for canaries comes last, over everything before it.
 *
 * @module
 */
import type { Check } from "./_check.ts";
import { captureChecks } from "./checks/capture.ts";
import { claimCheck } from "./checks/claim.ts";
import { inputChecks } from "./checks/input.ts";
import { navigationChecks } from "./checks/navigation.ts";
import { privacyChecks } from "./checks/privacy.ts";
import { readChecks } from "./checks/reads.ts";
import { reconnectChecks } from "./checks/reconnect.ts";
import { refusalChecks } from "./checks/refusals.ts";
import { sandboxChecks } from "./checks/sandbox.ts";
import { telemetryChecks } from "./checks/telemetry.ts";
import { waitChecks } from "./checks/waits.ts";
import { urlYieldCheck, yieldChecks } from "./checks/yield.ts";

export { claimCheck };

/** The checks after the claim, in order. */
export const CHECKS: readonly Check[] = [
  ...navigationChecks,
  ...inputChecks,
  ...waitChecks,
  ...readChecks,
  ...sandboxChecks,
  ...captureChecks,
  ...yieldChecks,
  ...refusalChecks,
  urlYieldCheck,
  ...telemetryChecks,
  ...reconnectChecks,
  ...privacyChecks,
];
