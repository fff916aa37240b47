/**
 * The `Passage` API client.
 *
 * @module
 */
import type {
  CreateLinkParams,
  CreateSessionParams,
  Link,
  LinkList,
  ListLinksParams,
  Session,
  SessionList,
} from "./schemas.ts";
import { Browser } from "./browser.ts";
import { SocketTransport } from "./_socket_transport.ts";

/** Options for {@linkcode Passage}. */
export interface PassageOptions {
  /** A secret key: `sk_test_…` or `sk_live_…`. */
  apiKey: string;
  /** The Passage server, such as `http://localhost:8000`. */
  baseUrl: string;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
}

/**
 * An error answered by the Passage API, with its stable `code` and HTTP
 * `status`.
 *
 * @example
 * ```ts
 * import { Passage, PassageApiError } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * try {
 *   await passage.links.get("link_missing");
 * } catch (err) {
 *   if (err instanceof PassageApiError && err.code === "link_not_found") console.log("gone");
 * }
 * ```
 */
export class PassageApiError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** A stable machine-readable code, such as `"link_not_found"`. */
  readonly code: string;
  /** The error family, such as `"invalid_request_error"`. */
  readonly type: string;
  /** The request field at fault, when there is one. */
  readonly param?: string;

  /** Makes the error from an HTTP status and the `error` object of the response body. */
  constructor(
    status: number,
    body: { type: string; code: string; message: string; param?: string },
  ) {
    super(body.message);
    this.name = "PassageApiError";
    this.status = status;
    this.code = body.code;
    this.type = body.type;
    this.param = body.param;
  }
}

/** Request options for calls that create something. */
export interface RequestOptions {
  /** Makes a retried create return the first answer instead of creating twice. */
  idempotencyKey?: string;
}

/**
 * The links resource: create a link, read it, list them, cancel one.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const page = await passage.links.list({ limit: 10 });
 * ```
 */
export class Links {
  readonly #request: Request_;

  /** Used by {@linkcode Passage}; not constructed directly. */
  constructor(request: Request_) {
    this.#request = request;
  }

  /** Creates a link; hand its `claimCode` or `appClipUrl` to your user. */
  create(params: CreateLinkParams, options: RequestOptions = {}): Promise<Link> {
    return this.#request("POST", "/v1/links", params, options.idempotencyKey);
  }

  /** Retrieves a link by id. */
  get(id: string): Promise<Link> {
    return this.#request("GET", `/v1/links/${encodeURIComponent(id)}`);
  }

  /** Lists links, newest first; pass `nextCursor` back as `cursor` for more. */
  list(params: ListLinksParams = {}): Promise<LinkList> {
    const query = new URLSearchParams();
    if (params.limit !== undefined) query.set("limit", String(params.limit));
    if (params.cursor !== undefined) query.set("cursor", params.cursor);
    const qs = query.size ? `?${query}` : "";
    return this.#request("GET", `/v1/links${qs}`);
  }

  /** Cancels a link that has not finished. */
  cancel(id: string): Promise<Link> {
    return this.#request("POST", `/v1/links/${encodeURIComponent(id)}/cancel`);
  }
}

/**
 * A session handle: its state as last read, and `connect()` to drive it.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const session = await passage.sessions.create();
 * console.log(session.claimCode); // show it to your user, or send session.appClipUrl
 * const browser = await session.connect();
 * ```
 */
export class SessionHandle {
  /** The session as the API last returned it. */
  readonly data: Session;
  readonly #baseUrl: string;
  readonly #apiKey: string;

  /** Built by {@linkcode Sessions}; not constructed directly. */
  constructor(data: Session, baseUrl: string, apiKey: string) {
    this.data = data;
    this.#baseUrl = baseUrl;
    this.#apiKey = apiKey;
  }

  /** The session id. */
  get id(): string {
    return this.data.id;
  }

  /** The code the user's device claims (null once claimed). */
  get claimCode(): string | null {
    return this.data.claimCode;
  }

  /** The URL to hand the user (null once claimed). */
  get appClipUrl(): string | null {
    return this.data.appClipUrl;
  }

  /** The origins the device may load (normalised); null: any public website. */
  get allowedOrigins(): string[] | null {
    return this.data.allowedOrigins ?? null;
  }

