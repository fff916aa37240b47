/**
 * `@passage/connect`: the TypeScript SDK for Passage, the account-linking API
 * where your users log in on their own device and credentials never leave it.
 * Runs on Deno, Node 20+ (pass the `ws` package's `WebSocket` for sessions)
 * and in browsers.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const link = await passage.links.create({
 *   provider: "tmobile",
 *   operations: [{ type: "mobileBillingStatement:read" }],
 * });
 * const done = await passage.links.get(link);
 * console.log(done.results?.["mobileBillingStatement:read"].amountDue);
 * ```
 *
 * @module
 */
export { Links, Passage, SessionHandle, Sessions, Webhooks } from "./client.ts";
export { PageRequest } from "./pagination.ts";
export { API_ERRORS, PassageApiError, PassageConnectionError } from "./errors.ts";
export type { ApiErrorCode, ApiErrorType } from "./errors.ts";
export type {
  CreateLinkInput,
  Page,
  PassageOptions,
  RedeliveryAttempt,
  RequestOptions,
  ResultsOf,
  TypedLink,
  WebhookAttempt,
  WebhookEventSummary,
  WebhookTestResult,
  WebSocketConstructor,
} from "./types.ts";
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
  LinkWebhookPayload,
  RawWebhook,
  VerifyWebhookOptions,
  WebhookPayload,
  WebhookTestPayload,
  WebhookVerificationErrorCode,
} from "./verify.ts";
