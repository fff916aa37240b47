/** `/v1/links`: thin handlers over `lib/links.ts`. */
import {
  createLinkParamsSchema,
  linkListSchema,
  linkSchema,
  listLinksQuerySchema,
} from "@passage/connect/schemas";
import type { Api } from "../lib/http.ts";
import { cancelLink, createLink, getLink, listLinks } from "../lib/links.ts";

export function registerLinkRoutes(api: Api): void {
  api.route(
    {
      method: "post",
      path: "/v1/links",
      operationId: "links.create",
      summary: "Create a link",
      description:
        "Create a link: a provider, the operations to run after the user's single login, and " +
        "where to send the signed result webhook. Hand the user its `appClipUrl` (or its " +
        "`claimCode`); their device claims it and runs the operations.",
      tag: "Links",
      auth: "apiKey",
      idempotent: true,
      body: createLinkParamsSchema,
      responses: {
        201: { description: "The new link, with its claim code and URL", schema: linkSchema },
      },
      errors: ["unsupported_provider", "unsupported_operation"],
    },
    async (c, { body }) => c.json(await createLink(c.var.services, c.var.apiKey, body), 201),
  );

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
    async (c, { query }) => c.json(await listLinks(c.var.services, c.var.apiKey, query)),
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
        await getLink(c.var.services, c.var.apiKey, c.req.param("id")!),
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
      idempotent: true,
      responses: {
        200: { description: "The cancelled link", schema: linkSchema },
      },
      errors: ["link_not_found", "invalid_status_transition"],
    },
    async (c) =>
      c.json(
        await cancelLink(c.var.services, c.var.apiKey, c.req.param("id")!),
      ),
  );
}
