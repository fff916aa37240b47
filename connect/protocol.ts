/**
 * The relay protocol, version 1: every message on the device socket and the
 * controller socket, as TypeScript types and the zod schemas that check them.
 * The server, the SDK and the reference device all import this one file; see
 * `relay/PROTOCOL.md` for the prose description.
 *
 * @module
 */
import { z } from "zod";
import type { ClientEvent, Schema } from "./schemas.ts";

export type { Schema };

/**
 * The protocol version carried in every `hello` and `welcome`.
 *
 * @example
 * ```ts
 * import { PROTOCOL_VERSION } from "@passage/connect/protocol";
 * const hello = { type: "hello", v: PROTOCOL_VERSION, apiKey: "sk_test_…" };
 * ```
 */
export const PROTOCOL_VERSION = 1 as const;

// ---------------------------------------------------------------- commands

/**
 * A condition that ends a `yieldToUser`.
 *
 * @example
 * ```ts
 * import type { YieldCondition } from "@passage/connect/protocol";
 * const loggedIn: YieldCondition = { type: "url", urlContains: "/account" };
 * ```
 */
export type YieldCondition =
  | {
    /** A network response whose URL contains `urlContains`. */
    type: "networkRequest";
    urlContains: string;
    /** Only requests with this method (any when omitted). */
    method?: string;
    /** Return that response's body as `networkCapture.responseBody`. */
    captureBody?: boolean;
  }
  | {
    /** An element matching `selector` appears. */
    type: "selector";
    selector: string;
  }
  | {
    /** The page URL contains `urlContains` (or matches `urlMatches`, a regular expression). */
    type: "url";
    urlContains?: string;
    urlMatches?: string;
  };

/**
 * Parameters and results of every command, by command name.
 *
 * @example
 * ```ts
 * import type { Commands } from "@passage/connect/protocol";
 * const params: Commands["navigate"]["params"] = { url: "https://example.com" };
 * ```
 */
export interface Commands {
  /** Loads a URL in the device's browser. */
  navigate: {
    params: { url: string; waitUntil?: "load" | "domcontentloaded" | "networkidle" };
    result: { url: string; status: number | null };
  };
  /** Clicks the first element matching `selector`. */
  click: { params: { selector: string }; result: Record<string, never> };
  /** Replaces the value of an input. Refused on password fields. */
  fill: { params: { selector: string; value: string }; result: Record<string, never> };
  /** Types text key by key into an element. */
  type: {
    params: { selector: string; text: string; delayMs?: number };
    result: Record<string, never>;
  };
  /** Presses a key (`"Enter"`, `"Tab"`…), optionally focusing `selector` first. */
  press: { params: { key: string; selector?: string }; result: Record<string, never> };
  /** Chooses options of a `<select>` by value. */
  select: { params: { selector: string; values: string[] }; result: { values: string[] } };
  /** Waits until an element matching `selector` reaches `state` (default `"visible"`). */
  waitForSelector: {
    params: { selector: string; state?: "attached" | "visible" | "hidden" };
    result: { found: boolean };
  };
  /** Waits for the next navigation, or for the URL to contain `urlContains`. */
  waitForNavigation: { params: { urlContains?: string }; result: { url: string } };
  /** The inner HTML of the first element matching `selector`. */
  innerHTML: { params: { selector: string }; result: { html: string } };
  /** The text content of the first element matching `selector`. */
  textContent: { params: { selector: string }; result: { text: string } };
  /** An attribute of the first element matching `selector` (null when absent). */
  getAttribute: {
    params: { selector: string; name: string };
    result: { value: string | null };
  };
  /**
   * Evaluates a JavaScript expression against a snapshot of the page's
   * document, never the live page: the device copies the document (shadow
   * roots included, scripts and secrets left out) into a sandbox with no
   * network and no path back to the page, where `document`, `window` and
   * `location` describe that copy. The (awaited) result must be JSON.
   */
  evaluate: { params: { expression: string }; result: { value: unknown } };
  /**
   * A `GET` of a JSON URL on the page's own origin, made by the device with
   * the page's cookies (`credentials: "include"`, no redirects). The body
   * comes back scrubbed of every secret the device knows, and of every
   * token-shaped field in it; an answer that is not JSON is refused.
   */
  fetch: {
    /** `url`: absolute, or a path (`/api/account`) on the page's origin. */
    params: { url: string; accept?: string };
    result: { url: string; status: number; contentType: string; body: string };
  };
  /** A screenshot of the viewport (or the whole page), base64-encoded. */
  screenshot: {
    params: { fullPage?: boolean; format?: "jpeg" | "png"; quality?: number };
    result: { format: "jpeg" | "png"; data: string };
  };
  /** The page's current URL. */
  url: { params: Record<string, never>; result: { url: string } };
  /**
   * Hands the browser to the human until any condition holds. While it waits,
   * every other command is refused with `user_has_control`.
   */
  yieldToUser: {
    params: {
      status?: { heading?: string; subheading?: string };
      conditions: YieldCondition[];
      /** Milliseconds before it fails with `yield_timeout`. */
      timeout: number;
    };
    result: {
      /** Which condition held: its index in `conditions` and its type. */
      condition: { index: number; type: YieldCondition["type"] };
      url: string;
      networkCapture?: NetworkCapture;
    };
  };
  /** From now on, keep the bodies of responses whose URL contains `urlContains`. */
  captureResponses: { params: { urlContains: string }; result: Record<string, never> };
  /** The responses captured so far (optionally only those matching `urlContains`). */
  readCapturedResponses: {
    params: { urlContains?: string };
    result: { responses: NetworkCapture[] };
  };
}

