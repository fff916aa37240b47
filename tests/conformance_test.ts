/**
 * The device conformance kit (`conformance/`) against the reference device on
 * one real headless Chromium: every check passes; and with a device rule
 * switched off, the checks that rule answers for fail, so the kit can fail.
 */
import assert from "node:assert/strict";
import { launchChromium } from "../device/mod.ts";
import { disableRuleForTests, restoreRulesForTests } from "../device/_rules.ts";
import {
  checkNames,
  type ConformanceReport,
  referenceDevice,
  runConformance,
} from "../conformance/mod.ts";

/** What each check ended with, by name. */
function statuses(report: ConformanceReport): Map<string, string> {
  return new Map(report.results.map((r) => [r.name, r.status]));
}

Deno.test("the conformance kit passes the reference device, and fails it with a rule switched off", async (t) => {
  const chromium = await launchChromium();
  try {
    await t.step("every check passes on the reference device", async () => {
      const lines: string[] = [];
      const report = await runConformance({
        device: referenceDevice({ browser: chromium }),
        print: (line) => lines.push(line),
      });
      const failures = report.results.filter((r) => r.status !== "pass");
      assert.deepEqual(failures, [], lines.join("\n"));
      assert.deepEqual(report.results.map((r) => r.name), checkNames());
      assert.ok(report.passed >= 40, `only ${report.passed} checks`);
      assert.equal(lines.at(-1), `${report.passed} passed, 0 failed, 0 skipped`);
      assert.ok(lines.slice(1, -1).every((line) => line.startsWith("PASS ")), lines.join("\n"));
    });

    await t.step("without the origins rule, the origin checks fail", async () => {
      const lines: string[] = [];
      let report: ConformanceReport;
      disableRuleForTests("origins");
      try {
        report = await runConformance({
          device: referenceDevice({ browser: chromium }),
          only: ["origins:"],
          print: (line) => lines.push(line),
        });
      } finally {
        restoreRulesForTests();
      }
      const by = statuses(report);
      assert.equal(by.size, 3, lines.join("\n"));
      assert.equal(by.get("claim: the device claims the code and the server welcomes it"), "pass");
      for (const [name, status] of by) {
        if (name.startsWith("origins:")) {
          assert.equal(status, "fail", `${name}\n${lines.join("\n")}`);
        }
      }
      assert.equal(report.failed, 2);
      assert.match(
        lines.join("\n"),
        /^FAIL origins: navigating to an origin .*: navigate to another origin/m,
      );
      assert.match(lines.at(-1)!, /^1 passed, 2 failed, 0 skipped$/);
    });

    await t.step(
      "without the snapshot and secrets rules, evaluate reads a cookie and the canary scan finds it",
      async () => {
        const lines: string[] = [];
        let report: ConformanceReport;
        disableRuleForTests("snapshot");
        disableRuleForTests("secrets");
        try {
          report = await runConformance({
            device: referenceDevice({ browser: chromium }),
            only: ["document.cookie", "reaches the controller"],
            print: (line) => lines.push(line),
          });
        } finally {
          restoreRulesForTests();
        }
        const by = statuses(report);
        assert.equal(by.get("evaluate: document.cookie is empty"), "fail", lines.join("\n"));
        assert.equal(
          by.get(
            "privacy: no password, typed value, cookie or session token reaches the controller",
          ),
          "fail",
          lines.join("\n"),
        );
        assert.match(lines.join("\n"), /FAIL privacy: .*: the page's cookie in/);
      },
    );
  } finally {
    await chromium.close();
  }
});
