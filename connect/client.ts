/**
 * The `Passage` API client: `passage.links`, `passage.sessions` and
 * `passage.webhooks`. Every call times out, retries what is safe to retry,
 * and throws a `PassageApiError` whose `code` is a union of the server's
 * codes; every list is a `PageRequest`, awaitable for one page or iterable
 * for all of them.
 *
 * @module
 */
import type { CreateSessionParams, ListLinksParams, OperationType, Session } from "./schemas.ts";
import { Browser } from "./browser.ts";
import { SocketTransport } from "./_socket_transport.ts";
import { type HttpConfig, send } from "./_http.ts";
import { PageRequest } from "./pagination.ts";
import type {
  CreateLinkInput,
  Page,
  PassageOptions,
  RedeliveryAttempt,
  RequestOptions,
  TypedLink,
  WebhookEventSummary,
  WebhookTestResult,
  WebSocketConstructor,
} from "./types.ts";

const path = (strings: TemplateStringsArray, ...ids: string[]) =>
  strings.reduce((out, s, i) => out + s + (i < ids.length ? encodeURIComponent(ids[i]) : ""), "");

function listQuery(params: ListLinksParams): string {
  const query = new URLSearchParams();
  if (params.limit !== undefined) query.set("limit", String(params.limit));
  if (params.cursor !== undefined) query.set("cursor", params.cursor);
  return query.size ? `?${query}` : "";
}

/**
 * The links resource: create a link, read it, list them, cancel one. Links
 * are typed by the operations they asked for (see {@linkcode TypedLink}).
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const link = await passage.links.create({
 *   provider: "tmobile",
 *   operations: [{ type: "mobileBillingStatement:read" }],
 * });
 * const now = await passage.links.get(link);
 * if (now.results) console.log(now.results["mobileBillingStatement:read"].amountDue);
 * ```
 */
export class Links {
  readonly #client: Passage;

  /**
   * Used by {@linkcode Passage}; not constructed directly.
   *
   * @example
   * ```ts
   * import { Links, Passage } from "@passage/connect";
   * const links = new Links(new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" }));
   * ```
   */
  constructor(client: Passage) {
    this.#client = client;
  }

  /**
   * Creates a link; hand its `claimCode` or `appClipUrl` to your user. The
   * link's `results` are typed by the operations given. An `Idempotency-Key`
   * is made for the request when none is given, so a retry after a lost
   * answer returns the same link instead of creating a second.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const link = await passage.links.create({
   *   provider: "tmobile",
   *   operations: [{ type: "mobileBillingStatement:read" }, { type: "paymentMethod:read" }],
   *   webhookUrl: "https://api.yourapp.com/passage/webhook",
   * }, { idempotencyKey: "order-1234" });
   * console.log(link.claimCode, link.appClipUrl);
   * ```
   */
  create<Ops extends OperationType>(
    params: CreateLinkInput<Ops>,
    options: RequestOptions = {},
  ): Promise<TypedLink<Ops>> {
    return this.#client.request("POST", "/v1/links", params, options);
  }

  /**
   * Retrieves a link by id. Pass the link itself (as `create` returned it) to
   * keep its typed results, or name the operations: `get<"paymentMethod:read">(id)`.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const link = await passage.links.get<"paymentMethod:read">("link_…");
   * console.log(link.status, link.results?.["paymentMethod:read"].paymentMethods.length);
   * ```
   */
  get<Ops extends OperationType = OperationType>(
    link: string | { id: string; operations: ReadonlyArray<{ type: Ops }> },
    options: RequestOptions = {},
  ): Promise<TypedLink<Ops>> {
    const id = typeof link === "string" ? link : link.id;
    return this.#client.request("GET", path`/v1/links/${id}`, undefined, options);
  }

  /**
   * Lists links, newest first: await it for one page (pass `nextCursor` back
   * as `cursor` for the next), or iterate it for every link.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const page = await passage.links.list({ limit: 10 });
   * for await (const link of passage.links.list()) console.log(link.id, link.status);
   * ```
   */
  list(params: ListLinksParams = {}, options: RequestOptions = {}): PageRequest<TypedLink> {
    return new PageRequest((cursor) =>
      this.#client.request<Page<TypedLink>>(
        "GET",
        `/v1/links${listQuery({ ...params, cursor: cursor ?? params.cursor })}`,
        undefined,
        options,
      )
    );
  }

  /**
   * Cancels a link that has not finished (a finished one answers 409
   * `invalid_status_transition`).
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const link = await passage.links.cancel("link_…");
   * console.log(link.status); // "cancelled"
   * ```
   */
  cancel<Ops extends OperationType = OperationType>(
    link: string | { id: string; operations: ReadonlyArray<{ type: Ops }> },
    options: RequestOptions = {},
  ): Promise<TypedLink<Ops>> {
    const id = typeof link === "string" ? link : link.id;
    return this.#client.request("POST", path`/v1/links/${id}/cancel`, undefined, options);
  }
}