/**
 * A network response captured on the device.
 *
 * @example
 * ```ts
 * import type { NetworkCapture } from "@passage/connect/protocol";
 * const json = (c: NetworkCapture) => JSON.parse(c.responseBody ?? "null");
 * ```
 */
export interface NetworkCapture {
  /** The response's URL. */
  url: string;
  /** The request's HTTP method, such as `"GET"`. */
  method: string;
  /** The response's HTTP status code. */
  status: number;
  /** The body as text; present only when capture was asked for. */
  responseBody?: string;
}

/**
 * The name of a command.
 *
 * @example
 * ```ts
 * import type { CommandName } from "@passage/connect/protocol";
 * const name: CommandName = "yieldToUser";
 * ```
 */
export type CommandName = keyof Commands;

/**
 * Every command name.
 *
 * @example
 * ```ts
 * import { COMMAND_NAMES } from "@passage/connect/protocol";
 * COMMAND_NAMES.includes("yieldToUser"); // true
 * ```
 */
export const COMMAND_NAMES: readonly CommandName[] = [
  "navigate",
  "click",
  "fill",
  "type",
  "press",
  "select",
  "waitForSelector",
  "waitForNavigation",
  "innerHTML",
  "textContent",
  "getAttribute",
  "evaluate",
  "fetch",
  "screenshot",
  "url",
  "yieldToUser",
  "captureResponses",
  "readCapturedResponses",
];

/**
 * Stable codes a command can fail with.
 *
 * @example
 * ```ts
 * import type { CommandErrorCode } from "@passage/connect/protocol";
 * const retryable = (code: CommandErrorCode) => code === "timeout";
 * ```
 */
export type CommandErrorCode =
  | "invalid_command"
  | "unknown_command"
  | "selector_not_found"
  | "timeout"
  | "yield_timeout"
  | "navigation_failed"
  | "evaluation_failed"
  | "user_has_control"
  | "refused"
  | "device_error"
  | "device_lost"
  | "session_ended";

/**
 * Why a command failed.
 *
 * @example
 * ```ts
 * import type { CommandError } from "@passage/connect/protocol";
 * const err: CommandError = { code: "selector_not_found", message: "click: no element matches #go" };
 * ```
 */
