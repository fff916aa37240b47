/**
 * The seed's Sessions API example, end to end: a real server, the SDK as the
 * developer's code, the reference device on a real headless Chromium, and a
 * local website with a login form and a JSON account API. The test plays the
 * human by typing into the device's page.
 */
import assert from "node:assert/strict";
import { Passage } from "@passage/connect";
import type { TelemetryEvent } from "@passage/connect/protocol";
import { startDevice } from "../device/mod.ts";
import { startServer } from "./_harness.ts";
import { ACCOUNT, startTestSite, TEST_PASSWORD, TEST_USER } from "./fixtures/test_site.ts";

/** Collects a session's SSE events until aborted. */
function followEvents(url: string, apiKey: string) {
  const events: Array<
    { id: string; event: string; data: { type: string; event?: TelemetryEvent } }
  > = [];
  const abort = new AbortController();
  const done = (async () => {
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${apiKey}` },
      signal: abort.signal,
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += value;
        let i;
        while ((i = text.indexOf("\n\n")) >= 0) {
          const block = text.slice(0, i);
          text = text.slice(i + 2);
          const fields: Record<string, string> = {};
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
          }
          if (fields.data) {
            events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
          }
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
  })();
  return {
    events,
    kinds: () => new Set<string>(events.flatMap((e) => e.data.event ? [e.data.event.kind] : [])),
    async stop() {
      abort.abort();
      await done;
    },
  };
}

/** Resolves when `predicate` holds, re-checking whenever `poke` is called. */
function until(predicate: () => boolean): { promise: Promise<void>; poke: () => void } {
  const { promise, resolve } = Promise.withResolvers<void>();
  const poke = () => predicate() && resolve();
  return { promise, poke };
}

Deno.test("the seed's Sessions example runs end to end with a real device and a human typing", async () => {
  await using site = await startTestSite();
  await using server = await startServer();
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });

  // The developer's code, as in the seed.
  const session = await passage.sessions.create();
  const sse = followEvents(`${server.url}/v1/sessions/${session.id}/events`, server.apiKey);
  const browser = await session.connect();

  // The user opens the claim code on their device; the human waits for their turn.
  const humanTurn = Promise.withResolvers<void>();
  await using device = await startDevice({
    server: server.url,
    claimCode: session.claimCode!,
    allowPrivateOrigins: [site.url],
    onStatus: (status) => status && humanTurn.resolve(),
  });

  await browser.navigate({ url: `${site.url}/login` });
  const yielded = browser.yieldToUser({
    status: { subheading: "Log in to continue..." },
    conditions: [{ type: "networkRequest", urlContains: "api/account", captureBody: true }],
    timeout: 120_000,
  });
  await humanTurn.promise;
  await device.page.type("#username", TEST_USER);
  await device.page.type("#password", TEST_PASSWORD);
  await device.page.click("#submit");
  const result = await yielded;

  const account = JSON.parse(result.networkCapture!.responseBody!);
  assert.deepEqual(account, ACCOUNT);

  await browser.navigate({ url: `${site.url}/settings` });
  const html = await browser.innerHTML({ selector: ".account-details" });
  assert.match(html, /Ada Lovelace/);
  assert.match(html, /ada@example\.com/);
  assert.match(html, /Unlimited/);

  // Telemetry of the run, seen live over SSE: console, network, navigation, screenshots.
  const wanted = ["console", "request", "response", "navigation", "screenshot"];
  const seen = until(() => wanted.every((k) => sse.kinds().has(k)));
  const poll = setInterval(seen.poke, 20);
  await seen.promise;
  clearInterval(poll);
  const urls = sse.events.flatMap((e) =>
    e.data.event?.kind === "navigation" ? [e.data.event.url] : []
  );
  assert.ok(urls.some((u) => u.endsWith("/settings")), `navigations: ${urls.join(", ")}`);

  await browser.close();
  await passage.sessions.end(session.id);
  assert.equal((await device.ended).reason, "ended_by_developer");
  await sse.stop();
});

Deno.test("a device whose socket drops mid-session reconnects and no command is lost or run twice", async () => {
  await using site = await startTestSite();
  await using server = await startServer();
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const session = await passage.sessions.create();
  const browser = await session.connect();
  await using device = await startDevice({
    server: server.url,
    claimCode: session.claimCode!,
    allowPrivateOrigins: [site.url],
  });

  const navigations: string[] = [];
  browser.onTelemetry((e) => e.kind === "navigation" && navigations.push(new URL(e.url).pathname));

  await browser.navigate({ url: `${site.url}/widgets` });
  device.dropConnection();
  // Sent while the device is away: they wait in the log and run once it is back.
  const [title, url] = await Promise.all([
    browser.evaluate<string>({ expression: "document.title" }),
    browser.url(),
  ]);
  assert.equal(typeof title, "string");
  assert.ok(url.endsWith("/widgets"));
  device.dropConnection();
  await browser.navigate({ url: `${site.url}/login` });
  assert.ok((await browser.url()).endsWith("/login"));

  const stored = await server.api(`/v1/sessions/${session.id}`);
  assert.equal(stored.body.status, "active");
  assert.equal(navigations.filter((p) => p === "/widgets").length, 1, navigations.join(", "));
  assert.equal(navigations.filter((p) => p === "/login").length, 1, navigations.join(", "));
  await browser.close();
  await passage.sessions.end(session.id);
  await device.ended;
});
