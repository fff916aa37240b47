/** `/v1/links`: thin handlers over `lib/links.ts`. */
import {
  createLinkParamsSchema,
  linkListSchema,
  linkSchema,
  listLinksQuerySchema,
} from "@passage/connect/schemas";
import type { Api } from "../lib/http.ts";
import { cancelLink, canonicalJson, createLink, getLink, listLinks } from "../lib/links.ts";
import { sha256Hex } from "../lib/ids.ts";
import { PassageError } from "../lib/errors.ts";

export function registerLinkRoutes(api: Api): void {
  api.route({
    method: "post",
    path: "/v1/links",
    operationId: "links.create",
    summary: "Create a link",
    description:
      "Create a link: a provider, the operations to run after the user's single login, and " +
      "where to send the signed result webhook. Hand the user its `appClipUrl` (or its " +
      "`claimCode`); their device claims it and runs the operations. Send an " +
      "`Idempotency-Key` to retry safely.",
    tag: "Links",
    auth: "apiKey",
    body: createLinkParamsSchema,
    headers: [{
      name: "Idempotency-Key",
      description:
        "Repeat a request safely: the same key and body within 24 h return the first answer",
    }],
    responses: {
      201: {
        description:
          "The new link, with its claim code and URL; a repeated Idempotency-Key gets a replay of this first answer",
        schema: linkSchema,
        headers: {
          "Idempotent-Replayed": {
            description: "`true` when this is the replay of an earlier answer",
            schema: { type: "string", enum: ["true"] },
          },
        },
      },
    },
    errors: [
      "unsupported_provider",
      "unsupported_operation",
      "idempotency_key_reused",
    ],
  }, async (c, { body, rawBody }) => {
    const key = c.req.header("idempotency-key");
    if (key !== undefined && (key.length < 1 || key.length > 255)) {
      throw new PassageError(
        "invalid_request",
        "Idempotency-Key must be 1 to 255 characters",
        {
          param: "Idempotency-Key",
        },
      );
    }
    const idempotency = key === undefined
      ? undefined
      : { key, requestHash: await sha256Hex(canonicalJson(rawBody)) };
    const { link, replayed } = await createLink(
      c.var.kv,
      c.var.apiKey,
      body,
      c.var.config,
      idempotency,
    );
    if (replayed) c.header("Idempotent-Replayed", "true");
    return c.json(link, 201);
  });

  api.route(
    {
      method: "get",
      path: "/v1/links",
      operationId: "links.list",
      summary: "List links",
      description:
        "List the links of your API key's account and mode, newest first, a page at a time: " +
        "pass a page's `nextCursor` as `cursor` to get the next.",
      tag: "Links",
      auth: "apiKey",
      query: listLinksQuerySchema,
      responses: {
        200: { description: "A page of links", schema: linkListSchema },
      },
      errors: ["invalid_cursor"],
    },
    async (c, { query }) => c.json(await listLinks(c.var.kv, c.var.apiKey, query, c.var.config)),
  );

  api.route(
    {
      method: "get",
      path: "/v1/links/{id}",
      operationId: "links.retrieve",
      summary: "Retrieve a link",
      description:
        "Retrieve a link: its status, each operation's status, its client events and, once " +
        "`complete`, its validated results (until the retention period ends).",
      params: { id: "The link's id (`link_…`)" },
      tag: "Links",
      auth: "apiKey",
      responses: { 200: { description: "The link", schema: linkSchema } },
      errors: ["link_not_found"],
    },
    async (c) =>
      c.json(
        await getLink(c.var.kv, c.var.apiKey, c.req.param("id")!, c.var.config),
      ),
  );

  api.route(
    {
      method: "post",
      path: "/v1/links/{id}/cancel",
      operationId: "links.cancel",
      summary: "Cancel a link",
      description:
        "Cancel a link that has not finished: its claim code stops working and a device " +
        "running it is stopped. A finished link answers `invalid_status_transition`.",
      params: { id: "The link's id (`link_…`)" },
      tag: "Links",
      auth: "apiKey",
      responses: {
        200: { description: "The cancelled link", schema: linkSchema },
      },
      errors: ["link_not_found", "invalid_status_transition"],
    },
    async (c) =>
      c.json(
        await cancelLink(
          c.var.kv,
          c.var.apiKey,
          c.req.param("id")!,
          c.var.config,
          c.var.relay.log,
        ),
      ),
  );
}