export interface CommandError {
  /** A stable code to branch on, such as `selector_not_found`. */
  code: CommandErrorCode;
  /** What went wrong, for logs: `"click: no element matches #go"`. */
  message: string;
}

// ------------------------------------------------------------- telemetry

/**
 * Something that happened on the device, streamed live to controllers and SSE.
 * Every event has `at`, when it happened on the device (ISO 8601).
 *
 * @example
 * ```ts
 * import type { TelemetryEvent } from "@passage/connect/protocol";
 * const log = (e: TelemetryEvent) => e.kind === "console" && console.log(e.text);
 * ```
 */
export type TelemetryEvent =
  | { kind: "console"; at: string; level: string; text: string }
  | {
    kind: "request";
    at: string;
    requestId: string;
    method: string;
    url: string;
    resourceType: string;
  }
  | {
    kind: "response";
    at: string;
    requestId: string;
    method: string;
    url: string;
    status: number;
    mimeType: string;
    durationMs: number;
  }
  | { kind: "requestFailed"; at: string; requestId: string; url: string; errorText: string }
  | { kind: "navigation"; at: string; url: string }
  | {
    kind: "screenshot";
    at: string;
    format: "jpeg" | "png";
    /** Base64 image data. */
    data: string;
    /** True when inputs were masked because the human had control. */
    masked: boolean;
  }
  | { kind: "yield"; at: string; state: "started" | "ended" }
  /** Made by the server, never accepted from a device: a session reached a telemetry quota. */
  | {
    kind: "notice";
    at: string;
    code: "telemetry_quota_reached" | "screenshot_quota_reached";
    message: string;
  };

// ------------------------------------------------------------- messages

/**
 * The first message a device sends after opening its socket.
 *
 * @example
 * ```ts
 * import type { DeviceHello } from "@passage/connect/protocol";
 * const hello: DeviceHello = { type: "hello", v: 1, token: "dt_…", lastCommandSeq: 0 };
 * ```
 */
export interface DeviceHello {
  /** Always `"hello"`. */
  type: "hello";
  /** The protocol version, {@linkcode PROTOCOL_VERSION}. */
  v: typeof PROTOCOL_VERSION;
  /** The device token from `POST /v1/device/claim`. */
  token: string;
  /** The highest command `seq` this device has received (0 if none). */
  lastCommandSeq: number;
  /**
   * What software the device says it is (optional, self-declared, not
   * attested): the reference device sends
   * `{name: REFERENCE_DEVICE_NAME, version}`. Shown to developers as the
   * link's `device.kind`.
   */
  client?: DeviceClient;
}

/**
 * A device's self-declared software, from its hello.
 *
 * @example
 * ```ts
 * import type { DeviceClient } from "@passage/connect/protocol";
 * const client: DeviceClient = { name: "acme-ios-app-clip", version: "1.2.0" };
 * ```
 */
export interface DeviceClient {
  /** Such as `"passage-reference-device"` or `"acme-ios-app-clip"` (1 to 64 characters). */
  name: string;
  /** Its version, such as `"0.1.0"` (1 to 64 characters). */
  version: string;
}

/**
 * The `client.name` the reference device (`device/`) sends in its hello.
 *
 * @example
 * ```ts
 * import { REFERENCE_DEVICE_NAME } from "@passage/connect/protocol";
 * const hello = { type: "hello", v: 1, token: "dt_…", lastCommandSeq: 0, client: { name: REFERENCE_DEVICE_NAME, version: "0.1.0" } };
 * ```
 */
export const REFERENCE_DEVICE_NAME = "passage-reference-device";

/**
 * The name the Passage browser extension declares in its hello.
 *
 * @example
 * ```ts
 * import { EXTENSION_DEVICE_NAME } from "@passage/connect/protocol";
 * const client = { name: EXTENSION_DEVICE_NAME, version: "0.1.0" };
 * ```
 */
