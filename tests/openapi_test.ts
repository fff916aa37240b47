import assert from "node:assert/strict";
import { OPERATION_TYPES } from "@passage/connect/schemas";
import { errorCodes } from "../lib/errors.ts";
import { LINK_BODY, request, startServer, type TestServer } from "./_harness.ts";

// deno-lint-ignore no-explicit-any
type Doc = any;

async function getDoc(server: TestServer): Promise<Doc> {
  const res = await request(`${server.url}/openapi.json`);
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return res.body;
}

Deno.test("GET /openapi.json is an OpenAPI 3.1.0 document served at the public URL", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  assert.equal(doc.openapi, "3.1.0");
  assert.equal(typeof doc.info.title, "string");
  assert.equal(typeof doc.info.version, "string");
  assert.deepEqual(doc.servers, [{ url: server.config.publicUrl }]);
  assert.equal(doc.components.securitySchemes.apiKey.scheme, "bearer");
});

Deno.test("GET /openapi.json documents every /v1 route the app registered, with its method", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  const registered = server.app.routes
    .filter((r) => r.path.startsWith("/v1"))
    .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
  assert.ok(registered.length >= 5, `only ${registered.length} /v1 routes registered`);
  assert.deepEqual(
    registered.toSorted(),
    [
      "get /v1/device/socket",
      "get /v1/links",
      "get /v1/links/{id}",
      "get /v1/links/{id}/webhooks",
      "get /v1/providers",
      "get /v1/sessions",
      "get /v1/sessions/{id}",
      "get /v1/sessions/{id}/events",
      "get /v1/sessions/{id}/socket",
      "post /v1/device/claim",
      "post /v1/links",
      "post /v1/links/{id}/cancel",
      "post /v1/links/{id}/webhooks/redeliver",
      "post /v1/sessions",
      "post /v1/sessions/{id}/end",
      "post /v1/webhooks/test",
    ],
  );
  const documented: string[] = [];
  for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
    for (const method of Object.keys(item)) documented.push(`${method} ${path}`);
  }
  for (const route of registered) {
    assert.ok(documented.includes(route), `${route} is not in the OpenAPI document`);
  }
  assert.deepEqual(
    documented.filter((route) => route.split(" ")[1].startsWith("/v1")).toSorted(),
    registered.toSorted(),
  );
  // The public-key routes sit outside /v1, where receivers expect them.
  for (
    const route of [
      "get /webhook_verification_key/get",
      "post /webhook_verification_key/get",
      "get /.well-known/jwks.json",
    ]
  ) assert.ok(documented.includes(route), `${route} is not in the OpenAPI document`);
});

Deno.test("GET /openapi.json marks which routes need an API key", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  assert.deepEqual(doc.paths["/v1/links"].post.security, [{ apiKey: [] }]);
  assert.deepEqual(doc.paths["/v1/links/{id}"].get.security, [{ apiKey: [] }]);
  assert.deepEqual(doc.paths["/v1/device/claim"].post.security, []);
  assert.ok(doc.paths["/v1/links"].post.responses["401"]);
  assert.equal(doc.paths["/v1/device/claim"].post.responses["401"], undefined);
});

Deno.test("GET /openapi.json describes the POST /v1/links body from the validating schema", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  const post = doc.paths["/v1/links"].post;
  assert.equal(post.requestBody.required, true);
  const schema = post.requestBody.content["application/json"].schema;
  assert.equal(schema.type, "object");
  assert.deepEqual(
    Object.keys(schema.properties).toSorted(),
    ["appName", "expiresIn", "metadata", "operations", "provider", "webhookEvents", "webhookUrl"],
  );
  assert.deepEqual(schema.required.toSorted(), ["operations", "provider"]);
  assert.equal(schema.additionalProperties, false);
  const typeEnum = schema.properties.operations.items.properties.type.enum;
  assert.ok(typeEnum.includes("mobileBillingStatement:read"));
  assert.deepEqual(typeEnum.toSorted(), [...OPERATION_TYPES].toSorted());
  assert.equal(schema.properties.expiresIn.minimum, 60);
  assert.equal(schema.properties.expiresIn.maximum, 604800);
});

Deno.test("GET /openapi.json documents the list query, path ids and Idempotency-Key header", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  const listParams = doc.paths["/v1/links"].get.parameters;
  assert.deepEqual(
    listParams.map((p: { name: string; in: string }) => `${p.in}:${p.name}`).toSorted(),
    ["query:cursor", "query:limit"],
  );
  const getParams = doc.paths["/v1/links/{id}"].get.parameters;
  assert.deepEqual(getParams, [
    { name: "id", in: "path", required: true, schema: { type: "string" } },
  ]);
  const postParams = doc.paths["/v1/links"].post.parameters;
  assert.ok(
    postParams.some((p: { name: string; in: string }) =>
      p.in === "header" && p.name === "Idempotency-Key"
    ),
  );
});

Deno.test("GET /openapi.json lists every error code in its Error schema", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  const codes = doc.components.schemas.Error.properties.error.properties.code.enum;
  assert.deepEqual(codes.toSorted(), errorCodes().map(([code]) => code).toSorted());
  const claimResponses = doc.paths["/v1/device/claim"].post.responses;
  for (const status of ["200", "400", "404", "409", "410", "429"]) {
    assert.ok(claimResponses[status], `POST /v1/device/claim does not document ${status}`);
  }
});

Deno.test("POST /v1/links answers a replay with the status its OpenAPI document gives replays", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  const responses: Record<string, { description: string }> = doc.paths["/v1/links"].post.responses;
  const replayStatuses = Object.entries(responses)
    .filter(([, r]) => /replay/i.test(r.description))
    .map(([status]) => status);
  assert.ok(replayStatuses.length > 0, "the document does not say how a replay is answered");

  const init = { method: "POST", json: LINK_BODY, headers: { "idempotency-key": "doc" } };
  const first = await server.api("/v1/links", init);
  assert.equal(first.status, 201);
  const replay = await server.api("/v1/links", init);
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.ok(
    replayStatuses.includes(String(replay.status)),
    `a replay answers ${replay.status}, but the document describes replays as ${
      replayStatuses.join("/")
    } (${replayStatuses.map((s) => `${s}: "${responses[s].description}"`).join("; ")})`,
  );
});
