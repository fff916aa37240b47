/**
 * `GET /openapi.json`: what it documents, that Redocly's and Spectral's rules
 * find nothing in it, and that a client generated from it type-checks and
 * talks to the real server.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { CLIENT_EVENT_TYPES, OPERATION_TYPES } from "@passage/connect/schemas";
import { recordClientEvent } from "../lib/client_events.ts";
import { errorCatalog, errorCodes } from "../lib/errors.ts";
import { webhookEventSchemas } from "../lib/openapi.ts";
import { IDEMPOTENT_POSTS } from "../connect/_http.ts";
import { createLinkViaApi, LINK_BODY, request, startServer, type TestServer } from "./_harness.ts";
import { COMPLETE, finishLink, startReceiver, text } from "./_webhooks.ts";

// deno-lint-ignore no-explicit-any
type Doc = any;

/** The schema a `$ref` names, or the schema itself. */
function resolve(doc: Doc, schema: Doc): Doc {
  return schema?.$ref ? doc.components.schemas[schema.$ref.split("/").at(-1)] : schema;
}

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
  assert.deepEqual(doc.servers.map((s: { url: string }) => s.url), [server.config.publicUrl]);
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
      "get /v1/accounts/{id}/jwks.json",
      "get /v1/device/socket",
      "get /v1/links",
      "get /v1/links/{id}",
      "get /v1/links/{id}/webhooks",
      "get /v1/providers",
      "get /v1/sessions",
      "get /v1/sessions/{id}",
      "get /v1/sessions/{id}/events",
      "get /v1/sessions/{id}/socket",
      "get /v1/webhooks/listen",
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
  const body = post.requestBody.content["application/json"].schema;
  assert.equal(body.$ref, "#/components/schemas/CreateLinkParams");
  const schema = resolve(doc, body);
  assert.equal(schema.type, "object");
  assert.deepEqual(
    Object.keys(schema.properties).toSorted(),
    ["appName", "expiresIn", "metadata", "operations", "provider", "webhookEvents", "webhookUrl"],
  );
  assert.deepEqual(schema.required.toSorted(), ["operations", "provider"]);
  assert.equal(schema.additionalProperties, false);
  const typeEnum = resolve(doc, schema.properties.operations.items.properties.type).enum;
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
  // limit is read as an integer, whatever the query string's text
  const limit = listParams.find((p: { name: string }) => p.name === "limit");
  assert.deepEqual(
    { required: limit.required, ...limit.schema },
    { required: false, type: "integer", minimum: 1, maximum: 100, default: 20 },
  );
  const getParams = doc.paths["/v1/links/{id}"].get.parameters;
  assert.deepEqual(getParams, [
    {
      name: "id",
      in: "path",
      required: true,
      description: "The link's id (`link_…`)",
      schema: { type: "string" },
    },
  ]);
  const postParams = doc.paths["/v1/links"].post.parameters;
  assert.ok(
    postParams.some((p: { name: string; in: string }) =>
      p.in === "header" && p.name === "Idempotency-Key"
    ),
  );
});

Deno.test("GET /openapi.json documents Idempotency-Key on exactly the POSTs that create or act, the ones the SDK retries", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  const operations = Object.entries<Record<string, Doc>>(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method, path, op }))
  );
  const marked = operations.filter(({ op }) =>
    op.parameters.some((p: Doc) => p.in === "header" && p.name === "Idempotency-Key")
  );
  assert.deepEqual(marked.map(({ method, path }) => `${method} ${path}`).toSorted(), [
    "post /v1/links",
    "post /v1/links/{id}/cancel",
    "post /v1/links/{id}/webhooks/redeliver",
    "post /v1/sessions",
    "post /v1/sessions/{id}/end",
    "post /v1/webhooks/test",
  ]);
  for (const { path, op } of marked) {
    const [ok] = Object.entries<Doc>(op.responses).filter(([status]) => /^2/.test(status));
    assert.ok(ok[1].headers?.["Idempotent-Replayed"], `${path} does not document replays`);
    assert.match(ok[1].description, /replay/);
    assert.ok(
      JSON.stringify(op.responses["422"]).includes("IdempotencyKeyReusedError"),
      `${path} does not document idempotency_key_reused`,
    );
  }
  // The SDK retries a POST with a key only where the document says the key is honoured.
  for (const { method, path } of operations.filter(({ method }) => method === "post")) {
    const concrete = path.replace(/\{\w+\}/g, "link_01TEST");
    assert.equal(
      IDEMPOTENT_POSTS.some((route) => route.test(concrete)),
      marked.some((m) => m.method === method && m.path === path),
      `the SDK and the document disagree on ${method} ${path}`,
    );
  }
});

