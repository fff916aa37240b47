/**
 * The request and response shapes of the Passage REST API, as zod schemas. The
 * server validates requests with these same schemas and generates its OpenAPI
 * document from them, so the SDK and the server cannot drift apart.
 *
 * @module
 */
import { z } from "zod";
import { OPERATION_TYPES, type OperationType } from "./results.ts";
import type { Schema } from "./_schema.ts";

export type { Schema } from "./_schema.ts";

// Declared once, with their labels and result schemas, in `results.ts`.
export { OPERATION_TYPES, type OperationType } from "./results.ts";

/**
 * Where a link is in its life. It only moves forward: `pending` → `claimed` →
 * `running` → `complete` | `failed`, or to `expired` | `cancelled`.
 *
 * @example
 * ```ts
 * import type { LinkStatus } from "@passage/connect/schemas";
 * const FINAL: LinkStatus[] = ["complete", "failed", "expired", "cancelled"];
 * const isFinal = (status: LinkStatus) => FINAL.includes(status);
 * ```
 */
export type LinkStatus =
  | "pending"
  | "claimed"
  | "running"
  | "complete"
  | "failed"
  | "expired"
  | "cancelled";

/**
 * Every link status, in lifecycle order.
 *
 * @example
 * ```ts
 * import { LINK_STATUSES } from "@passage/connect/schemas";
 * LINK_STATUSES[0]; // "pending"
 * ```
 */
export const LINK_STATUSES: readonly LinkStatus[] = [
  "pending",
  "claimed",
  "running",
  "complete",
  "failed",
  "expired",
  "cancelled",
];

// One instance per enum, each named (`.meta({ id })`): the OpenAPI document
// refers to it as `#/components/schemas/<id>` wherever it is used.
const operationTypeSchema = z.enum(OPERATION_TYPES).meta({
  id: "OperationType",
  description: "An operation a link may request, such as `mobileBillingStatement:read`",
});

const linkStatusSchema = z.enum(LINK_STATUSES as [LinkStatus, ...LinkStatus[]]).meta({
  id: "LinkStatus",
  description:
    "Where a link is in its life. It only moves forward: `pending` → `claimed` → `running` → `complete` | `failed`, or to `expired` | `cancelled`",
});

const webhookEventsOptionSchema = z.enum(["client"]).meta({
  id: "WebhookEventsOption",
  description: "An extra kind of webhook a link sends: `client`, its client events as `link.event`",
});

/**
 * Free-form string pairs a developer attaches to a link.
 *
 * @example
 * ```ts
 * import type { Metadata } from "@passage/connect/schemas";
 * const metadata: Metadata = { userId: "usr_42", plan: "family" };
 * ```
 */
export type Metadata = Record<string, string>;

/**
 * The body of `POST /v1/links`.
 *
 * @example
 * ```ts
 * import { type CreateLinkParams, createLinkParamsSchema } from "@passage/connect/schemas";
 * const params: CreateLinkParams = {
 *   provider: "tmobile",
 *   operations: [{ type: "mobileBillingStatement:read" }, { type: "paymentMethod:read" }],
 *   webhookUrl: "https://api.yourapp.com/passage/webhook",
 *   metadata: { userId: "usr_42" },
 *   appName: "Acme Budget",
 * };
 * createLinkParamsSchema.parse(params); // what the server accepts
 * ```
 */
export interface CreateLinkParams {
  /** Provider id, such as `"tmobile"`. */
  provider: string;
  /** Operations to run after the user's single login, in order (1 to 10, no type twice). */
  operations: Array<{ type: OperationType }>;
  /** Where the signed result webhook is sent: an absolute http(s) URL without credentials. */
  webhookUrl?: string;
  /** Up to 50 string pairs, returned unchanged. */
  metadata?: Metadata;
  /** Seconds until an unclaimed link expires (60 to 604800; default 14400). */
  expiresIn?: number;
  /** Your app's name as the user knows it (1 to 80 characters): the claim page says who asks. */
  appName?: string;
  /**
   * More webhooks to send besides the result: `["client"]` also sends each
   * client event (`opened`, `login_failed_attempt`, …) as a `link.event`
   * webhook. Needs `webhookUrl`.
   */
  webhookEvents?: WebhookEventsOption[];
}

