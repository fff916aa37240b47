/**
 * The server's module graph, read with `deno info --json`: no import cycle
 * among our own modules (static imports and type imports both count), and
 * the provider catalog, which `lib/` and `routes/` import, loads no
 * automation code (no readers, no sandbox sites, no linkedom) except through
 * the lazy imports that only the engine and the sandbox routes call.
 */
import assert from "node:assert/strict";

interface InfoModule {
  specifier: string;
  dependencies?: Array<{
    specifier: string;
    isDynamic?: boolean;
    code?: { specifier?: string };
    type?: { specifier?: string };
  }>;
}

/**
 * The static edges of `entry`'s graph (not dynamic imports): code imports,
 * and type-only imports too unless `types` is false.
 */
async function staticGraph(entry: string, types = true): Promise<Map<string, string[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const { modules } = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: InfoModule[];
  };
  const edges = new Map<string, string[]>();
  for (const m of modules) {
    const to = (m.dependencies ?? []).filter((d) => !d.isDynamic).flatMap((d) =>
      [d.code?.specifier, types ? d.type?.specifier : undefined].filter((s): s is string => !!s)
    );
    edges.set(m.specifier, [...new Set(to)]);
  }
  return edges;
}

/** Every module reachable from `entry` over static edges. */
function reachable(edges: Map<string, string[]>, entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length) {
    const m = stack.pop()!;
    if (seen.has(m)) continue;
    seen.add(m);
    stack.push(...(edges.get(m) ?? []));
  }
  return seen;
}

/** The cycles among `file:` modules, each as the path that closes it. */
function cycles(edges: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (m: string) => {
    state.set(m, "open");
    path.push(m);
    for (const next of edges.get(m) ?? []) {
      if (!next.startsWith("file:")) continue;
      if (state.get(next) === "open") found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(m, "done");
  };
  for (const m of edges.keys()) if (m.startsWith("file:") && !state.has(m)) visit(m);
  return found;
}

const root = new URL("../", import.meta.url).href;
const short = (s: string) => s.replace(root, "");

Deno.test("the server has no import cycle among its own modules", async () => {
  const graph = await staticGraph(new URL("../main.ts", import.meta.url).pathname);
  const found = cycles(graph).map((c) => c.map(short).join(" → "));
  assert.deepEqual(found, [], `import cycles:\n${found.join("\n")}`);
});

Deno.test("the provider catalog loads no automation code", async () => {
  const entry = new URL("../automations/catalog.ts", import.meta.url).href;
  // type-only imports load nothing
  const loaded = [...reachable(await staticGraph(entry, false), entry)].map(short);
  const code = loaded.filter((m) =>
    /linkedom|\/readers\.ts$|\/sandbox\.ts$|automations\/sandbox\/|_read\.ts$|_login\.ts$/
      .test(m)
  );
  assert.deepEqual(code, []);
  // and what lib/ validates with really is this catalog
  assert.ok(loaded.includes("automations/providers/tmobile/mod.ts"));
});
