/**
 * The `@example`s of the SDK's schema modules run, not only type-check:
 * `results.ts`, `schemas.ts` and `_schema.ts` need no server, so each example
 * that parses a value proves the value is one the schema accepts. (`deno task
 * doc:lint` type-checks every example of the package; the others call a
 * server, so they are checked, not run.)
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const PURE = ["connect/results.ts", "connect/schemas.ts", "connect/_schema.ts"];

Deno.test("the schema modules' examples type-check and run", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--doc", "--quiet", ...PURE],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  // One test per ```ts block: every example ran, none was skipped or missed.
  let blocks = 0;
  for (const file of PURE) {
    blocks += (await Deno.readTextFile(`${ROOT}${file}`)).match(/^\s*\* ```ts$/gm)?.length ?? 0;
  }
  assert.ok(blocks > 0);
  assert.match(text, new RegExp(`ok \\| ${blocks} passed \\| 0 failed`), text);
});
