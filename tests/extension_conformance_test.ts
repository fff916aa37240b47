/**
 * The device conformance kit against the browser extension: the same checks
 * as the reference device passes, on its own Chromium (the extension is built
 * for the kit's server before Chromium loads it). The extension cannot cut its
 * socket like a network, so only the reconnect checks are skipped.
 */
import assert from "node:assert/strict";
import { extensionDevice, runConformance } from "../conformance/mod.ts";

Deno.test("the browser extension passes the device conformance kit", async () => {
  const lines: string[] = [];
  const report = await runConformance({
    device: extensionDevice(),
    print: (line) => lines.push(line),
  });
  const failed = report.results.filter((r) => r.status === "fail");
  assert.deepEqual(failed, [], lines.join("\n"));
  const skipped = report.results.filter((r) => r.status === "skip").map((r) => r.name);
  assert.ok(skipped.every((name) => name.startsWith("reconnect")), skipped.join("\n"));
  assert.ok(report.passed >= 35, lines.join("\n"));
});