/**
 * Which extra webhooks a link sends: `"client"`, its client events as
 * `link.event`.
 *
 * @example
 * ```ts
 * import { createLinkParamsSchema, type WebhookEventsOption } from "@passage/connect/schemas";
 * const webhookEvents: WebhookEventsOption[] = ["client"];
 * createLinkParamsSchema.parse({
 *   provider: "tmobile",
 *   operations: [{ type: "paymentMethod:read" }],
 *   webhookUrl: "https://api.yourapp.com/passage/webhook", // needed for webhookEvents
 *   webhookEvents,
 * });
 * ```
 */
export type WebhookEventsOption = "client";

/**
 * What happened on the user's side of a link, as Plaid Link's and Argyle's
 * client events tell it: the kind and when, plus a few safe fields. Never a
 * typed value or anything read from the page.
 *
 * - `opened`: a device claimed the link;
 * - `login_started`: the user got control of the provider's login;
 * - `mfa_required`: the site asked for a verification code;
 * - `login_failed_attempt`: the site refused a password (`step: "password"`)
 *   or a code (`step: "mfa"`); `attempt` is its number, `attemptsLeft` how many
 *   tries remain before the link fails;
 * - `login_succeeded`: the user is logged in;
 * - `run_resumed`: the link's run went on after a server instance stopped,
 *   the device still logged in: no new login, the operations done stay done;
 * - `operation_started` / `operation_completed`: an operation (`operation`)
 *   began / ended (`status`: `complete` or `failed`);
 * - `user_exited`: the user stopped or the device went away before the link
 *   finished (`reason`: the link's error code).
 *
 * @example
 * ```ts
 * import type { ClientEvent } from "@passage/connect/schemas";
 * function describe(event: ClientEvent): string {
 *   if (event.type === "login_failed_attempt") {
 *     return `${event.step} refused, ${event.attemptsLeft} attempts left`;
 *   }
 *   return event.operation ? `${event.type} ${event.operation}` : event.type;
 * }
 * ```
 */
export interface ClientEvent {
  /** What happened. */
  type: ClientEventType;
  /** When (ISO 8601). */
  at: string;
  /** `login_failed_attempt`: which failed attempt this is, from 1. */
  attempt?: number;
  /** `login_failed_attempt`: how many attempts remain (0: the link fails). */
  attemptsLeft?: number;
  /** `login_failed_attempt`: whether the password or the verification code was refused. */
  step?: "password" | "mfa";
  /** `operation_started` / `operation_completed`: the operation. */
  operation?: OperationType;
  /** `operation_completed`: how it ended. */
  status?: "complete" | "failed";
  /** `user_exited`: why, as the link's error code (`user_abandoned`, `device_lost`, …). */
  reason?: string;
}

/**
 * The kinds of {@link ClientEvent}.
 *
 * @example
 * ```ts
 * import type { ClientEventType } from "@passage/connect/schemas";
 * const FUNNEL: ClientEventType[] = ["opened", "login_started", "login_succeeded"];
 * ```
 */
export type ClientEventType =
  | "opened"
  | "login_started"
  | "mfa_required"
  | "login_failed_attempt"
  | "login_succeeded"
  | "run_resumed"
  | "operation_started"
  | "operation_completed"
  | "user_exited";

/**
 * Every client event type, in the order a link usually meets them.
 *
 * @example
 * ```ts
 * import { CLIENT_EVENT_TYPES } from "@passage/connect/schemas";
 * CLIENT_EVENT_TYPES.includes("opened"); // true
 * ```
 */
export const CLIENT_EVENT_TYPES: readonly ClientEventType[] = [
  "opened",
  "login_started",
  "mfa_required",
  "login_failed_attempt",
  "login_succeeded",
  "run_resumed",
  "operation_started",
  "operation_completed",
  "user_exited",
];

/**
 * How many client events a link keeps (the newest).
 *
 * @example
 * ```ts
 * import { type Link, MAX_LINK_EVENTS } from "@passage/connect/schemas";
 * // at the cap, older events may have been dropped
 * const mayBeTrimmed = (link: Link) => link.events.length >= MAX_LINK_EVENTS;
 * ```
 */
