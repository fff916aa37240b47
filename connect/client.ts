/**
 * The `Passage` API client.
 *
 * @module
 */
import type { CreateLinkParams, Link, LinkList, ListLinksParams } from "./schemas.ts";

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
  readonly #options: PassageOptions;

  constructor(options: PassageOptions) {
    this.#options = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, "") };
    this.links = new Links(this.#send);
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