Deno.test("GET /openapi.json lists every error code in its Error schema", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  const codes = resolve(doc, doc.components.schemas.Error.properties.error.properties.code).enum;
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

Deno.test("GET /openapi.json names every operation as an SDK method, once", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  const ids: Record<string, string> = {};
  for (const [path, item] of Object.entries<Record<string, Doc>>(doc.paths)) {
    for (const [method, op] of Object.entries(item)) ids[`${method} ${path}`] = op.operationId;
  }
  const values = Object.values(ids);
  assert.equal(new Set(values).size, values.length, `repeated operationIds: ${values}`);
  for (const id of values) assert.match(id, /^[a-z][A-Za-z]*(\.[a-z][A-Za-z]*)+$/);
  assert.deepEqual(
    {
      create: ids["post /v1/links"],
      list: ids["get /v1/links"],
      retrieve: ids["get /v1/links/{id}"],
      cancel: ids["post /v1/links/{id}/cancel"],
      webhooks: ids["get /v1/links/{id}/webhooks"],
      session: ids["post /v1/sessions"],
      test: ids["post /v1/webhooks/test"],
    },
    {
      create: "links.create",
      list: "links.list",
      retrieve: "links.retrieve",
      cancel: "links.cancel",
      webhooks: "links.webhooks.list",
      session: "sessions.create",
      test: "webhooks.test",
    },
  );
});

Deno.test("GET /openapi.json answers with named schemas, and types Link.results by operation", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  const json = (path: string, method: string, status: string) =>
    doc.paths[path][method].responses[status].content["application/json"].schema;
  assert.deepEqual(json("/v1/links", "post", "201"), { $ref: "#/components/schemas/Link" });
  assert.deepEqual(json("/v1/links", "get", "200"), { $ref: "#/components/schemas/LinkList" });
  assert.deepEqual(json("/v1/sessions/{id}", "get", "200"), {
    $ref: "#/components/schemas/Session",
  });
  const schemas = doc.components.schemas;
  assert.deepEqual(schemas.LinkList.properties.data.items, { $ref: "#/components/schemas/Link" });
  assert.deepEqual(schemas.Link.properties.events.items, {
    $ref: "#/components/schemas/ClientEvent",
  });
  assert.deepEqual(schemas.ClientEventType.enum, [...CLIENT_EVENT_TYPES]);

  const results = schemas.Link.properties.results.anyOf;
  assert.deepEqual(results, [{ $ref: "#/components/schemas/LinkResults" }, { type: "null" }]);
  const byOperation = schemas.LinkResults.properties;
  assert.deepEqual(Object.keys(byOperation), [...OPERATION_TYPES]);
  assert.equal(schemas.LinkResults.required, undefined, "every result is optional");
  for (const type of OPERATION_TYPES) {
    const result = resolve(doc, byOperation[type]);
    assert.equal(result?.type, "object", `${type}: ${JSON.stringify(byOperation[type])}`);
  }
  assert.deepEqual(byOperation["mobileBillingStatement:read"], {
    $ref: "#/components/schemas/MobileBillingStatement",
  });
  assert.deepEqual(schemas.MobileBillingStatement.properties.lineItems.items, {
    $ref: "#/components/schemas/StatementLineItem",
  });

  // Every $ref points at a schema that exists.
  const refs = JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g);
  for (const [, id] of refs) assert.ok(schemas[id], `#/components/schemas/${id} is missing`);
});

Deno.test("GET /openapi.json gives each error code a schema, and each route the codes it answers", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  const schemas = doc.components.schemas;
  const catalog = new Map(errorCatalog().map((info) => [info.code, info]));
  const responses = doc.paths["/v1/links/{id}/cancel"].post.responses;
  const codesAt = (status: string) => {
    const schema = responses[status].content["application/json"].schema;
    return (schema.anyOf ?? [schema]).map((ref: Doc) => {
      const error = resolve(doc, ref).properties.error.properties;
      const code = error.code.const;
      assert.equal(error.type.const, catalog.get(code)?.type);
      assert.equal(String(catalog.get(code)?.status), status);
      return code;
    });
  };
  assert.deepEqual(codesAt("404"), ["link_not_found"]);
  // write_conflict: a repeat of a request still running with its Idempotency-Key.
  assert.deepEqual(codesAt("409"), ["invalid_status_transition", "write_conflict"]);
  assert.deepEqual(codesAt("422"), ["idempotency_key_reused"]);
  assert.deepEqual(codesAt("401"), ["missing_api_key", "invalid_api_key", "revoked_api_key"]);
  assert.equal(schemas.LinkNotFoundError.description, catalog.get("link_not_found")?.description);
  assert.deepEqual(responses.default.content["application/json"].schema, {
    $ref: "#/components/schemas/Error",
  });
});

