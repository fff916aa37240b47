/**
 * The providers Passage can link to and the operations each supports, read
 * from their automations (`automations/providers/`). Requests are validated
 * against this registry; the engine runs the automations it returns.
 */

import { OPERATION_TYPES, type OperationType } from "@passage/connect/schemas";
import { doordash } from "./providers/doordash.ts";
import { geico } from "./providers/geico.ts";
import { pge } from "./providers/pge.ts";
import { tmobile } from "./providers/tmobile.ts";
import { verizon } from "./providers/verizon.ts";
import { sandboxUrl } from "./sandbox/mod.ts";
import type { ProviderAutomation } from "./types.ts";

export { OPERATION_TYPES, type OperationType };
export { AutomationError, type AutomationErrorCode } from "./types.ts";
export type { AutomationContext, ProviderAutomation } from "./types.ts";

export interface ProviderInfo {
  id: string;
  /** The name users see, on the claim page and in the device. */
  displayName: string;
  operations: readonly OperationType[];
  /** The origins a live link's device may load (see `providerOrigins`). */
  origins: readonly string[];
}

const AUTOMATIONS: readonly ProviderAutomation[] = [tmobile, verizon, pge, doordash, geico];

const PROVIDERS: readonly ProviderInfo[] = AUTOMATIONS.map((a) => ({
  id: a.id,
  displayName: a.displayName,
  operations: OPERATION_TYPES.filter((type) => a.operations[type] !== undefined),
  origins: a.origins.map((o) => new URL(o).origin),
}));

/** The provider with this id, or undefined. */
export function getProvider(id: string): ProviderInfo | undefined {
  return PROVIDERS.find((p) => p.id === id);
}

/** Every registered provider. */
export function listProviders(): readonly ProviderInfo[] {
  return PROVIDERS;
}

/** The automation of the provider with this id, or undefined. */
export function getAutomation(id: string): ProviderAutomation | undefined {
  return AUTOMATIONS.find((a) => a.id === id);
}

/**
 * Where a link's automation runs: the provider's sandbox on this server for
 * test links (`livemode: false`), the real site for live ones.
 */
export function automationBaseUrl(
  automation: Pick<ProviderAutomation, "id" | "liveUrl">,
  link: { livemode: boolean },
  publicUrl: string,
): string {
  return link.livemode ? automation.liveUrl : sandboxUrl(publicUrl, automation.id);
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

/** What each operation reads, in words a user understands. */
export const OPERATION_LABELS: Record<OperationType, string> = {
  "mobileBillingStatement:read": "your latest phone bill",
  "utilityBillingStatement:read": "your latest utility bill",
  "paymentMethod:read": "the payment methods saved on your account (never full card numbers)",
  "orderHistory:read": "your order history",
  "insurancePolicy:read": "your insurance policy details",
  "accountOwnership:verify": "that you own this account",
};