export const EXTENSION_DEVICE_NAME = "passage-extension";

/**
 * A command's outcome, sent by the device. `seq` numbers the device's messages from 1.
 *
 * @example
 * ```ts
 * import type { DeviceResult } from "@passage/connect/protocol";
 * const done: DeviceResult = { type: "result", seq: 2, id: "cmd_1", ok: true, value: {} };
 * ```
 */
export type DeviceResult =
  | { type: "result"; seq: number; id: string; ok: true; value: unknown }
  | { type: "result"; seq: number; id: string; ok: false; error: CommandError };

/**
 * A telemetry event, sent by the device.
 *
 * @example
 * ```ts
 * import type { DeviceTelemetry } from "@passage/connect/protocol";
 * const t: DeviceTelemetry = { type: "telemetry", seq: 3, event: { kind: "console", at: "2026-11-28T17:00:00.000Z", level: "log", text: "hi" } };
 * ```
 */
export interface DeviceTelemetry {
  /** Always `"telemetry"`. */
  type: "telemetry";
  /** Numbers the device's messages from 1 over the whole session. */
  seq: number;
  /** What happened. */
  event: TelemetryEvent;
}

/**
 * Any message a device sends.
 *
 * @example
 * ```ts
 * import type { DeviceMessage } from "@passage/connect/protocol";
 * const isHello = (m: DeviceMessage) => m.type === "hello";
 * ```
 */
export type DeviceMessage = DeviceHello | DeviceResult | DeviceTelemetry;

/**
 * What the server sends a device.
 *
 * @example
 * ```ts
 * import type { ServerToDevice } from "@passage/connect/protocol";
 * const ack: ServerToDevice = { type: "ack", seq: 4 };
 * ```
 */
export type ServerToDevice =
  | {
    type: "welcome";
    v: typeof PROTOCOL_VERSION;
    sessionId: string;
    /** The highest device `seq` the server has stored: resend everything after it. */
    lastDeviceSeq: number;
  }
  | {
    type: "command";
    /** Numbers commands for this session from 1; the device reports the last it saw. */
    seq: number;
    id: string;
    name: CommandName;
    params: unknown;
    /** Milliseconds the device has to answer. */
    timeoutMs: number;
  }
  | { type: "ack"; seq: number }
  | { type: "end"; reason: string }
  | { type: "error"; code: string; message: string };

/**
 * The first message a controller sends after opening its socket.
 *
 * @example
 * ```ts
 * import type { ControllerHello } from "@passage/connect/protocol";
 * const hello: ControllerHello = { type: "hello", v: 1, apiKey: "sk_test_…", after: 12 };
 * ```
 */
export interface ControllerHello {
  /** Always `"hello"`. */
  type: "hello";
  /** The protocol version, {@linkcode PROTOCOL_VERSION}. */
  v: typeof PROTOCOL_VERSION;
  /** The API key that owns the session (sent here, never in the URL). */
  apiKey: string;
  /** The last event `seq` this controller saw; the server replays everything after it. */
  after?: number;
}

/**
 * A command from a controller. `id` is the controller's; resending an id is harmless.
 *
 * @example
 * ```ts
 * import type { ControllerCommand } from "@passage/connect/protocol";
 * const cmd: ControllerCommand = { type: "command", id: "c1", name: "url", params: {} };
 * ```
 */
export interface ControllerCommand {
  /** Always `"command"`. */
  type: "command";
  /** Chosen by the controller, unique per command; its result carries the same id. */
  id: string;
  /** Which command to run. */
  name: CommandName;
  /** The command's parameters, checked against `commandParamSchemas[name]`. */
  params: unknown;
  /** Milliseconds before the command fails with `timeout` (default 30000). */
  timeoutMs?: number;
}

/**
 * Any message a controller sends.
 *
 * @example
 * ```ts
 * import type { ControllerMessage } from "@passage/connect/protocol";
 * const isCommand = (m: ControllerMessage) => m.type === "command";
 * ```
 */
