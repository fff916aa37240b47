/**
 * Every sandbox site, by provider id. `routes/sandbox.ts` serves them under
 * `/sandbox/<id>`; test links run their automations against them.
 *
 * @module
 */
import type { SandboxSiteSpec } from "./_site.ts";
import { doordashSite } from "./doordash.ts";
import { geicoSite } from "./geico.ts";
import { pgeSite } from "./pge.ts";
import { tmobileSite } from "./tmobile.ts";
import { verizonSite } from "./verizon.ts";

export { createSandboxSite, type SandboxSiteSpec } from "./_site.ts";
export { SANDBOX_MFA_CODE, SANDBOX_PASSWORD } from "./_users.ts";

/** The sandbox sites, one per provider. */
export const SANDBOX_SITES: readonly SandboxSiteSpec[] = [
  tmobileSite,
  verizonSite,
  pgeSite,
  doordashSite,
  geicoSite,
];

/** The path every sandbox site lives under. */
export const SANDBOX_PREFIX = "/sandbox";

/** The base URL of a provider's sandbox on a Passage server: `${publicUrl}/sandbox/<id>`. */
export function sandboxUrl(publicUrl: string, providerId: string): string {
  return `${publicUrl.replace(/\/+$/, "")}${SANDBOX_PREFIX}/${providerId}`;
}
