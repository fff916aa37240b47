/**
 * The automations: every provider of the catalog with its readers loaded and
 * its login built from its description. Only the engine (and tests that run
 * automations) import this; the rest of the server reads `catalog.ts`.
 *
 * @module
 */
import { getProvider, listProviders, type Provider } from "./catalog.ts";
import { handOffLogin, stillLoggedIn } from "./_login.ts";
import type { ProviderAutomation } from "./types.ts";

export {
  automationBaseUrl,
  getProvider,
  listProviders,
  OPERATION_LABELS,
  OPERATION_TYPES,
  type OperationType,
  providerOrigins,
} from "./catalog.ts";
export { AutomationError, type AutomationErrorCode } from "./types.ts";
export type { AutomationContext, ProviderAutomation } from "./types.ts";

async function toAutomation(provider: Provider): Promise<ProviderAutomation> {
  return {
    id: provider.id,
    displayName: provider.displayName,
    liveUrl: provider.liveUrl,
    origins: provider.origins,
    loginAttempts: provider.loginAttempts,
    operations: await provider.readers(),
    login: (ctx) => handOffLogin(ctx, { ...provider.login, displayName: provider.displayName }),
    stillLoggedIn: (ctx) =>
      stillLoggedIn(ctx, { ...provider.login, displayName: provider.displayName }),
  };
}

const AUTOMATIONS: readonly ProviderAutomation[] = await Promise.all(
  listProviders().map(toAutomation),
);

/** The automation of the provider with this id, or undefined. */
export function getAutomation(id: string): ProviderAutomation | undefined {
  return getProvider(id) && AUTOMATIONS.find((a) => a.id === id);
}