export const MAX_LINK_EVENTS = 100;

/**
 * Where one operation of a link is.
 *
 * @example
 * ```ts
 * import type { Link, OperationStatus } from "@passage/connect/schemas";
 * const OVER: OperationStatus[] = ["complete", "failed", "skipped"];
 * const progress = (link: Link) =>
 *   `${link.operations.filter((op) => OVER.includes(op.status)).length}/${link.operations.length}`;
 * ```
 */
export type OperationStatus = "pending" | "running" | "complete" | "failed" | "skipped";

/**
 * Why a link failed (or expired): a stable code and a message safe to show the
 * user.
 *
 * @example
 * ```ts
 * import type { LinkError } from "@passage/connect/schemas";
 * const tellUser = (error: LinkError) =>
 *   error.code === "account_locked"
 *     ? "Your account is locked: unlock it with your provider, then try again."
 *     : error.message;
 * ```
 */
export interface LinkError {
  /**
   * `invalid_credentials`, `invalid_mfa_code`, `mfa_timeout`, `account_locked`,
   * `site_changed`, `user_abandoned`, `device_lost` (the device connected, then
   * went away), `device_never_connected` (no device connected before the link
   * expired or its session ended), `operation_failed`, `provider_unavailable`.
   */
  code: string;
  /** What went wrong, in a sentence safe to show the user. */
  message: string;
}

/**
 * A link, as every `/v1/links` route returns it.
 *
 * @example
 * ```ts
 * import { type Link, linkSchema } from "@passage/connect/schemas";
 * async function readLink(res: Response): Promise<Link> {
 *   return linkSchema.parse(await res.json());
 * }
 * ```
 */
export interface Link {
  /** The link id, such as `link_…`. */
  id: string;
  /** Always `"link"`. */
  object: "link";
  /** Where the link is in its life. */
  status: LinkStatus;
  /** Provider id, such as `"tmobile"`. */
  provider: string;
  /** The operations asked for, in order, each with where it is. */
  operations: Array<{ type: OperationType; status: OperationStatus }>;
  /**
   * Why the link failed; null unless `status` is `failed`, or `expired`
   * (`device_never_connected`).
   */
  error: LinkError | null;
  /**
   * The validated results by operation type, once `complete` (also sent in the
   * webhook); null before, and after the retention period.
   */
  results: Record<string, unknown> | null;
  /** When the link reached a final state (ISO 8601). */
  completedAt: string | null;
  /** Where the signed result webhook is sent; null when the link was created without one. */
  webhookUrl: string | null;
  /** The string pairs given at creation, returned unchanged (`{}` when none). */
  metadata: Metadata;
  /** The code the user's device claims; null once the link has left `pending`. */
  claimCode: string | null;
  /** The URL to hand the user; null once the link has left `pending`. */
  appClipUrl: string | null;
  /** When an unclaimed link expires (ISO 8601). */
  expiresAt: string;
  /** When the link was created (ISO 8601). */
  createdAt: string;
  /** When the link last changed (ISO 8601). */
  updatedAt: string;
  /** When a device claimed the link (ISO 8601); null until then. */
  claimedAt: string | null;
  /** Test links run against sandbox sites; live links against the real ones. */
  livemode: boolean;
  /** The session that runs this link: watch its telemetry at `/v1/sessions/{id}/events`. */
  sessionId: string;
  /**
   * Which kind of device produced the data, and with what attestation; null
   * until a device has connected.
   */
  device: LinkDevice | null;
  /** The app name given at creation, shown to the user; null when none was given. */
  appName: string | null;
  /** What happened on the user's side, oldest first (the newest 100 are kept). */
  events: ClientEvent[];
  /** The extra webhooks this link sends (`["client"]`); `[]` when none. */
  webhookEvents: WebhookEventsOption[];
}