export type ControllerMessage = ControllerHello | ControllerCommand;

/**
 * What a session looks like on the wire.
 *
 * @example
 * ```ts
 * import type { SessionStatus } from "@passage/connect/protocol";
 * const live = (s: SessionStatus) => s === "active";
 * ```
 */
export type SessionStatus = "pending" | "active" | "ended";

/**
 * What the server sends a controller. Events carry `seq`, the session's event number.
 *
 * @example
 * ```ts
 * import type { ServerToController } from "@passage/connect/protocol";
 * const isResult = (m: ServerToController) => m.type === "result";
 * ```
 */
export type ServerToController =
  | { type: "welcome"; v: typeof PROTOCOL_VERSION; sessionId: string; status: SessionStatus }
  | { type: "accepted"; id: string }
  | { type: "result"; seq: number; id: string; ok: true; value: unknown }
  | { type: "result"; seq: number; id: string; ok: false; error: CommandError }
  | { type: "telemetry"; seq: number; event: TelemetryEvent }
  | {
    type: "session";
    seq: number;
    status: SessionStatus;
    device: "connected" | "disconnected" | "none";
    reason?: string;
  }
  /** A link's session: what happened on the user's side (`GET /v1/links/{id}` lists them too). */
  | { type: "client"; seq: number; event: ClientEvent }
  | { type: "error"; code: string; message: string; id?: string };

/**
 * WebSocket close codes the server uses.
 *
 * @example
 * ```ts
 * import { CLOSE_CODES } from "@passage/connect/protocol";
 * const sessionIsOver = (event: CloseEvent) => event.code === CLOSE_CODES.sessionEnded;
 * ```
 */
export const CLOSE_CODES = {
  /** A message over the size limit. */
  tooBig: 1009,
  /** The hello's token or API key was wrong, missing, or expired. */
  unauthorized: 4001,
  /** The API key the socket authenticated with has been revoked. */
  keyRevoked: 4003,
  /** No hello within the deadline. */
  helloTimeout: 4008,
  /** Another device connected to this session. */
  replaced: 4009,
  /** The session has ended. */
  sessionEnded: 4010,
  /** The first message was not a valid hello. */
  protocolError: 4400,
  /** The session does not exist or is not this key's. */
  notFound: 4404,
} as const;

// ------------------------------------------------------------- schemas

const selector = z.string().min(1).max(2000);

const yieldConditionSchema: z.ZodType<YieldCondition> = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("networkRequest"),
    urlContains: z.string().min(1).max(2000),
    method: z.string().min(1).max(16).optional(),
    captureBody: z.boolean().optional(),
  }),
  z.strictObject({ type: z.literal("selector"), selector }),
  z.strictObject({
    type: z.literal("url"),
    urlContains: z.string().min(1).max(2000).optional(),
    urlMatches: z.string().min(1).max(2000).optional(),
  }).refine((c) => c.urlContains !== undefined || c.urlMatches !== undefined, {
    message: "a url condition needs urlContains or urlMatches",
  }),
]);

const empty = z.strictObject({});

/**
 * The parameter schema of every command.
 *
 * @example
 * ```ts
 * import { commandParamSchemas } from "@passage/connect/protocol";
 * commandParamSchemas.click.parse({ selector: "#submit" });
 * ```
 */
