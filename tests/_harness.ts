// deno-lint-ignore-file no-explicit-any
/**
 * The test harness: the real app (`createApp`) served on a loopback port over a
 * real in-memory Deno KV, called with the real `fetch`. Nothing is mocked.
 *
 * ```ts
 * await using server = await startServer();
 * const res = await server.api("/v1/links", { method: "POST", json: LINK_BODY });
 * ```
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { startRuntime } from "../main.ts";
import { BroadcastChannelBus } from "../relay/bus.ts";
import type { Relay } from "../relay/relay.ts";
import { retryLockedCommits } from "../lib/kv_retry.ts";
import type { Jobs } from "../lib/queue.ts";
import { createApiKey } from "../lib/api_keys.ts";
import { type Config, loadConfig } from "../lib/config.ts";
import type { AppEnv, AppServices } from "../lib/http.ts";
import { type Clock, createServices } from "../lib/services.ts";
import { linkKey, linksByExpiryKey } from "../lib/kv_keys.ts";
import type { LinkRecord } from "../lib/links.ts";

/** A response whose body has been read in full (so no test leaks a body). */
export interface ApiResult<T = any> {
  status: number;
  headers: Headers;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: T;
  /** The raw body text. */
  text: string;
}

/** `fetch` options, plus a JSON body and a way to change or drop the API key. */
export interface ApiInit extends Omit<RequestInit, "body"> {
  /** Serialized as the JSON body, with `Content-Type: application/json`. */
  json?: unknown;
  /** A raw body, sent as is (no Content-Type is added). */
  body?: BodyInit;
  /** The bearer secret to send instead of the server's test key; `null` sends none. */
  apiKey?: string | null;
}

export interface TestServer extends AsyncDisposable {
  /** The server's base URL, `http://127.0.0.1:PORT`. */
  url: string;
  kv: Deno.Kv;
  /** The app's configuration (frozen: start another server for another one). */
  config: Readonly<Config>;
  /** What the app's requests reach as `c.var.services`, for calling domain functions. */
  services: AppServices;
  app: Hono<AppEnv>;
  /** The relay behind the sockets (closed by `close`). */
  relay: Relay;
  /** The queue dispatcher the app registered its handlers on (stopped by `close`). */
  jobs: Jobs;
  /** Secret of a fresh test API key. */
  apiKey: string;
  keyId: string;
  /** The account that owns that key (its own, made with it). */
  accountId: string;
  /** Calls the API with `Authorization: Bearer <apiKey>` and reads the JSON answer. */
  api<T = any>(path: string, init?: ApiInit): Promise<ApiResult<T>>;
  /** Stops the server and closes the KV store. */
  close(): Promise<void>;
}