/**
 * The webhooks resource: a link's events and their delivery attempts, a
 * redelivery, and a signed test event to any URL.
 *
 * @example
 * ```ts
 * import { Passage } from "@passage/connect";
 * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
 * const test = await passage.webhooks.sendTest({ url: "https://api.yourapp.com/passage/webhook" });
 * if (test.error) console.log(`your receiver answered ${test.statusCode}: ${test.error}`);
 * ```
 */
export class Webhooks {
  readonly #client: Passage;

  /**
   * Used by {@linkcode Passage}; not constructed directly.
   *
   * @example
   * ```ts
   * import { Passage, Webhooks } from "@passage/connect";
   * const webhooks = new Webhooks(new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" }));
   * ```
   */
  constructor(client: Passage) {
    this.#client = client;
  }

  /**
   * Lists a link's webhook events, newest first, each with every delivery
   * attempt.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const { data } = await passage.webhooks.listEvents("link_…");
   * const last = data[0]?.attempts.at(-1);
   * console.log(last?.statusCode, last?.error);
   * ```
   */
  listEvents(linkId: string, options: RequestOptions = {}): PageRequest<WebhookEventSummary> {
    return new PageRequest(() =>
      this.#client.request("GET", path`/v1/links/${linkId}/webhooks`, undefined, options)
    );
  }

  /**
   * Sends a link's latest webhook event again now: the same event id, a
   * fresh signature. Resolves with the attempt, whatever the receiver
   * answered. Not retried by the SDK (each attempt is a delivery).
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const attempt = await passage.webhooks.redeliver("link_…");
   * console.log(attempt.eventId, attempt.statusCode);
   * ```
   */
  redeliver(linkId: string, options: RequestOptions = {}): Promise<RedeliveryAttempt> {
    return this.#client.request(
      "POST",
      path`/v1/links/${linkId}/webhooks/redeliver`,
      undefined,
      options,
    );
  }

  /**
   * Sends one signed `webhook.test` event to `url` now, signed for your
   * account and your key's mode, through the same address guard and timeout
   * as real deliveries; it is not stored or retried. Resolves with what the
   * receiver answered (a refused address or a timeout is not an error here).
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const result = await passage.webhooks.sendTest({ url: "http://localhost:3000/hook" });
   * console.log(result.statusCode ?? result.error);
   * ```
   */
  sendTest(params: { url: string }, options: RequestOptions = {}): Promise<WebhookTestResult> {
    return this.#client.request("POST", "/v1/webhooks/test", params, options);
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
  readonly #open: (options: { defaultTimeout?: number }) => Promise<Browser>;

  /**
   * Built by {@linkcode Sessions}; not constructed directly. `open` opens the
   * controller socket.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const handle = await passage.sessions.get("sess_…"); // a SessionHandle
   * ```
   */
  constructor(data: Session, open: (options: { defaultTimeout?: number }) => Promise<Browser>) {
    this.data = data;
    this.#open = open;
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
   * Opens the controller socket, with the client's `WebSocket` class (or the
   * global one). Commands sent before the user's device connects wait for it
   * (within their timeouts). `defaultTimeout` is the milliseconds a command
   * may take when its call sets no `timeout` (default 30000).
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const session = await passage.sessions.create();
   * const browser = await session.connect({ defaultTimeout: 60_000 });
   * await browser.navigate({ url: "https://example.com/login" });
   * await browser.close();
   * ```
   */
  connect(options: { defaultTimeout?: number } = {}): Promise<Browser> {
    return this.#open(options);
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
  readonly #client: Passage;
  readonly #open: (id: string, options: { defaultTimeout?: number }) => Promise<Browser>;

  /**
   * Used by {@linkcode Passage}; not constructed directly. `open` opens a
   * session's controller socket.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const sessions = passage.sessions; // a Sessions
   * ```
   */
  constructor(
    client: Passage,
    open: (id: string, options: { defaultTimeout?: number }) => Promise<Browser>,
  ) {
    this.#client = client;
    this.#open = open;
  }

  #handle(data: Session): SessionHandle {
    return new SessionHandle(data, (options) => this.#open(data.id, options));
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
  async create(
    params: CreateSessionParams = {},
    options: RequestOptions = {},
  ): Promise<SessionHandle> {
    return this.#handle(await this.#client.request("POST", "/v1/sessions", params, options));
  }

  /**
   * Retrieves a session by id.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const session = await passage.sessions.get("sess_…");
   * console.log(session.data.status, session.data.device);
   * ```
   */
  async get(id: string, options: RequestOptions = {}): Promise<SessionHandle> {
    return this.#handle(
      await this.#client.request("GET", path`/v1/sessions/${id}`, undefined, options),
    );
  }

  /**
   * Lists sessions, newest first: await it for one page, or iterate it for
   * every session.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * for await (const session of passage.sessions.list({ limit: 50 })) {
   *   if (session.status === "active") console.log(session.id);
   * }
   * ```
   */
  list(params: ListLinksParams = {}, options: RequestOptions = {}): PageRequest<Session> {
    return new PageRequest((cursor) =>
      this.#client.request<Page<Session>>(
        "GET",
        `/v1/sessions${listQuery({ ...params, cursor: cursor ?? params.cursor })}`,
        undefined,
        options,
      )
    );
  }

  /**
   * Ends a session; commands still pending fail with `session_ended`.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const ended = await passage.sessions.end("sess_…");
   * console.log(ended.endReason); // "ended_by_developer"
   * ```
   */
  end(id: string, options: RequestOptions = {}): Promise<Session> {
    return this.#client.request("POST", path`/v1/sessions/${id}/end`, undefined, options);
  }
}

