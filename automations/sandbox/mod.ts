/**
 * Every sandbox site, one per provider of the catalog (each folder's
 * `sandbox.ts`, named after its provider). `routes/sandbox.ts` serves them
 * under `/sandbox/<id>`; test links run their automations against them.
 *
 * @module
 */
import { listProviders } from "../catalog.ts";
import type { SandboxSiteSpec } from "./_site.ts";

export { createSandboxSite, type SandboxSite, type SandboxSiteSpec } from "./_site.ts";
export { SANDBOX_MFA_CODE, SANDBOX_PASSWORD } from "./_users.ts";
export { SANDBOX_PREFIX, sandboxUrl } from "../catalog.ts";

/** The sandbox sites, one per provider, in the catalog's order. */
export const SANDBOX_SITES: readonly SandboxSiteSpec[] = await Promise.all(
  listProviders().map(async (p) => ({ ...(await p.sandbox()), id: p.id, name: p.displayName })),
);