export const commandParamSchemas: { [K in CommandName]: Schema<Commands[K]["params"]> } = {
  navigate: z.strictObject({
    url: z.string().max(8192).refine((u) => /^https?:\/\//i.test(u), "url must be http(s)"),
    waitUntil: z.enum(["load", "domcontentloaded", "networkidle"]).optional(),
  }),
  click: z.strictObject({ selector }),
  fill: z.strictObject({ selector, value: z.string().max(100_000) }),
  type: z.strictObject({
    selector,
    text: z.string().max(100_000),
    delayMs: z.int().min(0).max(1000).optional(),
  }),
  press: z.strictObject({ key: z.string().min(1).max(64), selector: selector.optional() }),
  select: z.strictObject({ selector, values: z.array(z.string().max(1000)).max(100) }),
  waitForSelector: z.strictObject({
    selector,
    state: z.enum(["attached", "visible", "hidden"]).optional(),
  }),
  waitForNavigation: z.strictObject({ urlContains: z.string().min(1).max(2000).optional() }),
  innerHTML: z.strictObject({ selector }),
  textContent: z.strictObject({ selector }),
  getAttribute: z.strictObject({ selector, name: z.string().min(1).max(256) }),
  evaluate: z.strictObject({ expression: z.string().min(1).max(100_000) }),
  fetch: z.strictObject({
    url: z.string().max(8192).refine(
      (u) => /^https?:\/\//i.test(u) || /^\/(?!\/)/.test(u),
      "url must be http(s) or a path on the page's origin",
    ),
    accept: z.string().min(1).max(200).optional(),
  }),
  screenshot: z.strictObject({
    fullPage: z.boolean().optional(),
    format: z.enum(["jpeg", "png"]).optional(),
    quality: z.int().min(1).max(100).optional(),
  }),
  url: empty as z.ZodType<Record<string, never>>,
  yieldToUser: z.strictObject({
    status: z.strictObject({
      heading: z.string().max(200).optional(),
      subheading: z.string().max(500).optional(),
    }).optional(),
    conditions: z.array(yieldConditionSchema).min(1).max(10),
    timeout: z.int().min(1).max(30 * 60_000),
  }),
  captureResponses: z.strictObject({ urlContains: z.string().min(1).max(2000) }),
  readCapturedResponses: z.strictObject({ urlContains: z.string().min(1).max(2000).optional() }),
};

const commandErrorSchema: z.ZodType<CommandError> = z.object({
  code: z.enum([
    "invalid_command",
    "unknown_command",
    "selector_not_found",
    "timeout",
    "yield_timeout",
    "navigation_failed",
    "evaluation_failed",
    "user_has_control",
    "refused",
    "device_error",
    "device_lost",
    "session_ended",
  ]),
  message: z.string().max(2000),
});

const at = z.string().max(40);
const url = z.string().max(8192);

/**
 * Checks a telemetry event. Fields the protocol does not define (headers,
 * cookies, bodies) are dropped, never stored or relayed.
 *
 * @example
 * ```ts
 * import { telemetryEventSchema } from "@passage/connect/protocol";
 * telemetryEventSchema.parse({ kind: "navigation", at: new Date().toISOString(), url: "https://example.com/" });
 * ```
 */
export const telemetryEventSchema: Schema<TelemetryEvent> = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("console"),
    at,
    level: z.string().max(20),
    text: z.string().max(10_000),
  }),
  z.object({
    kind: z.literal("request"),
    at,
    requestId: z.string().max(100),
    method: z.string().max(16),
    url,
    resourceType: z.string().max(40),
  }),
  z.object({
    kind: z.literal("response"),
    at,
    requestId: z.string().max(100),
    method: z.string().max(16),
    url,
    status: z.int().min(0).max(999),
    mimeType: z.string().max(200),
    durationMs: z.number().min(0),
  }),
  z.object({
    kind: z.literal("requestFailed"),
    at,
    requestId: z.string().max(100),
    url,
    errorText: z.string().max(1000),
  }),
  z.object({ kind: z.literal("navigation"), at, url }),
  z.object({
    kind: z.literal("screenshot"),
    at,
    format: z.enum(["jpeg", "png"]),
    data: z.base64().max(3_000_000),
    masked: z.boolean(),
  }),
  z.object({ kind: z.literal("yield"), at, state: z.enum(["started", "ended"]) }),
]);

const seq = z.int().min(1);
const commandId = z.string().min(1).max(100);

