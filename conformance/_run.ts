/**
 * `runConformance()`: opens the kit's world, starts the device under test on
 * its claim, runs every check in order and prints one line per check, then
 * the totals.
 *
 * @module
 */
import { type Check, Failed, Skipped } from "./_check.ts";
import { CHECKS, claimCheck } from "./_checks.ts";
import { type Kit, openKit } from "./_kit.ts";
import type { CheckResult, ConformanceOptions, ConformanceReport, Outcome } from "./_types.ts";

/** A check that does not involve the human has this long. */
const CHECK_MS = 60_000;

/**
 * Drives `options.device` through the whole protocol against a real Passage
 * server and the kit's website, printing `PASS name`, `FAIL name: why` or
 * `SKIP name: why` for each check and `N passed, M failed, K skipped` at the
 * end. Everything it opened is closed before it resolves.
 *
 * @example
 * ```ts ignore
 * import { referenceDevice, runConformance } from "./mod.ts";
 * const report = await runConformance({ device: referenceDevice() });
 * if (report.failed > 0) Deno.exit(1);
 * ```
 */
export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const print = options.print ?? ((line: string) => console.log(line));
  const results: CheckResult[] = [];
  const report = (result: CheckResult) => {
    results.push(result);
    const ms = `(${(result.ms / 1000).toFixed(1)} s)`;
    print(
      result.status === "pass"
        ? `PASS ${result.name} ${ms}`
        : `${result.status.toUpperCase()} ${result.name}: ${result.why}`,
    );
  };
  print(`Passage device conformance: ${options.device.name}`);
  const kit = await openKit(options);
  try {
    const claimed = await runCheck(kit, claimCheck, kit.connectTimeoutMs + 30_000);
    report(claimed);
    const selected = CHECKS.filter((check) =>
      !options.only || options.only.some((part) => check.name.includes(part))
    );
    for (const check of selected) {
      if (claimed.status !== "pass") {
        report({ name: check.name, status: "skip", why: "the device did not connect", ms: 0 });
        continue;
      }
      const limit = check.human ? kit.humanTimeoutMs + CHECK_MS : CHECK_MS;
      report(await runCheck(kit, check, limit));
    }
  } finally {
    await kit.close();
  }
  const count = (status: Outcome["status"]) => results.filter((r) => r.status === status).length;
  const summary: ConformanceReport = {
    device: options.device.name,
    results,
    passed: count("pass"),
    failed: count("fail"),
    skipped: count("skip"),
  };
  print(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
  return summary;
}

/** Runs one check within `limitMs`. */
async function runCheck(kit: Kit, check: Check, limitMs: number): Promise<CheckResult> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome: Outcome = await Promise.race([
    check.run(kit).then((): Outcome => ({ status: "pass" })),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Failed(`did not finish within ${Math.round(limitMs / 1000)} s`)),
        limitMs,
      );
    }),
  ]).catch((error): Outcome => {
    if (error instanceof Skipped) return { status: "skip", why: error.message };
    if (error instanceof Failed) return { status: "fail", why: error.message };
    return { status: "fail", why: error instanceof Error ? error.message : String(error) };
  }).finally(() => clearTimeout(timer));
  return { name: check.name, ...outcome, ms: performance.now() - started };
}
