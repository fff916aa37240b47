/**
 * The READMEs' SDK examples type-check against the SDK: the repository
 * README's `@passage/connect` section (its blocks in order, as one program)
 * and `connect/README.md`, whose example reads a typed `billing.amountDue`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

async function check(args: string[]): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

Deno.test("the README's @passage/connect example type-checks against the SDK", async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const section = readme.split(/^## /m).find((s) => s.startsWith("From TypeScript"));
  assert.ok(section, "README.md has a section From TypeScript");
  const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 1);
  assert.match(blocks[0], /billing\.amountDue/);
  const file = `${ROOT}tests/.readme_example_check.ts`;
  await Deno.writeTextFile(file, blocks.join("\n"));
  try {
    await check([file]);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("connect/README.md's example type-checks, typed results included", async () => {
  await check(["--doc-only", "connect/README.md"]);
});
