/**
 * Doc coverage of `@passage/connect`: every export of every entry point in
 * `deno.json`, and every public method and constructor of an exported class
 * or interface, must carry an `@example`. Reads `deno doc --json`; prints
 * what is missing and exits 1. `deno task doc:lint` type-checks the examples.
 *
 * ```sh
 * deno run --allow-run --allow-read connect/_doc_coverage.ts
 * ```
 *
 * @module
 */

interface JsDoc {
  tags?: Array<{ kind: string }>;
}

interface Method {
  name: string;
  kind?: string;
  jsDoc?: JsDoc;
  accessibility?: string;
  isStatic?: boolean;
}

interface Declaration {
  kind: string;
  declarationKind?: string;
  location: { filename: string; line: number };
  jsDoc?: JsDoc;
  def?: { methods?: Method[]; constructors?: Method[] };
}

interface DocSymbol {
  name: string;
  declarations: Declaration[];
}

/** One thing that should have an example. */
export interface Item {
  /** `Name` for an export, `Name.method` for a method, `Name.constructor` for a constructor. */
  name: string;
  /** The file that declares it, relative to `connect/`. */
  file: string;
  line: number;
  hasExample: boolean;
}

const hasExample = (doc?: JsDoc) => (doc?.tags ?? []).some((t) => t.kind === "example");

/**
 * Every export of `entrypoints`, and every public method and constructor of
 * an exported class or interface, with whether it has an `@example`.
 */
export async function docItems(entrypoints: string[]): Promise<Item[]> {
  const root = new URL(".", import.meta.url).href;
  const items = new Map<string, Item>();
  // One `deno doc` per entry point: given several, it reports re-exports at the re-exporting file.
  for (const entrypoint of entrypoints) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["doc", "--json", entrypoint],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`deno doc failed: ${new TextDecoder().decode(out.stderr)}`);
    const json = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      nodes: Record<string, { symbols: DocSymbol[] }>;
    };
    const symbols = Object.values(json.nodes).flatMap((n) => n.symbols);
    for (const symbol of symbols) {
      const decls = symbol.declarations.filter((d) => d.kind !== "import");
      if (decls.length === 0) continue;
      const first = decls[0];
      const file = first.location.filename.replace(root, "");
      const key = `${file}:${first.location.line}:${symbol.name}`;
      if (!items.has(key)) {
        items.set(key, {
          name: symbol.name,
          file,
          line: first.location.line,
          hasExample: decls.some((d) => hasExample(d.jsDoc)),
        });
      }
      for (const decl of decls) {
        if (decl.kind !== "class" && decl.kind !== "interface") continue;
        for (const method of [...decl.def?.constructors ?? [], ...decl.def?.methods ?? []]) {
          if (method.accessibility === "private" || method.name.startsWith("#")) continue;
          if (method.kind === "getter" || method.kind === "setter") continue;
          const name = `${symbol.name}.${method.name}`;
          items.set(`${file}:${name}`, {
            name,
            file,
            line: first.location.line,
            hasExample: hasExample(method.jsDoc),
          });
        }
      }
    }
  }
  return [...items.values()];
}

if (import.meta.main) {
  const dir = new URL(".", import.meta.url);
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", dir)));
  const entrypoints = Object.values(config.exports as Record<string, string>).map((p) =>
    new URL(p, dir).pathname
  );
  const all = await docItems(entrypoints);
  const missing = all.filter((i) => !i.hasExample);
  const exports = all.filter((i) => !i.name.includes("."));
  const methods = all.filter((i) => i.name.includes("."));
  const pct = (xs: Item[]) => xs.filter((i) => i.hasExample).length + `/${xs.length}`;
  for (const item of missing) console.log(`no @example: ${item.name} (${item.file}:${item.line})`);
  console.log(`doc coverage: exports ${pct(exports)}, methods and constructors ${pct(methods)}`);
  if (missing.length) Deno.exit(1);
}