Deno.test("GET /openapi.json describes every webhook event in its webhooks section", async () => {
  await using server = await startServer();
  const doc = await getDoc(server);
  assert.deepEqual(Object.keys(doc.webhooks).toSorted(), [
    "link.completed",
    "link.event",
    "link.failed",
    "webhook.test",
  ]);
  for (const [name, item] of Object.entries<Doc>(doc.webhooks)) {
    const schema = item.post.requestBody.content["application/json"].schema;
    assert.match(schema.$ref, /^#\/components\/schemas\/\w+Event$/, name);
    assert.equal(resolve(doc, schema).properties.type.const, name);
    assert.ok(
      item.post.parameters.some((p: Doc) => p.in === "header" && p.name === "Passage-Verification"),
    );
  }
  const completed = doc.components.schemas.LinkCompletedEvent;
  assert.deepEqual(completed.properties.results, { $ref: "#/components/schemas/LinkResults" });
  assert.deepEqual(doc.components.schemas.WebhookEventType.enum, [
    "link.completed",
    "link.failed",
    "link.event",
  ]);
});

Deno.test("every webhook a receiver gets is what the webhooks section of /openapi.json describes", async () => {
  await using server = await startServer({ allowLoopbackWebhooks: true });
  await using receiver = startReceiver();
  const webhookUrl = receiver.url;
  const test = await server.api("/v1/webhooks/test", { method: "POST", json: { url: webhookUrl } });
  assert.equal(test.status, 200, test.text);
  const completed = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl });
  await finishLink(server, completed.id, COMPLETE);
  const failed = await createLinkViaApi(server, { ...LINK_BODY, webhookUrl });
  await finishLink(server, failed.id, {
    status: "failed",
    error: { code: "invalid_credentials", message: "The password was refused" },
  });
  const watched = await createLinkViaApi(server, {
    ...LINK_BODY,
    webhookUrl,
    webhookEvents: ["client"],
  });
  assert.ok(await recordClientEvent(server.services, watched.id, { type: "opened" }));

  const doc = await getDoc(server);
  const types: string[] = [];
  for (const received of await receiver.waitFor(4)) {
    const body = JSON.parse(text(received));
    types.push(body.type);
    assert.ok(doc.webhooks[body.type], `${body.type} is not in the webhooks section`);
    const parsed = webhookEventSchemas[body.type].safeParse(body);
    assert.ok(parsed.success, `${body.type}: ${parsed.error?.message}`);
    // the documented objects admit no other property: nothing was stripped
    assert.deepEqual(parsed.data, body);
    assert.equal(received.headers.get("webhook-id"), body.id);
  }
  assert.deepEqual(types.toSorted(), [
    "link.completed",
    "link.event",
    "link.failed",
    "webhook.test",
  ]);
});

// ------------------------------------------------------------ linters and a generated client

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Pinned so a new release cannot turn the suite red; npx caches them after the first run. */
const TOOLS = {
  redocly: "@redocly/cli@2.77.0",
  spectral: "@stoplight/spectral-cli@6.16.3",
  openapiTypescript: "openapi-typescript@7.13.0",
};

