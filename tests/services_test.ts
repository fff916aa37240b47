/**
 * The services object (`lib/services.ts`): built once, its configuration
 * frozen so nothing changes it after load, and the server's public URL known
 * before the app is built.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../lib/config.ts";
import { createServices, fixedClock, systemClock } from "../lib/services.ts";
import { createLinkViaApi, startServer } from "./_harness.ts";

Deno.test("createServices() freezes a copy of the config: any assignment to it throws and does not type-check", async () => {
  await using kv = await Deno.openKv(":memory:");
  const loaded = loadConfig({ PASSAGE_KV_PATH: ":memory:" });
  const svc = createServices(kv, loaded);
  assert.throws(() => {
    // @ts-expect-error: the configuration is read-only
    svc.config.publicUrl = "https://elsewhere.example";
  }, TypeError);
  assert.throws(() => {
    // @ts-expect-error: nested parts are read-only too
    svc.config.signIn.devSignIn = true;
  }, TypeError);
  assert.throws(() => {
    // @ts-expect-error: and so are its lists
    svc.config.signIn.providers.push({ id: "oidc" });
  }, TypeError);
  assert.throws(() => {
    (svc.config.nativeApps as { ios: unknown }).ios = {};
  }, TypeError);
  assert.equal(svc.config.publicUrl, "http://localhost:8000");
  assert.equal(svc.config.signIn.devSignIn, false);
  // The caller's object is its own: freezing the services' copy leaves it as it was.
  loaded.publicUrl = "https://mine.example";
  assert.equal(svc.config.publicUrl, "http://localhost:8000");
  assert.ok(Object.isFrozen(svc));
  assert.equal(svc.clock, systemClock);
  assert.equal(createServices(kv, loaded, { clock: fixedClock(5) }).clock.now(), 5);
});

Deno.test("a test server's config is complete before the app is built: its URLs name the server", async () => {
  await using server = await startServer();
  assert.ok(Object.isFrozen(server.config));
  assert.equal(server.config.publicUrl, server.url);
  assert.equal(server.services.config, server.config);
  const link = await createLinkViaApi(server);
  assert.ok(link.appClipUrl.startsWith(`${server.url}/c/`), link.appClipUrl);
});
