/**
 * The request and response shapes of the Passage REST API, as zod schemas. The
 * server validates requests with these same schemas and generates its OpenAPI
 * document from them, so the SDK and the server cannot drift apart.
 *
 * @module
 */
import { z } from "zod";

/**
 * Every operation type a link may request.
 *
 * @example
 * ```ts
 * import { OPERATION_TYPES } from "@passage/connect/schemas";
 * OPERATION_TYPES.includes("paymentMethod:read"); // true
 * ```
 */
export const OPERATION_TYPES = [
  "mobileBillingStatement:read",
  "utilityBillingStatement:read",
  "paymentMethod:read",
  "orderHistory:read",
  "insurancePolicy:read",
  "accountOwnership:verify",
] as const;

/** One operation type, such as `"mobileBillingStatement:read"`. */
export type OperationType = typeof OPERATION_TYPES[number];

/**
 * Where a link is in its life. It only moves forward: `pending` → `claimed` →
 * `running` → `complete` | `failed`, or to `expired` | `cancelled`.
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

/** Free-form string pairs a developer attaches to a link. */
export type Metadata = Record<string, string>;

/** The body of `POST /v1/links`. */
export interface CreateLinkParams {
  /** Provider id, such as `"tmobile"`. */
  provider: string;
  /** Operations to run after the user's single login, in order. */
  operations: Array<{ type: OperationType }>;
  /** Where the signed result webhook is sent. */
  webhookUrl?: string;
  /** Up to 50 string pairs, returned unchanged. */
  metadata?: Metadata;
  /** Seconds until an unclaimed link expires (60 to 604800; default 14400). */
  expiresIn?: number;
}

/** Where one operation of a link is. */
export type OperationStatus = "pending" | "running" | "complete" | "failed" | "skipped";

/** Why a link failed: a stable code and a message safe to show the user. */
export interface LinkError {
  /**
   * `invalid_credentials`, `mfa_timeout`, `account_locked`, `site_changed`,
   * `user_abandoned`, `device_lost`, `operation_failed`, `provider_unavailable`.
   */
  code: string;
  message: string;
}

/** A link, as every `/v1/links` route returns it. */
export interface Link {
  id: string;
  object: "link";
  status: LinkStatus;
  provider: string;
  /** The operations asked for, in order, each with where it is. */
  operations: Array<{ type: OperationType; status: OperationStatus }>;
  /** Why the link failed; null unless `status` is `failed`. */
  error: LinkError | null;
  /**
   * The validated results by operation type, once `complete` (also sent in the
   * webhook); null before, and after the retention period.
   */
  results: Record<string, unknown> | null;
  /** When the link reached a final state (ISO 8601). */
  completedAt: string | null;
  webhookUrl: string | null;
  metadata: Metadata;
  /** The code the user's device claims; null once the link has left `pending`. */
  claimCode: string | null;
  /** The URL to hand the user; null once the link has left `pending`. */
  appClipUrl: string | null;
  /** When an unclaimed link expires (ISO 8601). */
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
  claimedAt: string | null;
  /** Test links run against sandbox sites; live links against the real ones. */
  livemode: boolean;
  /** The session that runs this link: watch its telemetry at `/v1/sessions/{id}/events`. */
  sessionId: string;
}

/** A page of links, newest first. */
export interface LinkList {
  object: "list";
  data: Link[];
  hasMore: boolean;
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null;
}

