/**
 * Sessions declare where they may go: `POST /v1/sessions` takes optional
 * `allowedOrigins` (normalised, validated, at most 20), a Connect link's
 * session gets its provider's origins (the sandbox's, this server's own
 * origin, for test links), the device's claim answer carries them, and the
 * claim page shows them, or says plainly that any website may be opened.
 */
import assert from "node:assert/strict";
import { Passage } from "@passage/connect";
import { createApiKey } from "../lib/api_keys.ts";
import {
  assertError,
  claim,
  createLinkViaApi,
  LINK_BODY,
  request,
  startServer,
} from "./_harness.ts";

Deno.test("POST /v1/sessions normalises allowedOrigins and the device's claim returns them", async () => {
  await using server = await startServer();
  const created = await server.api("/v1/sessions", {
    method: "POST",
    json: {
      allowedOrigins: [
        "https://WWW.Example.com:443/",
        "http://localhost:8000",
        "https://www.example.com",
      ],
    },
  });
  assert.equal(created.status, 201, created.text);
  const expected = ["https://www.example.com", "http://localhost:8000"];
  assert.deepEqual(created.body.allowedOrigins, expected);
  const got = await server.api(`/v1/sessions/${created.body.id}`);
  assert.deepEqual(got.body.allowedOrigins, expected);

  const page = await request(`${server.url}/c/${created.body.claimCode}`);
  assert.match(page.text, /may only open these websites/);
  assert.match(page.text, /<code>https:\/\/www\.example\.com<\/code>/);
  assert.match(page.text, /<code>http:\/\/localhost:8000<\/code>/);
  assert.doesNotMatch(page.text, /may open any website/);

  const claimed = await claim(server, created.body.claimCode);
  assert.equal(claimed.status, 200, claimed.text);
  assert.deepEqual(claimed.body.allowedOrigins, expected);
});

Deno.test("a session created without allowedOrigins may go anywhere, and the claim page says so", async () => {
  await using server = await startServer();
  const created = await server.api("/v1/sessions", { method: "POST", json: {} });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.allowedOrigins, null);
  const page = await request(`${server.url}/c/${created.body.claimCode}`);
  assert.match(page.text, /may open any website/);
  const claimed = await claim(server, created.body.claimCode);
  assert.equal(claimed.body.allowedOrigins, null);
});

Deno.test("bad allowedOrigins are a 400 invalid_request naming the entry", async () => {
  await using server = await startServer();
  const bad: Array<[unknown, string]> = [
    [["https://example.com/login"], "allowedOrigins.0"],
    [["https://example.com", "https://example.com/?q=1"], "allowedOrigins.1"],
    [["https://example.com#x"], "allowedOrigins.0"],
    [["ftp://example.com"], "allowedOrigins.0"],
    [["javascript:alert(1)"], "allowedOrigins.0"],
    [["*"], "allowedOrigins.0"],
    [["example.com"], "allowedOrigins.0"],
    [["https://user:pw@example.com"], "allowedOrigins.0"],
    [[42], "allowedOrigins.0"],
    ["https://example.com", "allowedOrigins"],
    [[], "allowedOrigins"],
    [Array.from({ length: 21 }, (_, i) => `https://s${i}.example.com`), "allowedOrigins"],
  ];
  for (const [allowedOrigins, param] of bad) {
    const res = await server.api("/v1/sessions", { method: "POST", json: { allowedOrigins } });
    assertError(res, 400, "invalid_request", param);
  }
  const twenty = Array.from({ length: 20 }, (_, i) => `https://s${i}.example.com`);
  const ok = await server.api("/v1/sessions", { method: "POST", json: { allowedOrigins: twenty } });
  assert.equal(ok.status, 201, ok.text);
});

Deno.test("a test link's session may open only the sandbox's origin, a live link's only the provider's", async () => {
  await using server = await startServer();
  const link = await createLinkViaApi(server, LINK_BODY);
  const page = await request(`${server.url}/c/${link.claimCode}`);
  const own = new URL(server.config.publicUrl).origin;
  assert.match(page.text, new RegExp(`<code>${own.replaceAll(".", "\\.")}</code>`));
  const claimed = await claim(server, link.claimCode);
  assert.equal(claimed.status, 200, claimed.text);
  assert.deepEqual(claimed.body.allowedOrigins, [own]);

  const live = await createApiKey(server.kv, { name: "live", mode: "live" });
  const liveLink = await createLinkViaApi(server, LINK_BODY, { apiKey: live.secret });
  const liveClaim = await claim(server, liveLink.claimCode);
  assert.equal(liveClaim.status, 200, liveClaim.text);
  assert.ok(liveClaim.body.allowedOrigins.includes("https://www.t-mobile.com"));
  assert.ok(liveClaim.body.allowedOrigins.includes("https://account.t-mobile.com"));
  assert.ok(!liveClaim.body.allowedOrigins.includes(own));
});

Deno.test("passage.sessions.create() works with no argument and with allowedOrigins", async () => {
  await using server = await startServer();
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const anywhere = await passage.sessions.create();
  assert.equal(anywhere.allowedOrigins, null);
  const scoped = await passage.sessions.create({ allowedOrigins: ["https://www.example.com/"] });
  assert.deepEqual(scoped.allowedOrigins, ["https://www.example.com"]);
  await assert.rejects(
    passage.sessions.create({ allowedOrigins: ["https://www.example.com/login"] }),
    (err: Error & { code?: string }) => err.code === "invalid_request",
  );
});
