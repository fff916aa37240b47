/**
 * The device conformance kit: drives any Passage device (the reference
 * device, an iOS App Clip, an Android app, the browser extension) through
 * the whole relay protocol against a real Passage server and a test
 * website, and reports what it passed.
 *
 * @example
 * ```ts ignore
 * import { externalDevice, runConformance } from "./mod.ts";
 * const report = await runConformance({ device: externalDevice({ name: "App Clip" }) });
 * Deno.exit(report.failed > 0 ? 1 : 0);
 * ```
 *
 * @module
 */
export { runConformance } from "./_run.ts";
export { checkNames } from "./_names.ts";
export { referenceDevice, type ReferenceDeviceOptions } from "./devices/reference.ts";
export { externalDevice, type ExternalDeviceOptions } from "./devices/external.ts";
export { extensionDevice, type ExtensionDeviceOptions } from "./devices/extension.ts";
export { pageHuman } from "./devices/page_human.ts";
export type {
  CheckResult,
  Claim,
  ConformanceOptions,
  ConformanceReport,
  DeviceUnderTest,
  Human,
  Outcome,
  RunningDevice,
} from "./_types.ts";