async function npx(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("npx", {
    args: ["--yes", ...args],
    cwd: ROOT,
    env: { REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** The served document, written to a fresh temporary folder. */
async function docFile(server: TestServer): Promise<{ dir: string; file: string }> {
  const dir = await Deno.makeTempDir({ prefix: "passage-openapi-" });
  const file = `${dir}/openapi.json`;
  await Deno.writeTextFile(file, JSON.stringify(await getDoc(server), null, 2));
  return { dir, file };
}

Deno.test("Redocly's recommended rules and Spectral's oas rules find nothing in /openapi.json", async () => {
  await using server = await startServer();
  const { dir, file } = await docFile(server);
  try {
    const redocly = await npx([
      TOOLS.redocly,
      "lint",
      file,
      "--config",
      `${ROOT}redocly.yaml`,
      "--format",
      "json",
    ]);
    const report = JSON.parse(redocly.stdout.slice(redocly.stdout.indexOf("{")));
    assert.deepEqual(
      { errors: report.totals.errors, warnings: report.totals.warnings },
      { errors: 0, warnings: 0 },
      report.problems.map((p: Doc) => `${p.ruleId}: ${p.message}`).join("\n"),
    );

    const spectral = await npx([
      TOOLS.spectral,
      "lint",
      file,
      "--ruleset",
      `${ROOT}.spectral.yaml`,
      "--format",
      "json",
      "--output",
      `${dir}/spectral.json`,
      "--fail-severity",
      "hint",
    ]);
    const problems = JSON.parse(await Deno.readTextFile(`${dir}/spectral.json`));
    assert.deepEqual(
      problems.map((p: Doc) => `${p.code} at ${p.path.join(".")}: ${p.message}`),
      [],
    );
    assert.equal(spectral.code, 0, spectral.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openapi-typescript makes a named Link type from /openapi.json, and a client from it type-checks and works", async () => {
  await using server = await startServer();
  const { dir, file } = await docFile(server);
  try {
    const generated = await npx([TOOLS.openapiTypescript, file, "-o", `${dir}/schema.ts`]);
    assert.equal(generated.code, 0, generated.stderr);
    const types = await Deno.readTextFile(`${dir}/schema.ts`);
    assert.match(types, /^ {8}Link: \{$/m);
    assert.match(types, /results: components\["schemas"\]\["LinkResults"\] \| null;/);
    assert.match(
      types,
      /"mobileBillingStatement:read"\?: components\["schemas"\]\["MobileBillingStatement"\];/,
    );

    await Deno.writeTextFile(
      `${dir}/client.ts`,
      `import createClient from "npm:openapi-fetch@0.17.0";
import type { components, paths } from "./schema.ts";

type Link = components["schemas"]["Link"];

/** What only a precise contract lets a caller write. */
export function amountDue(link: Link): string | undefined {
  const bill = link.results?.["mobileBillingStatement:read"];
  // @ts-expect-error amountDue is a decimal string, not a number
  const wrong: number | undefined = bill?.amountDue;
  void wrong;
  return bill?.amountDue;
}

const [baseUrl, apiKey] = Deno.args;
const client = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${apiKey}\` } });
const created = await client.POST("/v1/links", {
  body: { provider: "tmobile", operations: [{ type: "mobileBillingStatement:read" }] },
  params: { header: { "Idempotency-Key": "generated-client" } },
});
if (created.error) throw new Error(created.error.error.code);
const status: "pending" | "claimed" | "running" | "complete" | "failed" | "expired" | "cancelled" =
  created.data.status;
// @ts-expect-error limit is an integer
void client.GET("/v1/links", { params: { query: { limit: "1" } } });
const listed = await client.GET("/v1/links", { params: { query: { limit: 1 } } });
const missing = await client.GET("/v1/links/{id}", { params: { path: { id: "link_nope" } } });
const code: components["schemas"]["ErrorCode"] | undefined = missing.error?.error.code;
type NotFound = paths["/v1/links/{id}"]["get"]["responses"][404]["content"]["application/json"];
const notFound: NotFound["error"]["code"] = "link_not_found";
// @ts-expect-error links.retrieve's 404 is link_not_found, nothing else
const other: NotFound["error"]["code"] = "session_not_found";
void [notFound, other];
console.log(JSON.stringify({
  id: created.data.id,
  status,
  amountDue: amountDue(created.data) ?? null,
  listed: listed.data?.data.map((link) => link.id),
  code,
}));
`,
    );
    const deno = (args: string[]) =>
      new Deno.Command(Deno.execPath(), { args, cwd: dir, stdout: "piped", stderr: "piped" })
        .output();
    const checked = await deno(["check", "--no-lock", "client.ts"]);
    assert.equal(checked.code, 0, new TextDecoder().decode(checked.stderr));

    const ran = await deno([
      "run",
      "--no-lock",
      `--allow-net=${new URL(server.url).host}`,
      "client.ts",
      server.url,
      server.apiKey,
    ]);
    assert.equal(ran.code, 0, new TextDecoder().decode(ran.stderr));
    const out = JSON.parse(new TextDecoder().decode(ran.stdout));
    assert.match(out.id, /^link_/);
    assert.deepEqual(
      { ...out, id: undefined },
      {
        id: undefined,
        status: "pending",
        amountDue: null,
        listed: [out.id],
        code: "link_not_found",
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