/**
 * A client for the Passage REST API. Works on Deno, Node 20+ and in
 * browsers; on Node 20, pass a `WebSocket` class (the `ws` package's) for
 * `session.connect()`.
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
  /** A link's webhook events, redeliveries and test events. */
  readonly webhooks: Webhooks;
  readonly #config: HttpConfig;
  readonly #WebSocket: WebSocketConstructor | undefined;

  /**
   * Makes a client; trailing slashes on `baseUrl` are ignored. No request is
   * sent yet.
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({
   *   apiKey: "sk_test_…",
   *   baseUrl: "http://localhost:8000/",
   *   timeout: 10_000, // per attempt
   *   maxRetries: 3, // for requests safe to retry
   * });
   * ```
   */
  constructor(options: PassageOptions) {
    this.#config = {
      apiKey: options.apiKey,
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      fetch: options.fetch,
      timeout: options.timeout ?? 30_000,
      maxRetries: options.maxRetries ?? 2,
    };
    this.#WebSocket = options.WebSocket;
    this.links = new Links(this);
    this.webhooks = new Webhooks(this);
    this.sessions = new Sessions(this, (id, connectOptions) => this.#connect(id, connectOptions));
  }

  async #connect(id: string, options: { defaultTimeout?: number }): Promise<Browser> {
    const WebSocketClass = this.#WebSocket ??
      (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketClass) {
      throw new TypeError(
        "No WebSocket implementation: this runtime has no globalThis.WebSocket (Node before 22). " +
          'Pass one: new Passage({ apiKey, baseUrl, WebSocket }) with `import WebSocket from "ws"`',
      );
    }
    const transport = await SocketTransport.open(
      this.#config.baseUrl,
      id,
      this.#config.apiKey,
      WebSocketClass as typeof WebSocket,
    );
    return new Browser(transport, options);
  }

  /**
   * Calls any API route with this client's key, timeouts and retries, and
   * resolves with the JSON answer: for routes this SDK has no method for yet.
   * A `POST` is retried only on a route the server deduplicates, with an
   * `Idempotency-Key` (yours, or one made for the call).
   *
   * @example
   * ```ts
   * import { Passage } from "@passage/connect";
   * const passage = new Passage({ apiKey: "sk_test_…", baseUrl: "http://localhost:8000" });
   * const providers = await passage.request<{ data: unknown[] }>("GET", "/v1/providers");
   * ```
   */
  request<T>(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    return send<T>(this.#config, { method, path, body }, options);
  }
}
