/**
 * Builds `@passage/connect` for npm into `connect/npm/` (ignored by git):
 * the sources compiled by TypeScript's own compiler (from npm) to ES modules
 * with `.d.ts` beside them, a `package.json` whose `exports` mirror
 * `deno.json`'s, and `npm pack`'s tarball. Runs on Node 20+; on Node 20 a
 * session needs a WebSocket class passed in (`ws`).
 *
 * ```sh
 * deno task npm:build   # prints the tarball's path last
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const TYPESCRIPT = "5.9.3";
const here = fileURLToPath(new URL(".", import.meta.url));
const out = join(here, "npm");

async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const res = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(res.stdout);
  if (!res.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed:\n${text}${new TextDecoder().decode(res.stderr)}`,
    );
  }
  return text;
}

/** The npm version range of `name` in `deno.json`'s `npm:` import. */
function npmRange(imports: Record<string, string>, name: string): string {
  const spec = imports[name];
  const match = spec?.match(/^npm:(?:@[^/]+\/)?[^@]+@(.+)$/);
  if (!match) throw new Error(`deno.json has no npm: import for ${name}`);
  return match[1];
}

/** Builds the package; resolves with the tarball's absolute path. */
export async function buildNpm(): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(join(here, "deno.json")));
  await Deno.remove(join(out, "src"), { recursive: true }).catch(() => {});
  await Deno.remove(join(out, "esm"), { recursive: true }).catch(() => {});
  await Deno.mkdir(join(out, "src"), { recursive: true });
  for await (const entry of Deno.readDir(here)) {
    const skip = entry.name.endsWith("_test.ts") || entry.name.startsWith("_build") ||
      entry.name.startsWith("_doc");
    if (entry.isFile && entry.name.endsWith(".ts") && !skip) {
      await Deno.copyFile(join(here, entry.name), join(out, "src", entry.name));
    }
  }
  const exports: Record<string, { types: string; import: string }> = {};
  for (const [key, path] of Object.entries(config.exports as Record<string, string>)) {
    const base = path.replace(/^\.\//, "").replace(/\.ts$/, "");
    exports[key] = { types: `./esm/${base}.d.ts`, import: `./esm/${base}.js` };
  }
  const pkg = {
    name: config.name,
    version: config.version,
    description:
      "The TypeScript SDK for Passage: account linking where credentials never leave the user's device",
    license: config.license,
    type: "module",
    engines: { node: ">=20" },
    exports,
    files: ["esm/"],
    sideEffects: false,
    dependencies: {
      jose: npmRange(config.imports, "jose"),
      zod: npmRange(config.imports, "zod"),
    },
    devDependencies: { typescript: TYPESCRIPT },
  };
  await Deno.writeTextFile(join(out, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  await Deno.writeTextFile(
    join(out, "tsconfig.json"),
    JSON.stringify(
      {
        compilerOptions: {
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          lib: ["es2022", "dom", "dom.iterable"],
          rewriteRelativeImportExtensions: true,
          declaration: true,
          strict: true,
          skipLibCheck: true,
          rootDir: "src",
          outDir: "esm",
        },
        include: ["src"],
      },
      null,
      2,
    ) + "\n",
  );
  await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], out);
  await run("npx", ["--no-install", "tsc", "-p", "."], out);
  const packed = await run("npm", ["pack", "--loglevel=error"], out);
  return join(out, packed.trim().split("\n").at(-1)!);
}

if (import.meta.main) console.log(await buildNpm());