/**
 * The device that ran a link, as far as Passage knows.
 *
 * - `kind`: `"reference"` when the device said in its hello that it is the
 *   reference device (`device/` on Chromium), else `"unknown"`. This is the
 *   device's own word: nothing proves it.
 * - `attestation`: always `"none"` today. No device proves what software it
 *   runs (no App Attest, Play Integrity or key attestation yet), so treat the
 *   data as coming from whatever holds the claim code.
 * - `client`: the name and version the device declared, or null.
 *
 * @example
 * ```ts
 * import type { LinkDevice } from "@passage/connect/schemas";
 * const ranOn = (device: LinkDevice) =>
 *   device.client ? `${device.client.name} ${device.client.version} (unverified)` : device.kind;
 * ```
 */
export interface LinkDevice {
  /** `"reference"` or `"extension"` for Passage's own devices' declarations, else `"unknown"`. */
  kind: "reference" | "extension" | "unknown";
  /** Always `"none"`: nothing attests the device's software yet. */
  attestation: "none";
  /** What the device said it is, unverified. */
  client: { name: string; version: string } | null;
}

/**
 * Describes {@link LinkDevice}.
 *
 * @example
 * ```ts
 * import { linkDeviceSchema } from "@passage/connect/schemas";
 * linkDeviceSchema.parse({ kind: "unknown", attestation: "none", client: null });
 * ```
 */
export const linkDeviceSchema: Schema<LinkDevice> = z.object({
  kind: z.enum(["reference", "extension", "unknown"]),
  attestation: z.literal("none"),
  client: z.object({ name: z.string(), version: z.string() }).nullable(),
}).meta({
  id: "LinkDevice",
  description:
    "The device that ran a link, as far as Passage knows: its self-declared kind, and an attestation that is always `none` today",
});

/**
 * A page of links, newest first.
 *
 * @example
 * ```ts
 * import { type LinkList, linkListSchema } from "@passage/connect/schemas";
 * const page: LinkList = linkListSchema.parse({
 *   object: "list",
 *   data: [],
 *   hasMore: false,
 *   nextCursor: null,
 * });
 * ```
 */
export interface LinkList {
  /** Always `"list"`. */
  object: "list";
  /** The links of this page, newest first. */
  data: Link[];
  /** Whether more links follow this page. */
  hasMore: boolean;
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null;
}

/**
 * The JSON body of every error response.
 *
 * @example
 * ```ts
 * import { type ApiErrorBody, apiErrorSchema } from "@passage/connect/schemas";
 * const body: ApiErrorBody = apiErrorSchema.parse({
 *   error: {
 *     type: "invalid_request_error",
 *     code: "invalid_request",
 *     message: 'Unknown body field "colour"',
 *     param: "colour",
 *   },
 * });
 * ```
 */
export interface ApiErrorBody {
  /**
   * `type` is the error family (`invalid_request_error`,
   * `authentication_error`, `not_found_error`, `conflict_error`, …), `code` a
   * stable machine-readable code such as `link_not_found`, `message` a
   * sentence for humans, and `param` the request field at fault
   * (`operations.0.type`), when there is one.
   */
  error: { type: string; code: string; message: string; param?: string };
}

const metadataSchema = z.record(
  z.string().min(1).max(40),
  z.string().max(500),
).refine((m) => Object.keys(m).length <= 50, "metadata holds at most 50 keys");

const webhookUrlSchema = z.string().max(2048).refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") &&
      !url.username &&
      !url.password;
  } catch {
    return false;
  }
}, "webhookUrl must be an absolute http(s) URL without credentials");

