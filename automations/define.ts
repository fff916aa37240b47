/**
 * What a provider is, as data: `defineProvider` in a provider folder's
 * `mod.ts` (`automations/providers/<id>/mod.ts`, or a folder of your own under
 * `PASSAGE_PROVIDERS_DIR`, see docs/PROVIDERS.md). It names the provider, the
 * origins its live site uses, how the shared login finds its way, the
 * operations it supports, and where its readers and sandbox site are. Those
 * two load only where they run (the engine, the sandbox routes), so the
 * catalog that validates requests loads no automation code.
 *
 * @module
 */
import { OPERATION_TYPES, type OperationType } from "@passage/connect/results";
import type { LoginSpec } from "./_login.ts";
import type { SandboxSite } from "./sandbox/_site.ts";
import type { OperationRunner } from "./types.ts";

/** Readers by operation: what a provider folder's `readers.ts` exports (`satisfies Readers`). */
export type Readers = { [K in OperationType]?: OperationRunner<K> };

/** What a provider folder's `mod.ts` gives `defineProvider`. */
export interface ProviderSpec<Ops extends OperationType> {
  /** Provider id as links name it, also its folder's name: `"tmobile"`. */
  id: string;
  /** The name users see: `"T-Mobile"`. */
  displayName: string;
  /** Where a live link's automation starts (the real site's base URL). */
  liveUrl: string;
  /**
   * Every origin a live link's device may load as the top page: the login
   * pages and the account pages, `liveUrl`'s origin among them.
   */
  origins: readonly string[];
  /** Wrong passwords or codes allowed in all before the link fails (default 3). */
  loginAttempts?: number;
  /**
   * How the shared hand-off login reads this site: the paths and selectors
   * that differ from the sandbox defaults (`{}`: none do). See `LoginSpec`.
   */
  login: Partial<Omit<LoginSpec, "displayName">>;
  /** The operations the provider supports; `readers` has one reader for each. */
  operations: readonly Ops[];
  /** Loads the readers (`() => import("./readers.ts")`). */
  readers: () => Promise<{ default: { [K in Ops]: OperationRunner<K> } }>;
  /** Loads the sandbox site test links run against (`() => import("./sandbox.ts")`). */
  sandbox: () => Promise<{ default: SandboxSite }>;
}

const PROVIDER = Symbol.for("passage.provider");

/** A checked provider: data, and the two loaders of its code. */
export interface Provider {
  readonly [PROVIDER]: true;
  readonly id: string;
  readonly displayName: string;
  readonly liveUrl: string;
  /** Normalised `URL.origin`s. */
  readonly origins: readonly string[];
  readonly loginAttempts?: number;
  readonly login: Partial<Omit<LoginSpec, "displayName">>;
  /** In the order of `OPERATION_TYPES`. */
  readonly operations: readonly OperationType[];
  /** The readers, checked to be exactly one per operation. */
  readers(): Promise<Readers>;
  sandbox(): Promise<SandboxSite>;
}

/** Provider ids: lower-case letters, digits and dashes, as they appear in URLs. */
export const PROVIDER_ID = /^[a-z][a-z0-9-]{0,63}$/;

/**
 * Checks a provider's description and returns it as a `Provider`. Throws on
 * a bad id, an origin that is not `https`, an unknown or repeated operation.
 *
 * @example
 * ```ts
 * export default defineProvider({
 *   id: "acme", displayName: "Acme", liveUrl: "https://my.acme.example",
 *   origins: ["https://my.acme.example"], login: {},
 *   operations: ["accountOwnership:verify"],
 *   readers: () => import("./readers.ts"),
 *   sandbox: () => import("./sandbox.ts"),
 * });
 * ```
 */
export function defineProvider<const Ops extends OperationType>(spec: ProviderSpec<Ops>): Provider {
  const fail = (what: string): never => {
    throw new Error(`Provider "${spec.id}": ${what}`);
  };
  if (!PROVIDER_ID.test(spec.id)) {
    fail("its id must be lower-case letters, digits and dashes, starting with a letter");
  }
  if (spec.displayName.trim() === "") fail("its displayName is empty");
  const origins = [spec.liveUrl, ...spec.origins].map((o) => {
    const url = URL.parse(o);
    if (url?.protocol !== "https:") fail(`"${o}" is not an https URL`);
    return url!.origin;
  });
  if (!spec.origins.map((o) => new URL(o).origin).includes(origins[0])) {
    fail(`its origins must include liveUrl's origin ${origins[0]}`);
  }
  for (const op of spec.operations) {
    if (!OPERATION_TYPES.includes(op)) fail(`unknown operation "${op}"`);
  }
  if (new Set(spec.operations).size !== spec.operations.length) fail("an operation repeats");
  if (spec.operations.length === 0) fail("it has no operations");
  const operations = OPERATION_TYPES.filter((type) => spec.operations.includes(type as Ops));
  return {
    [PROVIDER]: true,
    id: spec.id,
    displayName: spec.displayName,
    liveUrl: spec.liveUrl,
    origins: [...new Set(origins.slice(1))],
    loginAttempts: spec.loginAttempts,
    login: spec.login,
    operations,
    async readers() {
      const readers: Readers = (await spec.readers()).default;
      const given = Object.keys(readers).sort();
      if (given.join() !== [...operations].sort().join()) {
        fail(
          `its readers (${given.join(", ")}) differ from its operations (${operations.join(", ")})`,
        );
      }
      return readers;
    },
    async sandbox() {
      return (await spec.sandbox()).default;
    },
  };
}

/** Whether `value` came from `defineProvider` (a custom folder's `mod.ts` default export). */
export function isProvider(value: unknown): value is Provider {
  return typeof value === "object" && value !== null && PROVIDER in value;
}