/**
 * Checks any message a device sends.
 *
 * @example
 * ```ts
 * import { deviceMessageSchema } from "@passage/connect/protocol";
 * deviceMessageSchema.parse({ type: "hello", v: 1, token: "dt_…", lastCommandSeq: 0 });
 * ```
 */
export const deviceMessageSchema: Schema<DeviceMessage> = z.union([
  z.strictObject({
    type: z.literal("hello"),
    v: z.literal(PROTOCOL_VERSION),
    token: z.string().max(200),
    lastCommandSeq: z.int().min(0),
    client: z.strictObject({
      name: z.string().min(1).max(64),
      version: z.string().min(1).max(64),
    }).optional(),
  }),
  z.strictObject({
    type: z.literal("result"),
    seq,
    id: commandId,
    ok: z.literal(true),
    value: z.unknown(),
  }),
  z.strictObject({
    type: z.literal("result"),
    seq,
    id: commandId,
    ok: z.literal(false),
    error: commandErrorSchema,
  }),
  z.strictObject({ type: z.literal("telemetry"), seq, event: telemetryEventSchema }),
]) as z.ZodType<DeviceMessage>;

/**
 * Checks any message a controller sends.
 *
 * @example
 * ```ts
 * import { controllerMessageSchema } from "@passage/connect/protocol";
 * controllerMessageSchema.parse({ type: "command", id: "c1", name: "url", params: {} });
 * ```
 */
export const controllerMessageSchema: Schema<ControllerMessage> = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("hello"),
    v: z.literal(PROTOCOL_VERSION),
    apiKey: z.string().max(200),
    after: z.int().min(0).optional(),
  }),
  z.strictObject({
    type: z.literal("command"),
    id: commandId,
    name: z.enum(COMMAND_NAMES as [CommandName, ...CommandName[]]),
    params: z.unknown(),
    timeoutMs: z.int().min(1).max(30 * 60_000).optional(),
  }),
]) as z.ZodType<ControllerMessage>;

/**
 * Checks a command's result value against the schema of its command, on the
 * server, before a controller sees it.
 *
 * @example
 * ```ts
 * import { commandResultSchemas } from "@passage/connect/protocol";
 * commandResultSchemas.url.parse({ url: "https://example.com/" });
 * ```
 */
export const commandResultSchemas: { [K in CommandName]: Schema<Commands[K]["result"]> } = {
  navigate: z.object({ url, status: z.int().nullable() }),
  click: z.object({}) as z.ZodType<Record<string, never>>,
  fill: z.object({}) as z.ZodType<Record<string, never>>,
  type: z.object({}) as z.ZodType<Record<string, never>>,
  press: z.object({}) as z.ZodType<Record<string, never>>,
  select: z.object({ values: z.array(z.string()) }),
  waitForSelector: z.object({ found: z.boolean() }),
  waitForNavigation: z.object({ url }),
  innerHTML: z.object({ html: z.string() }),
  textContent: z.object({ text: z.string() }),
  getAttribute: z.object({ value: z.string().nullable() }),
  evaluate: z.object({ value: z.unknown() }),
  fetch: z.object({ url, status: z.int(), contentType: z.string().max(200), body: z.string() }),
  screenshot: z.object({ format: z.enum(["jpeg", "png"]), data: z.base64() }),
  url: z.object({ url }),
  yieldToUser: z.object({
    condition: z.object({
      index: z.int().min(0),
      type: z.enum(["networkRequest", "selector", "url"]),
    }),
    url,
    networkCapture: z.object({
      url,
      method: z.string(),
      status: z.int(),
      responseBody: z.string().optional(),
    }).optional(),
  }) as z.ZodType<Commands["yieldToUser"]["result"]>,
  captureResponses: z.object({}) as z.ZodType<Record<string, never>>,
  readCapturedResponses: z.object({
    responses: z.array(z.object({
      url,
      method: z.string(),
      status: z.int(),
      responseBody: z.string().optional(),
    })),
  }),
};