const appNameSchema = z.string().min(1).max(80).refine(
  // the claim page shows it to the user: no control or text-direction characters
  (name) => name.trim() !== "" && !/[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/u.test(name),
  "appName must be 1 to 80 printable characters",
);

/**
 * Validates the body of `POST /v1/links`.
 *
 * @example
 * ```ts
 * import { createLinkParamsSchema } from "@passage/connect/schemas";
 * createLinkParamsSchema.parse({ provider: "tmobile", operations: [{ type: "paymentMethod:read" }] });
 * ```
 */
export const createLinkParamsSchema: Schema<CreateLinkParams> = z
  .strictObject({
    provider: z.string().min(1).max(64),
    operations: z.array(z.strictObject({ type: operationTypeSchema })).min(
      1,
    ).max(10)
      .refine(
        (ops) => new Set(ops.map((o) => o.type)).size === ops.length,
        "operations must not repeat a type",
      ),
    webhookUrl: webhookUrlSchema.optional(),
    metadata: metadataSchema.optional(),
    expiresIn: z.int().min(60).max(604800).optional(),
    appName: appNameSchema.optional(),
    webhookEvents: z.array(webhookEventsOptionSchema).max(1).optional(),
  }).meta({ id: "CreateLinkParams", description: "The body of `POST /v1/links`" });

/**
 * Describes a {@link ClientEvent}.
 *
 * @example
 * ```ts
 * import { clientEventSchema } from "@passage/connect/schemas";
 * clientEventSchema.parse({ type: "opened", at: "2026-11-28T17:00:00.000Z" });
 * ```
 */
export const clientEventSchema: Schema<ClientEvent> = z.object({
  type: z.enum(CLIENT_EVENT_TYPES as [ClientEventType, ...ClientEventType[]]).meta({
    id: "ClientEventType",
    description: "What happened on the user's side of a link",
  }),
  at: z.iso.datetime(),
  attempt: z.int().min(1).optional(),
  attemptsLeft: z.int().min(0).optional(),
  step: z.enum(["password", "mfa"]).optional(),
  operation: operationTypeSchema.optional(),
  status: z.enum(["complete", "failed"]).optional(),
  reason: z.string().optional(),
}).meta({
  id: "ClientEvent",
  description:
    "What happened on the user's side of a link: the kind and when, plus a few safe fields; never a typed value or anything read from the page",
});

/**
 * Describes a link as the API returns it.
 *
 * @example
 * ```ts
 * import { linkSchema } from "@passage/connect/schemas";
 * const check = (body: unknown) => linkSchema.parse(body);
 * ```
 */
export const linkSchema: Schema<Link> = z.object({
  id: z.string(),
  object: z.literal("link"),
  status: linkStatusSchema,
  provider: z.string(),
  operations: z.array(
    z.object({
      type: operationTypeSchema,
      status: z.enum(["pending", "running", "complete", "failed", "skipped"]).meta({
        id: "OperationStatus",
        description: "Where one operation of a link is",
      }),
    }).meta({ id: "LinkOperation", description: "One operation of a link and where it is" }),
  ),
  error: z.object({
    code: z.string().describe(
      "invalid_credentials, invalid_mfa_code, mfa_timeout, account_locked, site_changed, user_abandoned, device_lost, device_never_connected, operation_failed, provider_unavailable",
    ),
    message: z.string().describe("What went wrong, in a sentence safe to show the user"),
  }).meta({
    id: "LinkError",
    description:
      "Why a link failed (or expired): a stable code and a message safe to show the user",
  }).nullable(),
  results: z.record(z.string(), z.unknown()).nullable(),
  completedAt: z.iso.datetime().nullable(),
  webhookUrl: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  claimCode: z.string().nullable(),
  appClipUrl: z.string().nullable(),
  expiresAt: z.iso.datetime(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  claimedAt: z.iso.datetime().nullable(),
  livemode: z.boolean(),
  sessionId: z.string(),
  device: linkDeviceSchema.nullable(),
  appName: z.string().nullable(),
  events: z.array(clientEventSchema),
  webhookEvents: z.array(webhookEventsOptionSchema),
}).meta({ id: "Link", description: "A link, as every `/v1/links` route returns it" });

/**
 * Describes a page of links.
 *
 * @example
 * ```ts
 * import { linkListSchema } from "@passage/connect/schemas";
 * const check = (body: unknown) => linkListSchema.parse(body);
 * ```
 */
export const linkListSchema: Schema<LinkList> = z.object({
  object: z.literal("list"),
  data: z.array(linkSchema),
  hasMore: z.boolean(),
  nextCursor: z.string().nullable(),
}).meta({ id: "LinkList", description: "A page of links, newest first" });

/**
 * The query of `GET /v1/links`.
 *
 * @example
 * ```ts
 * import type { ListLinksParams } from "@passage/connect/schemas";
 * const first: ListLinksParams = { limit: 100 };
 * const next = (nextCursor: string): ListLinksParams => ({ ...first, cursor: nextCursor });
 * ```
 */
export interface ListLinksParams {
  /** Page size, 1 to 100 (default 20). */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

/**
 * Validates the query of `GET /v1/links`.
 *
 * @example
 * ```ts
 * import { listLinksQuerySchema } from "@passage/connect/schemas";
 * listLinksQuerySchema.parse({ limit: "10" }); // { limit: 10 }
 * ```
 */
export const listLinksQuerySchema: Schema<
  ListLinksParams,
  { limit?: string; cursor?: string }
> = z.strictObject({
  limit: z.string().regex(/^\d+$/, "limit must be a whole number").transform(
    Number,
  )
    .pipe(z.int().min(1).max(100)).optional()
    .meta({ description: "Page size, 1 to 100", default: 20 }),
  cursor: z.string().min(1).max(200).optional()
    .describe("The `nextCursor` of the previous page; leave it out for the first page"),
});

/**
 * The body of `POST /v1/device/claim`.
 *
 * @example
 * ```ts
 * import { type DeviceClaimParams, deviceClaimParamsSchema } from "@passage/connect/schemas";
 * const params: DeviceClaimParams = { claimCode: "k7qd2 9xw4m" }; // as typed: K7QD2-9XW4M
 * deviceClaimParamsSchema.parse(params);
 * ```
 */
export interface DeviceClaimParams {
  /** The claim code, as shown to the user (dashes, spaces and case ignored). */
  claimCode: string;
}

/**
 * Validates the body of `POST /v1/device/claim`.
 *
 * @example
 * ```ts
 * import { deviceClaimParamsSchema } from "@passage/connect/schemas";
 * deviceClaimParamsSchema.parse({ claimCode: "K7QD2-9XW4M" });
 * ```
 */
export const deviceClaimParamsSchema: Schema<DeviceClaimParams> = z
  .strictObject({
    claimCode: z.string().min(1).max(64),
  }).meta({ id: "DeviceClaimParams", description: "The body of `POST /v1/device/claim`" });

/**
 * What a device gets for a valid claim code.
 *
 * @example
 * ```ts
 * import type { DeviceClaim } from "@passage/connect/schemas";
 * // whether the claim lets the device open `url` as the top page (private addresses aside)
 * const listed = (claim: DeviceClaim, url: string) =>
 *   claim.allowedOrigins === null || claim.allowedOrigins.includes(new URL(url).origin);
 * ```
 */
export interface DeviceClaim {
  /** Bearer token for the device's socket (sent in its hello, never in a URL). */
  deviceToken: string;
  /** When the token stops working (ISO 8601). */
  expiresAt: string;
  /** The session the device now holds. */
  sessionId: string;
  /** What the link asks for, for Connect sessions; null for Sessions API ones. */
  link: {
    /** The link id, such as `link_…`. */
    id: string;
    /** Provider id, such as `"tmobile"`. */
    provider: string;
    /** The provider's name to show the user, such as `"T-Mobile"`. */
    providerName: string;
    /** The operations the link asks for, in order. */
    operations: Array<{ type: OperationType }>;
  } | null;
  /**
   * The origins (`https://www.t-mobile.com`) the device may load as the top
   * page: a Connect link's provider origins, or those a Sessions API session
   * was created with. Null: any public origin (a Sessions API session created
   * without `allowedOrigins`). Loopback and private-network addresses are
   * refused either way unless the device's operator allows them.
   */
  allowedOrigins: string[] | null;
}

/**
 * Describes the answer of `POST /v1/device/claim`.
 *
 * @example
 * ```ts
 * import { deviceClaimSchema } from "@passage/connect/schemas";
 * const check = (body: unknown) => deviceClaimSchema.parse(body);
 * ```
 */
export const deviceClaimSchema: Schema<DeviceClaim> = z.object({
  deviceToken: z.string(),
  expiresAt: z.iso.datetime(),
  sessionId: z.string(),
  link: z.object({
    id: z.string(),
    provider: z.string(),
    providerName: z.string(),
    operations: z.array(z.object({ type: operationTypeSchema })),
  }).meta({
    id: "DeviceClaimLink",
    description: "What a link asks for, as its device shows the user",
  }).nullable(),
  allowedOrigins: z.array(z.string()).nullable(),
}).meta({ id: "DeviceClaim", description: "What a device gets for a valid claim code" });

/**
 * Describes every error body.
 *
 * @example
 * ```ts
 * import { apiErrorSchema } from "@passage/connect/schemas";
 * apiErrorSchema.parse({ error: { type: "not_found_error", code: "link_not_found", message: "No link" } });
 * ```
 */
export const apiErrorSchema: Schema<ApiErrorBody> = z.object({
  error: z.object({
    type: z.string(),
    code: z.string(),
    message: z.string(),
    param: z.string().optional(),
  }),
});

/**
 * Where a session is: waiting for a device, running, or over.
 *
 * @example
 * ```ts
 * import type { SessionStatus } from "@passage/connect/schemas";
 * const SHOWN: Record<SessionStatus, string> = {
 *   pending: "Waiting for your device",
 *   active: "Running",
 *   ended: "Over",
 * };
 * ```
 */
export type SessionStatus = "pending" | "active" | "ended";

/**
 * The body of `POST /v1/sessions`.
 *
 * @example
 * ```ts
 * import { type CreateSessionParams, createSessionParamsSchema } from "@passage/connect/schemas";
 * const params: CreateSessionParams = {
 *   idleTimeout: 120,
 *   allowedOrigins: ["https://www.example.com"],
 *   appName: "Acme Budget",
 * };
 * createSessionParamsSchema.parse(params); // what the server accepts
 * ```
 */
export interface CreateSessionParams {
  /** Seconds without a command before the session ends (10 to 3600; default 300). */
  idleTimeout?: number;
  /** Seconds the session may last once claimed (30 to 14400; default 1800). */
  maxDuration?: number;
  /** Seconds until an unclaimed session expires (60 to 604800; default 14400). */
  expiresIn?: number;
  /** Up to 50 string pairs, returned unchanged. */
  metadata?: Metadata;
  /**
   * The origins the device may load as the top page, such as
   * `["https://www.example.com", "https://login.example.com"]`: each an
   * http(s) scheme, host and optional port, without path, query or fragment
   * (normalised as `new URL(origin).origin`); at most 20. Left out, the
   * session may open any public website, and the user is told so when they
   * claim it.
   */
  allowedOrigins?: string[];
  /** Your app's name as the user knows it (1 to 80 characters): the claim page says who asks. */
  appName?: string;
}

/**
 * A session, as every `/v1/sessions` route returns it.
 *
 * @example
 * ```ts
 * import type { Session } from "@passage/connect/schemas";
 * const state = (session: Session) =>
 *   session.status === "ended" ? `ended: ${session.endReason}` : `${session.status}, ${session.device}`;
 * ```
 */
export interface Session {
  /** The session id, such as `sess_…`. */
  id: string;
  /** Always `"session"`. */
  object: "session";
  /** `pending` until a device claims it, `active` while it runs, `ended` after. */
  status: SessionStatus;
  /** Whether a device holds the session now. */
  device: "none" | "connected" | "disconnected";
  /** The link this session runs, for Connect sessions; null for Sessions API ones. */
  linkId: string | null;
  /** The code the user's device claims; null once claimed. */
  claimCode: string | null;
  /** The URL to hand the user; null once claimed. */
  appClipUrl: string | null;
  /** Seconds without a command before the session ends with `idle_timeout`. */
  idleTimeout: number;
  /** Seconds the session may last once claimed before it ends with `max_duration`. */
  maxDuration: number;
  /** The string pairs given at creation, returned unchanged (`{}` when none). */
  metadata: Metadata;
  /** When an unclaimed session expires (ISO 8601). */
  expiresAt: string;
  /** When the session was created (ISO 8601). */
  createdAt: string;
  /** When a device claimed the session (ISO 8601); null until then. */
  claimedAt: string | null;
  /** When the session ended (ISO 8601); null until it has. */
  endedAt: string | null;
  /** Why it ended: `ended_by_developer`, `idle_timeout`, `max_duration`, `device_lost`, `expired`, `completed`, `cancelled`. */
  endReason: string | null;
  /** True for sessions created with a live key (`sk_live_…`), false for test keys. */
  livemode: boolean;
  /** The origins the device may load, normalised; null: any public origin. */
  allowedOrigins: string[] | null;
  /** The app name given at creation, shown to the user; null when none was given. */
  appName: string | null;
}

/**
 * A page of sessions, newest first.
 *
 * @example
 * ```ts
 * import type { SessionList } from "@passage/connect/schemas";
 * const running = (page: SessionList) => page.data.filter((session) => session.status === "active");
 * ```
 */
export interface SessionList {
  /** Always `"list"`. */
  object: "list";
  /** The sessions of this page, newest first. */
  data: Session[];
  /** Whether more sessions follow this page. */
  hasMore: boolean;
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null;
}

/**
 * Validates the body of `POST /v1/sessions`.
 *
 * @example
 * ```ts
 * import { createSessionParamsSchema } from "@passage/connect/schemas";
 * createSessionParamsSchema.parse({ idleTimeout: 120 });
 * ```
 */
export const createSessionParamsSchema: Schema<CreateSessionParams> = z.strictObject({
  idleTimeout: z.int().min(10).max(3600).optional(),
  maxDuration: z.int().min(30).max(4 * 3600).optional(),
  expiresIn: z.int().min(60).max(604800).optional(),
  metadata: metadataSchema.optional(),
  allowedOrigins: z.array(
    z.string().max(300).refine(
      isOrigin,
      "allowedOrigins entries must be http(s) origins (scheme, host, optional port), without path, query or fragment",
    ),
  ).min(1).max(20).optional(),
  appName: appNameSchema.optional(),
}).meta({ id: "CreateSessionParams", description: "The body of `POST /v1/sessions`" });

/**
 * Whether `value` is an http(s) origin: scheme, host and optional port, with
 * no credentials, path, query or fragment (a trailing `/` is allowed).
 *
 * @example
 * ```ts
 * import { isOrigin } from "@passage/connect/schemas";
 * isOrigin("https://www.example.com"); // true
 * isOrigin("http://localhost:8000/"); // true
 * isOrigin("https://example.com/login"); // false
 * isOrigin("*"); // false
 * ```
 */
export function isOrigin(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (url.protocol === "https:" || url.protocol === "http:") &&
    url.hostname !== "" && !url.username && !url.password && url.pathname === "/" &&
    !value.includes("?") && !value.includes("#") &&
    /^https?:\/\/[^/?#]+\/?$/i.test(value);
}

/**
 * Describes a session as the API returns it.
 *
 * @example
 * ```ts
 * import { sessionSchema } from "@passage/connect/schemas";
 * const check = (body: unknown) => sessionSchema.parse(body);
 * ```
 */
export const sessionSchema: Schema<Session> = z.object({
  id: z.string(),
  object: z.literal("session"),
  status: z.enum(["pending", "active", "ended"]).meta({
    id: "SessionStatus",
    description: "Where a session is: waiting for a device, running, or over",
  }),
  device: z.enum(["none", "connected", "disconnected"]),
  linkId: z.string().nullable(),
  claimCode: z.string().nullable(),
  appClipUrl: z.string().nullable(),
  idleTimeout: z.int(),
  maxDuration: z.int(),
  metadata: z.record(z.string(), z.string()),
  expiresAt: z.iso.datetime(),
  createdAt: z.iso.datetime(),
  claimedAt: z.iso.datetime().nullable(),
  endedAt: z.iso.datetime().nullable(),
  endReason: z.string().nullable(),
  livemode: z.boolean(),
  allowedOrigins: z.array(z.string()).nullable(),
  appName: z.string().nullable(),
}).meta({ id: "Session", description: "A session, as every `/v1/sessions` route returns it" });

/**
 * Describes a page of sessions.
 *
 * @example
 * ```ts
 * import { sessionListSchema } from "@passage/connect/schemas";
 * const check = (body: unknown) => sessionListSchema.parse(body);
 * ```
 */
export const sessionListSchema: Schema<SessionList> = z.object({
  object: z.literal("list"),
  data: z.array(sessionSchema),
  hasMore: z.boolean(),
  nextCursor: z.string().nullable(),
}).meta({ id: "SessionList", description: "A page of sessions, newest first" });
