/**
 * The device's redaction rules, by name. Every redaction the device makes
 * asks {@link isRuleOn} first:
 *
 * - `secrets`: every password value, every value the human typed during a
 *   yield and every cookie value is replaced with `[REDACTED]` in everything
 *   the device sends (results, errors, telemetry) and logs.
 * - `urls`: credential-looking query and fragment parameters are masked in
 *   every URL the device sends, and in URLs inside error and console text.
 * - `screenshots`: screenshots taken while the human has control hide the
 *   text of every input.
 * - `telemetryFields`: telemetry never carries headers, cookies or request
 *   bodies. Switched off (tests only), request events gain `headers` and
 *   `postData` and response events gain `headers`, Set-Cookie included.
 * - `snapshot`: the controller's reads never touch the live page. When a
 *   yield ends, password fields and the fields the human typed into are
 *   emptied; `innerHTML`, `textContent` and `getAttribute` read a copy of the
 *   element made through CDP with credentials left out (`_snapshot.ts`); and
 *   `evaluate` runs over such a copy of the whole document in a Worker with
 *   no permissions (`_sandbox.ts`). Switched off (tests only), fields keep
 *   their values, reads use the live DOM and `evaluate` runs in the page's
 *   world.
 * - `origins`: the top page may only load the session's allowed origins, and
 *   nothing the page loads may reach loopback, private-network or link-local
 *   addresses unless the device's operator allowed that origin
 *   (`_origin_guard.ts`).
 *
 * A rule can be switched off only from a test: {@link disableRuleForTests}
 * and {@link restoreRulesForTests} throw unless the main module is a test file
 * (`*_test.ts` under `deno test`). A running device (`deno task device`,
 * `deno run`) cannot turn a rule off: there is no option, flag or environment
 * variable for it, and the state is private to this module.
 *
 * @module
 */

/** The name of a device redaction rule. */
export type RuleName =
  | "secrets"
  | "urls"
  | "screenshots"
  | "telemetryFields"
  | "snapshot"
  | "origins";

/** Every rule. */
export const RULE_NAMES: readonly RuleName[] = [
  "secrets",
  "urls",
  "screenshots",
  "telemetryFields",
  "snapshot",
  "origins",
];

const off = new Set<RuleName>();

/** Whether a rule is in force: always, except in a test that switched it off. */
export function isRuleOn(name: RuleName): boolean {
  return !off.has(name);
}

/** Throws unless the running program is a test file. */
function assertTest(what: string): void {
  let main = "";
  try {
    main = Deno.mainModule;
  } catch {
    // no main module: not a test
  }
  if (!/_test\.[cm]?[jt]sx?$/.test(main)) {
    throw new Error(
      `${what} is only allowed in tests: the main module ${
        JSON.stringify(main)
      } is not a test file`,
    );
  }
}

/**
 * Switches a rule off, for a test that proves the rule matters. Throws unless
 * the main module is a test file. Pair it with {@link restoreRulesForTests}
 * in a `finally`.
 */
export function disableRuleForTests(name: RuleName): void {
  assertTest(`Switching off the redaction rule ${JSON.stringify(name)}`);
  if (!RULE_NAMES.includes(name)) {
    throw new Error(`Unknown redaction rule ${JSON.stringify(name)}`);
  }
  off.add(name);
}

/** Switches every rule back on. Throws unless the main module is a test file. */
export function restoreRulesForTests(): void {
  assertTest("Restoring the redaction rules");
  off.clear();
}