/** The JSON body of every error response. */
export interface ApiErrorBody {
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

/**
 * Validates the body of `POST /v1/links`.
 *
 * @example
 * ```ts
 * import { createLinkParamsSchema } from "@passage/connect/schemas";
 * createLinkParamsSchema.parse({ provider: "tmobile", operations: [{ type: "paymentMethod:read" }] });
 * ```
 */
export const createLinkParamsSchema: z.ZodType<CreateLinkParams> = z
  .strictObject({
    provider: z.string().min(1).max(64),
    operations: z.array(z.strictObject({ type: z.enum(OPERATION_TYPES) })).min(
      1,
    ).max(10)
      .refine(
        (ops) => new Set(ops.map((o) => o.type)).size === ops.length,
        "operations must not repeat a type",
      ),
    webhookUrl: webhookUrlSchema.optional(),
    metadata: metadataSchema.optional(),
    expiresIn: z.int().min(60).max(604800).optional(),
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
export const linkSchema: z.ZodType<Link> = z.object({
  id: z.string(),
  object: z.literal("link"),
  status: z.enum(LINK_STATUSES as [LinkStatus, ...LinkStatus[]]),
  provider: z.string(),
  operations: z.array(z.object({
    type: z.enum(OPERATION_TYPES),
    status: z.enum(["pending", "running", "complete", "failed", "skipped"]),
  })),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
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
});

/**
 * Describes a page of links.
 *
 * @example
 * ```ts
 * import { linkListSchema } from "@passage/connect/schemas";
 * const check = (body: unknown) => linkListSchema.parse(body);
 * ```
 */
export const linkListSchema: z.ZodType<LinkList> = z.object({
  object: z.literal("list"),
  data: z.array(linkSchema),
  hasMore: z.boolean(),
  nextCursor: z.string().nullable(),
});

/** The query of `GET /v1/links`. */
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
export const listLinksQuerySchema: z.ZodType<
  ListLinksParams,
  { limit?: string; cursor?: string }
> = z.strictObject({
  limit: z.string().regex(/^\d+$/, "limit must be a whole number").transform(
    Number,
  )
    .pipe(z.int().min(1).max(100)).optional(),
  cursor: z.string().min(1).max(200).optional(),
});

/** The body of `POST /v1/device/claim`. */
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
export const deviceClaimParamsSchema: z.ZodType<DeviceClaimParams> = z
  .strictObject({
    claimCode: z.string().min(1).max(64),
  });

/** What a device gets for a valid claim code. */
export interface DeviceClaim {
  /** Bearer token for the device's socket (sent in its hello, never in a URL). */
  deviceToken: string;
  /** When the token stops working (ISO 8601). */
  expiresAt: string;
  /** The session the device now holds. */
  sessionId: string;
  /** What the link asks for, for Connect sessions; null for Sessions API ones. */
  link: {
    id: string;
    provider: string;
    providerName: string;
    operations: Array<{ type: OperationType }>;
  } | null;
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
export const deviceClaimSchema: z.ZodType<DeviceClaim> = z.object({
  deviceToken: z.string(),
  expiresAt: z.iso.datetime(),
  sessionId: z.string(),
  link: z.object({
    id: z.string(),
    provider: z.string(),
    providerName: z.string(),
    operations: z.array(z.object({ type: z.enum(OPERATION_TYPES) })),
  }).nullable(),
});

/**
 * Describes every error body.
 *
 * @example
 * ```ts
 * import { apiErrorSchema } from "@passage/connect/schemas";
 * apiErrorSchema.parse({ error: { type: "not_found_error", code: "link_not_found", message: "No link" } });
 * ```
 */
export const apiErrorSchema: z.ZodType<ApiErrorBody> = z.object({
  error: z.object({
    type: z.string(),
    code: z.string(),
    message: z.string(),
    param: z.string().optional(),
  }),
});

/** Where a session is: waiting for a device, running, or over. */
export type SessionStatus = "pending" | "active" | "ended";

/** The body of `POST /v1/sessions`. */
export interface CreateSessionParams {
  /** Seconds without a command before the session ends (default 300). */
  idleTimeout?: number;
  /** Seconds the session may last in all (default 1800). */
  maxDuration?: number;
  /** Seconds until an unclaimed session expires (default 14400). */
  expiresIn?: number;
  /** Up to 50 string pairs, returned unchanged. */
  metadata?: Metadata;
}

/** A session, as every `/v1/sessions` route returns it. */
export interface Session {
  id: string;
  object: "session";
  status: SessionStatus;
  /** Whether a device holds the session now. */
  device: "none" | "connected" | "disconnected";
  /** The link this session runs, for Connect sessions; null for Sessions API ones. */
  linkId: string | null;
  /** The code the user's device claims; null once claimed. */
  claimCode: string | null;
  /** The URL to hand the user; null once claimed. */
  appClipUrl: string | null;
  idleTimeout: number;
  maxDuration: number;
  metadata: Metadata;
  expiresAt: string;
  createdAt: string;
  claimedAt: string | null;
  endedAt: string | null;
  /** Why it ended: `ended_by_developer`, `idle_timeout`, `max_duration`, `device_lost`, `expired`, `completed`, `cancelled`. */
  endReason: string | null;
  livemode: boolean;
}

/** A page of sessions, newest first. */
export interface SessionList {
  object: "list";
  data: Session[];
  hasMore: boolean;
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
export const createSessionParamsSchema: z.ZodType<CreateSessionParams> = z.strictObject({
  idleTimeout: z.int().min(10).max(3600).optional(),
  maxDuration: z.int().min(30).max(4 * 3600).optional(),
  expiresIn: z.int().min(60).max(604800).optional(),
  metadata: metadataSchema.optional(),
});

/**
 * Describes a session as the API returns it.
 *
 * @example
 * ```ts
 * import { sessionSchema } from "@passage/connect/schemas";
 * const check = (body: unknown) => sessionSchema.parse(body);
 * ```
 */
export const sessionSchema: z.ZodType<Session> = z.object({
  id: z.string(),
  object: z.literal("session"),
  status: z.enum(["pending", "active", "ended"]),
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
});

/**
 * Describes a page of sessions.
 *
 * @example
 * ```ts
 * import { sessionListSchema } from "@passage/connect/schemas";
 * const check = (body: unknown) => sessionListSchema.parse(body);
 * ```
 */
export const sessionListSchema: z.ZodType<SessionList> = z.object({
  object: z.literal("list"),
  data: z.array(sessionSchema),
  hasMore: z.boolean(),
  nextCursor: z.string().nullable(),
});
