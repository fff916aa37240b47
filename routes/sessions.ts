/** `/v1/sessions`: the Sessions API, its controller socket and its SSE stream. */
import { streamSSE } from "hono/streaming";
import {
  createSessionParamsSchema,
  listLinksQuerySchema,
  sessionListSchema,
  sessionSchema,
} from "@passage/connect/schemas";
import type { Context } from "hono";
import { z } from "zod";
import { acceptWebSocket, type Api, type AppEnv } from "../lib/http.ts";
import {
  createSession,
  endSession,
  listSessions,
  readOwnedSession,
  toSession,
} from "../lib/sessions.ts";
import { revocationError } from "../lib/credentials.ts";
import { tailEvents } from "../relay/tail.ts";

export function registerSessionRoutes(api: Api): void {
  api.route(
    {
      method: "post",
      path: "/v1/sessions",
      operationId: "sessions.create",
      summary: "Create a session",
      description:
        "Create a session: a browser on your user's device that you drive over the controller " +
        "WebSocket. Hand the user its `appClipUrl` (or its `claimCode`); restrict where the " +
        "device may go with `allowedOrigins`.",
      tag: "Sessions",
      auth: "apiKey",
      idempotent: true,
      body: createSessionParamsSchema,
      responses: {
        201: { description: "The session, with its claim code", schema: sessionSchema },
      },
    },
    async (c, { body }) =>
      c.json(
        await createSession(c.var.services, c.var.apiKey, body),
        201,
      ),
  );

  api.route(
    {
      method: "get",
      path: "/v1/sessions",
      operationId: "sessions.list",
      summary: "List sessions",
      description:
        "List the sessions of your API key's account and mode, newest first, a page at a " +
        "time: pass a page's `nextCursor` as `cursor` to get the next.",
      tag: "Sessions",
      auth: "apiKey",
      query: listLinksQuerySchema,
      responses: { 200: { description: "A page of sessions", schema: sessionListSchema } },
      errors: ["invalid_cursor"],
    },
    async (c, { query }) => c.json(await listSessions(c.var.services, c.var.apiKey, query)),
  );

  api.route({
    method: "get",
    path: "/v1/sessions/{id}",
    operationId: "sessions.retrieve",
    summary: "Retrieve a session",
    description: "Retrieve a session: its status, whether a device holds it, and why it ended.",
    params: { id: "The session's id (`sess_…`)" },
    tag: "Sessions",
    auth: "apiKey",
    responses: { 200: { description: "The session", schema: sessionSchema } },
    errors: ["session_not_found"],
  }, async (c) => {
    const record = await readOwnedSession(c.var.services.kv, c.var.apiKey, c.req.param("id")!);
    return c.json(toSession(record, c.var.services.config.publicUrl));
  });

  api.route({
    method: "post",
    path: "/v1/sessions/{id}/end",
    operationId: "sessions.end",
    summary: "End a session",
    description: "End a session now: its device is released and its pending commands fail with " +
      "`session_ended`. Ending an ended session answers it unchanged.",
    params: { id: "The session's id (`sess_…`)" },
    tag: "Sessions",
    auth: "apiKey",
    idempotent: true,
    responses: { 200: { description: "The ended session", schema: sessionSchema } },
    errors: ["session_not_found"],
  }, async (c) => {
    const record = await readOwnedSession(c.var.services.kv, c.var.apiKey, c.req.param("id")!);
    const ended = await endSession(c.var.services, record.id, "ended_by_developer");
    return c.json(toSession(ended ?? record, c.var.services.config.publicUrl));
  });

  api.route(
    {
      method: "get",
      path: "/v1/sessions/{id}/socket",
      operationId: "sessions.connect",
      summary: "Connect as the session's controller",
      description:
        "The controller WebSocket (relay/PROTOCOL.md): send commands to the device and read " +
        "their results. Authenticate with a hello message carrying the API key, never in the URL.",
      params: { id: "The session's id (`sess_…`)" },
      tag: "Sessions",
      auth: "none",
      responses: { 101: { description: "Switching to the WebSocket protocol" } },
      errors: ["upgrade_required"],
    },
    (c) =>
      acceptWebSocket(
        c,
        (socket) => c.var.services.relay.acceptController(socket, c.req.param("id")!),
      ),
  );

  api.route({
    method: "get",
    path: "/v1/sessions/{id}/events",
    operationId: "sessions.events",
    summary: "Stream a session's events",
    description:
      "Server-Sent Events: the session's telemetry and state changes, live, until it ends. " +
      "Resume with `Last-Event-ID` (or `?after=`).",
    params: { id: "The session's id (`sess_…`)" },
    tag: "Sessions",
    auth: "apiKey",
    responses: {
      200: {
        description:
          "text/event-stream of `telemetry` and `session` events and, for a link's session, `client` events (`{type: \"client\", event: {type, at, …}}`: the link's client events, as `GET /v1/links/{id}` lists them), `id` = seq; an `error` event (`revoked_api_key`) ends it when the key is revoked",
        mediaType: "text/event-stream",
        schema: z.string(),
      },
    },
    errors: ["session_not_found"],
  }, async (c) => {
    const record = await readOwnedSession(c.var.services.kv, c.var.apiKey, c.req.param("id")!);
    return streamSessionEvents(c, record.id, [c.var.apiKey.id]);
  });
}

/**
 * The session's `evt` log as Server-Sent Events from `Last-Event-ID` (or
 * `?after=`), live, until the session ends. Revoking any of `credentials`
 * (`lib/credentials.ts`: the API key, or the console session and membership)
 * ends the stream with an `error` event. The API route and the console's live
 * inspector both answer with it.
 */
export function streamSessionEvents(
  c: Context<AppEnv>,
  sessionId: string,
  credentials: string[],
): Response {
  const resume = c.req.header("last-event-id") ?? c.req.query("after");
  const after = resume && /^\d+$/.test(resume) ? Number(resume) : 0;
  const { relay } = c.var.services;
  return streamSSE(c, async (stream) => {
    const stop = new AbortController();
    stream.onAbort(() => stop.abort());
    // Revoking a credential ends the stream, in this process at once, elsewhere
    // within `revocationCheckMs`.
    let revoked: string | null = null;
    const unwatches = credentials.map((credential) =>
      relay.watchCredential(credential, () => {
        revoked ??= credential;
        stop.abort();
      })
    );
    const unwatch = () => unwatches.forEach((u) => u());
    stream.onAbort(unwatch);
    let lastPing = Date.now();
    await tailEvents({
      log: relay.log,
      bus: relay.bus,
      sessionId,
      after,
      signal: stop.signal,
      onEntry: async (seq, entry) => {
        // Command results go only to controllers; SSE carries what happened.
        if (entry.type === "result") return;
        await stream.writeSSE({
          id: String(seq),
          event: entry.type,
          data: JSON.stringify(entry),
        });
        if (entry.type === "session" && entry.status === "ended") stop.abort();
      },
      onIdle: async () => {
        if (Date.now() - lastPing >= 15_000) {
          lastPing = Date.now();
          await stream.write(": keep-alive\n\n");
        }
      },
    }).finally(unwatch);
    if (revoked) {
      const { type, code, message } = revocationError(revoked);
      await stream.writeSSE({
        event: "error",
        data: JSON.stringify({ error: { type, code, message } }),
      }).catch(() => {});
    }
  });
}
