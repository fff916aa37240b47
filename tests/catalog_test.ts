/**
 * The provider catalog's checks: `defineProvider` refuses a bad description,
 * a provider folder is refused when its id is not its name or its default
 * export is not a provider, and a provider's readers must match its
 * operations exactly.
 */
import assert from "node:assert/strict";
import { defineProvider, type ProviderSpec } from "../automations/define.ts";
import { loadProvidersDir } from "../automations/catalog.ts";
import type { OperationType } from "@passage/connect/results";

const define = new URL("../automations/define.ts", import.meta.url).href;

const SPEC: ProviderSpec<"accountOwnership:verify"> = {
  id: "acme",
  displayName: "Acme",
  liveUrl: "https://my.acme.example/home",
  origins: ["https://my.acme.example", "https://login.acme.example/"],
  login: {},
  operations: ["accountOwnership:verify"],
  readers: () =>
    Promise.resolve({
      default: {
        "accountOwnership:verify": () =>
          Promise.resolve({ verified: true, accountHolderName: "A" }),
      },
    }),
  sandbox: () =>
    Promise.resolve({ default: { color: "#000", nav: [], account: () => ({}), routes() {} } }),
};

Deno.test("defineProvider normalises origins and orders operations as OPERATION_TYPES", () => {
  const p = defineProvider({
    ...SPEC,
    operations: ["accountOwnership:verify", "paymentMethod:read"],
  } as unknown as ProviderSpec<OperationType>);
  assert.deepEqual(p.origins, ["https://my.acme.example", "https://login.acme.example"]);
  assert.deepEqual(p.operations, ["paymentMethod:read", "accountOwnership:verify"]);
});

Deno.test("defineProvider refuses a bad id, a plain-http origin, an unknown or repeated operation", () => {
  const bad: Array<[Partial<ProviderSpec<OperationType>>, RegExp]> = [
    [{ id: "Acme Co" }, /its id must be lower-case/],
    [{ origins: ["http://my.acme.example"] }, /is not an https URL/],
    [{ origins: ["https://login.acme.example"] }, /must include liveUrl's origin/],
    [{ operations: ["bill:read" as OperationType] }, /unknown operation "bill:read"/],
    [{ operations: ["accountOwnership:verify", "accountOwnership:verify"] }, /repeats/],
    [{ operations: [] }, /no operations/],
  ];
  for (const [change, message] of bad) {
    assert.throws(
      () => defineProvider({ ...SPEC, ...change } as ProviderSpec<OperationType>),
      message,
      JSON.stringify(change),
    );
  }
});

Deno.test("a provider's readers must be exactly its operations", async () => {
  const p = defineProvider({
    ...SPEC,
    readers: () => Promise.resolve({ default: {} }),
  } as unknown as ProviderSpec<"accountOwnership:verify">);
  await assert.rejects(p.readers(), /its readers \(\) differ from its operations/);
  assert.deepEqual(Object.keys(await defineProvider(SPEC).readers()), ["accountOwnership:verify"]);
});

Deno.test("loadProvidersDir loads provider folders and refuses one whose id is not its name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "passage_providers_" });
  try {
    const write = async (name: string, body: string) => {
      await Deno.mkdir(`${dir}/${name}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${name}/mod.ts`, body);
    };
    const mod = (id: string) =>
      `import { defineProvider } from "${define}";
export default defineProvider({ id: "${id}", displayName: "X", liveUrl: "https://x.example",
  origins: ["https://x.example"], login: {}, operations: ["accountOwnership:verify"],
  readers: () => import("./readers.ts"), sandbox: () => import("./sandbox.ts") });`;
    await write("alpha", mod("alpha"));
    await Deno.mkdir(`${dir}/notes`); // no mod.ts: not a provider folder
    assert.deepEqual((await loadProvidersDir(dir)).map((p) => p.id), ["alpha"]);

    await write("beta", mod("gamma"));
    await assert.rejects(
      loadProvidersDir(dir),
      /the provider's id "gamma" is not its folder's name/,
    );
    await Deno.remove(`${dir}/beta`, { recursive: true });

    await write("delta", `export default { id: "delta" };`);
    await assert.rejects(loadProvidersDir(dir), /its default export is not a defineProvider/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