  /**
   * Opens the controller socket. Commands sent before the user's device
   * connects wait for it (within their timeouts). `defaultTimeout` is the
   * milliseconds a command may take when its call sets no `timeout`
   * (default 30000).
   */
  async connect(options: { defaultTimeout?: number } = {}): Promise<Browser> {
    const transport = await SocketTransport.open(this.#baseUrl, this.data.id, this.#apiKey);
    return new Browser(transport, options);
  }
}

/**
 * The sessions resource: a browser on your user's device, for any website.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const session = await passage.sessions.create({ idleTimeout: 120 });
 * await passage.sessions.end(session.id);
 * // a session that may only open these sites (the user sees them when claiming)
 * const scoped = await passage.sessions.create({
 *   allowedOrigins: ["https://www.example.com", "https://login.example.com"],
 * });
 * ```
 */
export class Sessions {
  readonly #request: Request_;
  readonly #baseUrl: string;
  readonly #apiKey: string;

  /** Used by {@linkcode Passage}; not constructed directly. */
  constructor(request: Request_, baseUrl: string, apiKey: string) {
    this.#request = request;
    this.#baseUrl = baseUrl;
    this.#apiKey = apiKey;
  }

  /**
   * Creates a session; hand its `claimCode` or `appClipUrl` to your user.
   * Every parameter is optional: with `allowedOrigins` (at most 20 http(s)
   * origins, such as `"https://www.example.com"`) the device may load only
   * those sites as the top page, and the user is shown them when claiming;
   * without it, any public website, and the user is told so. A bad origin is
   * a 400 `invalid_request` whose `param` is `allowedOrigins.<index>`.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const anywhere = await passage.sessions.create();
   * const scoped = await passage.sessions.create({ allowedOrigins: ["https://www.example.com"] });
   * console.log(anywhere.allowedOrigins); // null
   * console.log(scoped.allowedOrigins); // ["https://www.example.com"]
   * ```
   */
  async create(params: CreateSessionParams = {}): Promise<SessionHandle> {
    const data = await this.#request<Session>("POST", "/v1/sessions", params);
    return new SessionHandle(data, this.#baseUrl, this.#apiKey);
  }

  /** Retrieves a session by id. */
  async get(id: string): Promise<SessionHandle> {
    const data = await this.#request<Session>("GET", `/v1/sessions/${encodeURIComponent(id)}`);
    return new SessionHandle(data, this.#baseUrl, this.#apiKey);
  }

  /** Lists sessions, newest first. */
  list(params: ListLinksParams = {}): Promise<SessionList> {
    const query = new URLSearchParams();
    if (params.limit !== undefined) query.set("limit", String(params.limit));
    if (params.cursor !== undefined) query.set("cursor", params.cursor);
    return this.#request("GET", `/v1/sessions${query.size ? `?${query}` : ""}`);
  }

  /** Ends a session; commands still pending fail with `session_ended`. */
  end(id: string): Promise<Session> {
    return this.#request("POST", `/v1/sessions/${encodeURIComponent(id)}/end`);
  }
}

/** How resources call the API. */
export type Request_ = <T>(
  method: string,
  path: string,
  body?: unknown,
  idempotencyKey?: string,
) => Promise<T>;

/**
 * A client for the Passage REST API.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const link = await passage.links.create({
 *   provider: "tmobile",
 *   operations: [{ type: "mobileBillingStatement:read" }, { type: "paymentMethod:read" }],
 *   webhookUrl: "https://api.yourapp.com/passage/webhook",
 * });
 * console.log(link.claimCode, link.appClipUrl);
 * ```
 */
export class Passage {
  /** Create, read, list and cancel links. */
  readonly links: Links;
  /** Create sessions and drive the browser on your user's device. */
  readonly sessions: Sessions;
  readonly #options: PassageOptions;

  /** Makes a client; trailing slashes on `baseUrl` are ignored. No request is sent yet. */
  constructor(options: PassageOptions) {
    this.#options = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, "") };
    this.links = new Links(this.#send);
    this.sessions = new Sessions(this.#send, this.#options.baseUrl, this.#options.apiKey);
  }

  #send: Request_ = async <T>(
    method: string,
    path: string,
    body?: unknown,
    idempotencyKey?: string,
  ): Promise<T> => {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#options.apiKey}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
    const doFetch = this.#options.fetch ?? fetch;
    const res = await doFetch(`${this.#options.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = (json as { error?: { type: string; code: string; message: string } })?.error;
      throw new PassageApiError(
        res.status,
        err ?? {
          type: "api_error",
          code: "unexpected_response",
          message: `${method} ${path} answered ${res.status}`,
        },
      );
    }
    return json as T;
  };
}