/** Reads a response in full; parses it as JSON when it is JSON. */
export async function readResult<T = any>(res: Response): Promise<ApiResult<T>> {
  const text = await res.text();
  let body: T = undefined as T;
  if ((res.headers.get("content-type") ?? "").includes("json") && text !== "") {
    body = JSON.parse(text);
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** `fetch` + `readResult`, with the same JSON conveniences as `TestServer.api`. */
export async function request<T = any>(
  url: string,
  init: ApiInit = {},
): Promise<ApiResult<T>> {
  const { json, apiKey, body, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (apiKey) headers.set("authorization", `Bearer ${apiKey}`);
  let sent: BodyInit | undefined = body;
  if (json !== undefined) {
    sent = JSON.stringify(json);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const res = await fetch(url, { ...rest, headers, body: sent });
  return await readResult<T>(res);
}

/**
 * Starts the real app on 127.0.0.1 with a fresh in-memory KV (or the KV file
 * `overrides.kvPath` names) and a fresh test API key. `overrides` are applied on top of
 * `loadConfig({ PASSAGE_KV_PATH: ":memory:" })`; `publicUrl` is set to the
 * server's real URL unless overridden. The server listens first, so the
 * configuration is complete (and frozen) before the app is built; `overrides`
 * may be a function of that URL. `options.clock` replaces the real time.
 */
export async function startServer(
  overrides: Partial<Config> | ((url: string) => Partial<Config> | Promise<Partial<Config>>) = {},
  options: { clock?: Clock } = {},
): Promise<TestServer> {
  const controller = new AbortController();
  let app: Hono<AppEnv> | null = null;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen() {} },
    (req, info) => app ? app.fetch(req, info) : new Response("Not started", { status: 503 }),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  let runtime: ReturnType<typeof startRuntime>;
  let kv: Deno.Kv | undefined;
  try {
    const own = typeof overrides === "function" ? await overrides(url) : overrides;
    const config: Config = {
      ...loadConfig({ PASSAGE_KV_PATH: ":memory:" }),
      publicUrl: url,
      ...own,
    };
    // `:memory:` unless the overrides name a KV file (to share it with a CLI).
    kv = retryLockedCommits(await Deno.openKv(config.kvPath ?? ":memory:"));
    // Its own BroadcastChannel: test modules run as isolates of one process, where a
    // shared name would mix every test server's wake-ups (and overflow the channel).
    runtime = startRuntime(createServices(kv, config, options), {
      bus: new BroadcastChannelBus(`passage-relay-test-${crypto.randomUUID()}`),
    });
  } catch (err) {
    kv?.close();
    controller.abort();
    await server.finished;
    throw err;
  }
  app = runtime.app;
  const store = kv;
  const { relay, jobs, services } = runtime;
  const config = services.config;
  const { secret, key } = await createApiKey(store, { name: "test", mode: "test" });

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await runtime.close();
    controller.abort();
    await server.finished;
    store.close();
    await jobs.stopped();
  };
  return {
    url,
    kv: store,
    config,
    services,
    relay,
    jobs,
    app,
    apiKey: secret,
    keyId: key.id,
    accountId: key.accountId,
    api: (path, init = {}) =>
      request(url + path, { ...init, apiKey: init.apiKey === undefined ? secret : init.apiKey }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A valid `POST /v1/links` body. */
export const LINK_BODY = {
  provider: "tmobile",
  operations: [{ type: "mobileBillingStatement:read" }],
} as const;

/** Creates a link through the API and returns its JSON, asserting the 201. */
export async function createLinkViaApi(
  server: TestServer,
  body: unknown = LINK_BODY,
  init: ApiInit = {},
): Promise<any> {
  const res = await server.api("/v1/links", { method: "POST", json: body, ...init });
  assert.equal(res.status, 201, `create link answered ${res.status}: ${res.text}`);
  return res.body;
}

/** Asserts an error answer: its status, `error.code` and (when given) `error.param`. */
export function assertError(
  res: ApiResult,
  status: number,
  code: string,
  param?: string,
): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(res.body?.error?.code, code, res.text);
  assert.equal(typeof res.body.error.type, "string");
  assert.equal(typeof res.body.error.message, "string");
  assert.ok(res.body.error.message.length > 0);
  if (param !== undefined) assert.equal(res.body.error.param, param, res.text);
}

/** Claims a code at `POST /v1/device/claim` (no API key). */
export function claim<T = any>(server: TestServer, claimCode: string): Promise<ApiResult<T>> {
  return server.api<T>("/v1/device/claim", { method: "POST", json: { claimCode }, apiKey: null });
}

/**
 * Simulates the passage of time for one link: rewrites its stored `expiresAt`
 * to `at` (default: one second ago). With `moveIndex`, the expiry index entry
 * is moved too, as if the link had been created with that expiry, so the
 * expiry sweep sees it where it would in real time.
 */
export async function setLinkExpiry(
  kv: Deno.Kv,
  linkId: string,
  at = new Date(Date.now() - 1000),
  options: { moveIndex?: boolean } = {},
): Promise<void> {
  const entry = await kv.get<LinkRecord>(linkKey(linkId));
  assert.ok(entry.value, `no stored link ${linkId}`);
  const op = kv.atomic().check(entry).set(entry.key, {
    ...entry.value,
    expiresAt: at.toISOString(),
  });
  if (options.moveIndex) {
    op.delete(linksByExpiryKey(Date.parse(entry.value.expiresAt), linkId))
      .set(linksByExpiryKey(at.getTime(), linkId), linkId);
  }
  assert.ok((await op.commit()).ok, "could not rewrite the link's expiry");
}

/** The stored record of a link, read straight from KV. */
export async function storedLink(kv: Deno.Kv, linkId: string): Promise<LinkRecord | null> {
  return (await kv.get<LinkRecord>(linkKey(linkId))).value;
}

/** Crockford base32 claim code in display form: `XXXXX-XXXXX`. */
export const CLAIM_CODE_PATTERN = /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/;
