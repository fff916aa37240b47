/**
 * The providers Passage can link to and the operations each supports. Requests
 * are validated against this registry; later the automations themselves hang
 * off the same entries.
 */

import { OPERATION_TYPES, type OperationType } from "@passage/connect/schemas";

export { OPERATION_TYPES, type OperationType };

export interface ProviderInfo {
  id: string;
  /** The name users see, on the claim page and in the device. */
  displayName: string;
  operations: readonly OperationType[];
}

const PROVIDERS: readonly ProviderInfo[] = [
  {
    id: "tmobile",
    displayName: "T-Mobile",
    operations: ["mobileBillingStatement:read", "paymentMethod:read"],
  },
];

/** The provider with this id, or undefined. */
export function getProvider(id: string): ProviderInfo | undefined {
  return PROVIDERS.find((p) => p.id === id);
}

/** Every registered provider. */
export function listProviders(): readonly ProviderInfo[] {
  return PROVIDERS;
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
