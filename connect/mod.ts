/**
 * `@passage/connect`: the TypeScript SDK for Passage, the account-linking API
 * where your users log in on their own device and credentials never leave it.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const link = await passage.links.create({
 *   provider: "tmobile",
 *   operations: [{ type: "mobileBillingStatement:read" }],
 * });
 * ```
 *
 * @module
 */
export { Links, Passage, PassageApiError, SessionHandle, Sessions } from "./client.ts";
export { Browser, BrowserCommandError } from "./browser.ts";
export type { BrowserTransport, CommandOptions } from "./browser.ts";
export type {
  CommandErrorCode,
  CommandName,
  Commands,
  DeviceClient,
  NetworkCapture,
  TelemetryEvent,
  YieldCondition,
} from "./protocol.ts";
export type { PassageOptions, Request_, RequestOptions } from "./client.ts";
export type {
  ApiErrorBody,
  CreateLinkParams,
  CreateSessionParams,
  DeviceClaim,
  DeviceClaimParams,
  Link,
  LinkDevice,
  LinkError,
  LinkList,
  LinkStatus,
  ListLinksParams,
  Metadata,
  OperationStatus,
  OperationType,
  Session,
  SessionList,
  SessionStatus,
  WebhookEventsOption,
} from "./schemas.ts";
export type { ClientEvent, ClientEventType } from "./schemas.ts";
export { CLIENT_EVENT_TYPES, LINK_STATUSES, OPERATION_TYPES } from "./schemas.ts";
export { looksLikeCardNumber } from "./results.ts";
export type {
  AccountOwnership,
  BillingStatement,
  CardBrand,
  Coverage,
  InsurancePolicies,
  InsurancePolicy,
  LineItemCategory,
  MobileBillingStatement,
  OperationResults,
  Order,
  OrderHistory,
  OrderItem,
  OrderStatus,
  PaymentMethod,
  PaymentMethods,
  PolicyStatus,
  PolicyType,
  PremiumFrequency,
  StatementLineItem,
  UtilityBillingStatement,
} from "./results.ts";
export { verifyWebhook, WebhookVerificationError } from "./verify.ts";
export type {
  VerifyWebhookOptions,
  WebhookPayload,
  WebhookVerificationErrorCode,
} from "./verify.ts";
