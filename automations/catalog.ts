/**
 * The provider catalog: which providers Passage can link to, their names,
 * origins and operations. Data only: it loads no automation code, no
 * linkedom and no sandbox site, so `lib/` and `routes/` import this to
 * validate requests; the engine loads the readers (`registry.ts`) and the
 * sandbox routes the sites (`sandbox/mod.ts`).
 *
 * The catalog is the built-in folders (`providers/mod.ts`) and, when the
 * environment names one, every folder under `PASSAGE_PROVIDERS_DIR` that has
 * a `mod.ts` (docs/PROVIDERS.md), read once when this module loads.
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { OPERATION_LABELS, OPERATION_TYPES, type OperationType } from "@passage/connect/results";
import { isProvider, type Provider } from "./define.ts";
import { BUILTIN_PROVIDERS } from "./providers/mod.ts";

export { OPERATION_LABELS, OPERATION_TYPES, type OperationType, type Provider };

/** The environment variable naming a folder of custom provider folders. */
export const PROVIDERS_DIR_ENV = "PASSAGE_PROVIDERS_DIR";

/**
 * Loads every provider folder under `dir` (a subfolder with a `mod.ts` whose
 * default export is a `defineProvider`), in name order. A folder whose
 * provider id is not its name is refused.
 */
export async function loadProvidersDir(dir: string): Promise<Provider[]> {
  const root = resolve(dir);
  const names: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (entry.isDirectory && !entry.name.startsWith(".") && !entry.name.startsWith("_")) {
      names.push(entry.name);
    }
  }
  const providers: Provider[] = [];
  for (const name of names.sort()) {
    const file = resolve(root, name, "mod.ts");
    try {
      await Deno.stat(file);
    } catch {
      continue; // not a provider folder
    }
    const mod = await import(pathToFileURL(file).href);
    if (!isProvider(mod.default)) {
      throw new Error(`${file}: its default export is not a defineProvider({...})`);
    }
    if (mod.default.id !== name) {
      throw new Error(`${file}: the provider's id "${mod.default.id}" is not its folder's name`);
    }
    providers.push(mod.default);
  }
  return providers;
}

function customDir(): string | undefined {
  const env = Deno.permissions.querySync({ name: "env", variable: PROVIDERS_DIR_ENV });
  return env.state === "granted" ? Deno.env.get(PROVIDERS_DIR_ENV) || undefined : undefined;
}

function build(providers: readonly Provider[]): readonly Provider[] {
  const seen = new Set<string>();
  for (const p of providers) {
    if (seen.has(p.id)) throw new Error(`Two providers have the id "${p.id}"`);
    seen.add(p.id);
  }
  return providers;
}

const dir = customDir();
const PROVIDERS = build([...BUILTIN_PROVIDERS, ...(dir ? await loadProvidersDir(dir) : [])]);

/** What the rest of the server reads of a provider. */
export type ProviderInfo = Pick<Provider, "id" | "displayName" | "operations" | "origins">;

/** The provider with this id, or undefined. */
export function getProvider(id: string): Provider | undefined {
  return PROVIDERS.find((p) => p.id === id);
}

/** Every provider: the built-in ones, then those of `PASSAGE_PROVIDERS_DIR`. */
export function listProviders(): readonly Provider[] {
  return PROVIDERS;
}

/** The path every sandbox site lives under. */
export const SANDBOX_PREFIX = "/sandbox";

/** The base URL of a provider's sandbox on a Passage server: `${publicUrl}/sandbox/<id>`. */
export function sandboxUrl(publicUrl: string, providerId: string): string {
  return `${publicUrl.replace(/\/+$/, "")}${SANDBOX_PREFIX}/${providerId}`;
}

/**
 * The origins a link's device may load as the top page: the provider's live
 * origins for live links, this server's own origin (which serves the
 * sandboxes under `/sandbox/<provider>`) for test links.
 */
export function providerOrigins(
  provider: Pick<ProviderInfo, "origins">,
  link: { livemode: boolean },
  publicUrl: string,
): string[] {
  return link.livemode ? [...provider.origins] : [new URL(publicUrl).origin];
}

/**
 * Where a link's automation runs: the provider's sandbox on this server for
 * test links (`livemode: false`), the real site for live ones.
 */
export function automationBaseUrl(
  provider: Pick<Provider, "id" | "liveUrl">,
  link: { livemode: boolean },
  publicUrl: string,
): string {
  return link.livemode ? provider.liveUrl : sandboxUrl(publicUrl, provider.id);
}
