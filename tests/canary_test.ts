/**
 * The proof of Passage's promise: passwords, MFA codes, cookies and session
 * tokens never leave the user's device.
 *
 * Canary values (a password, an MFA code, and the session cookie the site
 * sets) are used in real logins: through Connect (a tmobile link on its
 * sandbox), and through a Sessions API script that tries hard to exfiltrate
 * them. Then everything Passage holds or emitted is scanned: every KV entry
 * (and every KV write made during the run, even if deleted since), every raw
 * message sent to a controller socket (live, and replayed from the start),
 * the SSE stream from the start, every webhook body, every result the SDK
 * handed the developer's code, the device's log, and the server's console
 * output. Each canary must appear zero times.
 *
 * Then the teeth: each redaction rule is switched off in turn (on the device
 * and on the server, through switches that only work in tests) and the
 * canary is found where that rule stood guard. The `screenshots` rule is
 * proved on pixels in `tests/redaction_test.ts`.
 */
import assert from "node:assert/strict";
import { Passage } from "@passage/connect";
import type { Browser as Controller, TelemetryEvent } from "@passage/connect";
import type { Browser as Chromium, Page } from "puppeteer-core";
import { type DeviceHandle, launchChromium, startDevice } from "../device/mod.ts";
import { disableRuleForTests, restoreRulesForTests, type RuleName } from "../device/_rules.ts";
import {
  disableServerRuleForTests,
  restoreServerRulesForTests,
  type ServerRule,
} from "../lib/redaction.ts";
import {
  type Canary,
  captureConsole,
  dumpKv,
  Evidence,
  findCanaries,
  humanTurns,
  recordControllerSocket,
  recordKvWrites,
  recordSse,
  spellings,
  within,
} from "./_evidence.ts";
import { startServer } from "./_harness.ts";
import { startReceiver, text as bodyText } from "./_webhooks.ts";
import { startTestSite, TEST_PASSWORD, TEST_USER, type TestSite } from "./fixtures/test_site.ts";

/** A distinctive random string. */
function random(length = 10): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(length)),
    (b) => "abcdefghijkmnpqrstuvwxyz23456789"[b % 32],
  ).join("");
}

/** An MFA canary the sandbox and the test site accept: six digits starting with 1234. */
function mfaCanary(): string {
  return `1234${String(crypto.getRandomValues(new Uint8Array(1))[0] % 100).padStart(2, "0")}`;
}

// ------------------------------------------------------------ the human and the controller

/**
 * Runs a controller call and records what it answered (or the error) as
 * "what the developer's code received"; failures are part of the attempt.
 */
async function attempt<T>(
  evidence: Evidence,
  what: string,
  call: () => Promise<T>,
): Promise<T | undefined> {
  try {
    const value = await call();
    evidence.add(`SDK result of ${what}`, JSON.stringify(value) ?? "undefined");
    return value;
  } catch (error) {
    evidence.add(`SDK error of ${what}`, String(error));
    return undefined;
  }
}

/** The exfiltration attempts of a hostile Sessions API script, through the SDK. */
function tryToExfiltrate(controller: Controller, evidence: Evidence, when: string) {
  const evaluate = (expression: string) =>
    attempt(
      evidence,
      `evaluate ${expression} (${when})`,
      () => controller.evaluate({ expression }),
    );
  return Promise.all([
    evaluate("document.querySelector('input[type=password]')?.value"),
    evaluate("document.querySelector('#mfa-code')?.value"),
    evaluate("[...document.querySelectorAll('input')].map((i) => i.name + '=' + i.value)"),
    evaluate(
      "[...document.forms].map((f) => JSON.stringify(Object.fromEntries(new FormData(f))))",
    ),
    evaluate("document.cookie"),
    evaluate("document.documentElement.outerHTML"),
    evaluate("JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })"),
    evaluate("location.href + ' ' + document.referrer"),
    evaluate("performance.getEntries().map((e) => e.name)"),
    // side doors: an error message, the console, the URL, the title
    evaluate(
      "(() => { throw new Error('got ' + document.querySelector('input[type=password]')?.value + ' ' + document.cookie); })()",
    ),
    evaluate(
      "console.log('pw', document.querySelector('input[type=password]')?.value, document.cookie)",
    ),
    evaluate(
      "history.replaceState(null, '', '#' + encodeURIComponent(document.querySelector('input[type=password]')?.value ?? document.cookie))",
    ),
    evaluate(
      "document.title = document.querySelector('input[type=password]')?.value ?? document.cookie",
    ),
    attempt(
      evidence,
      `getAttribute value (${when})`,
      () => controller.getAttribute({ selector: "input[type=password]", name: "value" }),
    ),
    attempt(
      evidence,
      `innerHTML of the form (${when})`,
      () => controller.innerHTML({ selector: "form" }),
    ),
    attempt(
      evidence,
      `innerHTML of body (${when})`,
      () => controller.innerHTML({ selector: "body" }),
    ),
    attempt(
      evidence,
      `textContent of body (${when})`,
      () => controller.textContent({ selector: "body" }),
    ),
    attempt(evidence, `readCapturedResponses (${when})`, () => controller.readCapturedResponses()),
    attempt(evidence, `url (${when})`, () => controller.url()),
  ]);
}

async function typeInto(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForSelector(selector, { visible: true });
  await page.type(selector, text);
}

// ------------------------------------------------------------ the tests

Deno.test("canary: no password, MFA code or session cookie leaves the device, and every rule has teeth", async (t) => {
  const chromium = await launchChromium();
  try {
    await t.step("Connect: a tmobile link with canary credentials leaks nothing", async () => {
      await connectCanary(chromium);
    });

    await t.step("Sessions API: a script trying hard to exfiltrate gets nothing", async () => {
      await using site = await startTestSite();
      const run = await sessionsRun(site, chromium, { hostile: true });
      assert.equal(run.loggedIn, true, "the human's login went through");
      assert.deepEqual(findCanaries(run.evidence, run.canaries), []);
      assert.ok(run.evidence.items.length > 100, "the scan saw the run");
    });

    await t.step(
      "teeth: with the secrets and snapshot rules off, evaluate hands the password over",
      async () => {
        await using site = await startTestSite();
        // snapshot empties the field when the yield ends and hides values from evaluate
        const run = await withRulesOff(
          ["secrets", "snapshot"],
          [],
          () => sessionsRun(site, chromium),
        );
        const password = run.canaries.find((c) => c.name === "password")!;
        const found = findCanaries(run.evidence, [password]);
        assert.ok(
          found.some((f) => f.includes("SDK result of evaluate")),
          `the password was not found:\n${found.join("\n")}`,
        );
        assert.ok(found.some((f) => /controller socket/.test(f)), found.join("\n"));
      },
    );

    await t.step(
      "teeth: with the urls rule off, the session token shows in telemetry URLs",
      async () => {
        await using site = await startTestSite();
        // `secrets` also scrubs a known cookie value: off in both runs, so only `urls` stands guard
        const guarded = await withRulesOff(["secrets"], [], () => sessionsRun(site, chromium));
        assert.deepEqual(
          telemetryUrlsWith(guarded, "session cookie"),
          [],
          "urls on: no token in a URL",
        );
        const open = await withRulesOff(
          ["secrets", "urls"],
          ["urls"],
          () => sessionsRun(site, chromium),
        );
        const urls = telemetryUrlsWith(open, "session cookie");
        assert.ok(
          urls.some((u) => u.includes("/welcome?token=")),
          `no telemetry URL carries the token: ${urls.join("\n")}`,
        );
      },
    );

    await t.step(
      "teeth: with the telemetryFields rule off, the login POST body and cookies show in telemetry",
      async () => {
        await using site = await startTestSite();
        const guarded = await withRulesOff(["secrets"], [], () => sessionsRun(site, chromium));
        assert.deepEqual(telemetryLeaks(guarded), [], "telemetryFields on: nothing in telemetry");
        const open = await withRulesOff(
          ["secrets", "telemetryFields"],
          ["telemetryFields"],
          () => sessionsRun(site, chromium),
        );
        const leaks = telemetryLeaks(open);
        assert.ok(leaks.includes("password"), `the login body is not in telemetry: ${leaks}`);
        assert.ok(leaks.includes("session cookie"), `no cookie in telemetry: ${leaks}`);
      },
    );
  } finally {
    restoreRulesForTests();
    restoreServerRulesForTests();
    await chromium.close();
  }
});

Deno.test("the rule switches throw outside tests, in the device and in the server", async () => {
  const root = new URL("../", import.meta.url);
  const dir = await Deno.makeTempDir({ prefix: "passage-rules-" });
  try {
    const programs = {
      device: `import { disableRuleForTests } from "${new URL("device/_rules.ts", root).href}";
disableRuleForTests("secrets");
console.log("SWITCHED OFF");`,
      server: `import { disableServerRuleForTests } from "${
        new URL("lib/redaction.ts", root).href
      }";
disableServerRuleForTests("urls");
console.log("SWITCHED OFF");`,
    };
    for (const [side, program] of Object.entries(programs)) {
      // as a running program (`deno run main.ts`) and as `deno eval`
      const file = `${dir}/main.ts`;
      await Deno.writeTextFile(file, program);
      for (const args of [["run", "--allow-read", file], ["eval", program]]) {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [args[0], "--config", new URL("deno.json", root).pathname, ...args.slice(1)],
          cwd: root.pathname,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stdout = new TextDecoder().decode(out.stdout);
        const stderr = new TextDecoder().decode(out.stderr);
        assert.notEqual(out.code, 0, `${side} via ${args[0]} exited 0: ${stdout}`);
        assert.ok(!stdout.includes("SWITCHED OFF"), `${side} via ${args[0]}: ${stdout}`);
        assert.match(stderr, /only allowed in tests|only be switched off inside a test/i, stderr);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ------------------------------------------------------------ scenarios

/** Runs `run` with the given device and server rules off, restoring them all after. */
async function withRulesOff<T>(
  device: RuleName[],
  server: ServerRule[],
  run: () => Promise<T>,
): Promise<T> {
  try {
    for (const rule of device) disableRuleForTests(rule);
    for (const rule of server) disableServerRuleForTests(rule);
    return await run();
  } finally {
    restoreRulesForTests();
    restoreServerRulesForTests();
  }
}

/** The telemetry events a controller received, parsed from the raw socket frames. */
function telemetryOf(run: { controllerFrames: string[] }): Array<Record<string, unknown>> {
  return run.controllerFrames
    .map((f) => JSON.parse(f))
    .filter((m) => m.type === "telemetry")
    .map((m) => m.event);
}

/** Telemetry URLs that contain the canary named `name`. */
function telemetryUrlsWith(run: SessionsRun, name: string): string[] {
  const canary = run.canaries.find((c) => c.name === name)!;
  return telemetryOf(run).flatMap((e) =>
    typeof e.url === "string" && spellings(canary.value).some((s) => (e.url as string).includes(s))
      ? [e.url]
      : []
  );
}

/** Which canaries (by name) appear anywhere in the telemetry a controller received. */
function telemetryLeaks(run: SessionsRun): string[] {
  const evidence = new Evidence();
  for (const event of telemetryOf(run)) evidence.add("telemetry", JSON.stringify(event));
  const found = new Set<string>();
  for (const canary of run.canaries) {
    if (findCanaries(evidence, [canary]).length > 0) found.add(canary.name);
  }
  return [...found];
}

interface SessionsRun {
  evidence: Evidence;
  canaries: Canary[];
  controllerFrames: string[];
  loggedIn: boolean;
}

/**
 * A Sessions API run on the test site with MFA: the human logs in with a
 * canary password and code; the script captures the login responses, yields
 * twice (capturing the login POST's answer, then the MFA POST's), and, when
 * `hostile`, tries everything it can to read the secrets back. Returns all
 * the evidence and the canaries (the cookie read from the device's browser).
 */
async function sessionsRun(
  site: TestSite,
  chromium: Chromium,
  options: { hostile?: boolean } = {},
): Promise<SessionsRun> {
  const evidence = new Evidence();
  const password = `${TEST_PASSWORD} ${random()}`;
  const code = mfaCanary();
  const server = await startServer();
  const stopConsole = captureConsole(evidence);
  const stopKv = recordKvWrites(server.kv, evidence);
  let device: DeviceHandle | null = null;
  try {
    const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
    const session = await passage.sessions.create();
    const live = recordControllerSocket(server, session.id, evidence, "live controller socket");
    const sse = recordSse(server, session.id, evidence);
    const controller = await session.connect();
    controller.onTelemetry((event: TelemetryEvent) =>
      evidence.add("SDK telemetry", JSON.stringify(event))
    );
    const turns = humanTurns();
    device = await startDevice({
      server: server.url,
      claimCode: session.claimCode!,
      allowPrivateOrigins: [site.url],
      browser: chromium,
      onStatus: turns.onStatus,
      log: (line) => evidence.add("device log", line),
    });
    const page = device.page;

    await controller.captureResponses({ urlContains: "/api/" });
    await controller.navigate({ url: `${site.url}/login?mfa=1` });

    // 1. the password, with the login POST's answer captured
    const first = attempt(evidence, "yieldToUser (login POST)", () =>
      controller.yieldToUser({
        status: { subheading: "Log in to continue..." },
        conditions: [{
          type: "networkRequest",
          urlContains: "/api/login",
          method: "POST",
          captureBody: true,
        }],
        timeout: 60_000,
      }));
    await turns.nth(1);
    await typeInto(page, "#username", TEST_USER);
    await typeInto(page, "#password", password);
    await page.click("#submit");
    await first;
    await controller.waitForSelector({ selector: "#mfa-code" });
    // the password was in this field a moment ago: read it, however we can
    await attempt(
      evidence,
      "evaluate the password field",
      () => controller.evaluate({ expression: "document.querySelector('#password').value" }),
    );
    if (options.hostile) {
      await tryToExfiltrate(controller, evidence, "after the password");
      for (
        const [what, call] of [
          ["fill #password", () => controller.fill({ selector: "#password", value: "x" })],
          ["type #password", () => controller.type({ selector: "#password", text: "x" })],
          ["fill #username", () => controller.fill({ selector: "#username", value: "x" })],
        ] as const
      ) {
        const result = await attempt(evidence, what, call);
        assert.equal(result, undefined, `${what} was not refused`);
      }
    }

    // 2. the MFA code, with the MFA POST's answer (which carries the token) captured
    const second = attempt(evidence, "yieldToUser (MFA POST)", () =>
      controller.yieldToUser({
        conditions: [{ type: "networkRequest", urlContains: "/api/mfa", captureBody: true }],
        timeout: 60_000,
      }));
    await turns.nth(2);
    await typeInto(page, "#mfa-code", code);
    await page.click("#mfa-submit");
    await second;
    if (options.hostile) {
      // the MFA field may still be there for a moment
      await tryToExfiltrate(controller, evidence, "right after the MFA code");
      await attempt(
        evidence,
        "fill #mfa-code",
        () => controller.fill({ selector: "#mfa-code", value: "000000" }),
      );
    }
    const home = await attempt(
      evidence,
      "waitForNavigation /home",
      () => controller.waitForNavigation({ urlContains: "/home" }),
    );
    const cookie = (await page.cookies()).find((c) => c.name === "sid")?.value;
    assert.ok(cookie, "the site set its session cookie");
    if (options.hostile) {
      await tryToExfiltrate(controller, evidence, "signed in");
      await attempt(evidence, "fetch the account API", () =>
        controller.evaluate({
          expression:
            "fetch('/api/account').then((r) => r.text()).then((t) => t + document.cookie)",
        }));
    }

    await controller.close();
    await passage.sessions.end(session.id);
    await within(device.ended, 15_000, "the device's end");
    await within(Promise.all([live.closed, sse.done]), 15_000, "the end of the live streams");
    // everything stored for the session, replayed from the start
    const replay = recordControllerSocket(
      server,
      session.id,
      evidence,
      "replayed controller socket",
    );
    await within(replay.closed, 15_000, "the replay's end");
    for (const path of [`/v1/sessions/${session.id}`, "/v1/sessions"]) {
      evidence.add(`API GET ${path}`, (await server.api(path)).text);
    }
    await dumpKv(server.kv, evidence);
    return {
      evidence,
      controllerFrames: live.frames,
      loggedIn: home !== undefined,
      canaries: [
        { name: "password", value: password },
        { name: "MFA code", value: code },
        { name: "session cookie", value: cookie },
      ],
    };
  } finally {
    stopKv();
    stopConsole();
    await device?.close();
    await server.close();
  }
}

/**
 * Connect, as the seed shows it: a tmobile link with a webhook, the device
 * claims it, the human logs in with a canary password and MFA code, the
 * engine reads the bill, the cards and the account, and the webhook arrives.
 */
async function connectCanary(chromium: Chromium): Promise<void> {
  const evidence = new Evidence();
  const password = `pass_good_${random()}`;
  const code = mfaCanary();
  const server = await startServer({ allowLoopbackWebhooks: true });
  const receiver = startReceiver();
  const stopConsole = captureConsole(evidence);
  const stopKv = recordKvWrites(server.kv, evidence);
  let device: DeviceHandle | null = null;
  try {
    const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
    const link = await passage.links.create({
      provider: "tmobile",
      operations: [
        { type: "mobileBillingStatement:read" },
        { type: "paymentMethod:read" },
        { type: "accountOwnership:verify" },
      ],
      webhookUrl: receiver.url,
    });
    const turns = humanTurns();
    device = await startDevice({
      server: server.url,
      claimCode: link.claimCode!,
      browser: chromium,
      onStatus: turns.onStatus,
      log: (line) => evidence.add("device log", line),
    });
    const live = recordControllerSocket(
      server,
      device.sessionId,
      evidence,
      "live controller socket",
    );
    const sse = recordSse(server, device.sessionId, evidence);

    // the human, on their phone
    await turns.nth(1);
    const page = device.page;
    await typeInto(page, "#username", "user_good");
    await typeInto(page, "#password", password);
    await page.click("#submit");
    await typeInto(page, "#mfa-code", code);
    const welcome = page.waitForResponse((r) => r.url().includes("/welcome?"));
    await page.click("#mfa-submit");
    await within(welcome, 15_000, "the sign-in redirect");
    const cookie = (await page.cookies()).find((c) => c.name === "tmobile_sid")?.value;
    assert.ok(cookie, "the sandbox set its session cookie");

    const [hook] = await receiver.waitFor(1, 60_000);
    const payload = JSON.parse(bodyText(hook));
    assert.equal(payload.status, "complete", bodyText(hook));
    assert.equal(payload.results["mobileBillingStatement:read"].amountDue, "142.50");
    await within(device.ended, 15_000, "the device's end");
    await within(Promise.all([live.closed, sse.done]), 15_000, "the end of the live streams");
    const replay = recordControllerSocket(
      server,
      device.sessionId,
      evidence,
      "replayed controller socket",
    );
    await within(replay.closed, 15_000, "the replay's end");

    for (const request of receiver.requests) evidence.add("webhook body", bodyText(request));
    for (const path of [`/v1/links/${link.id}`, "/v1/links", `/v1/sessions/${device.sessionId}`]) {
      evidence.add(`API GET ${path}`, (await server.api(path)).text);
    }
    assert.ok(await dumpKv(server.kv, evidence) > 0);
    assert.ok(
      evidence.items.some((i) => i.where === "webhook body") &&
        evidence.items.some((i) => i.where === "SSE stream") &&
        evidence.items.some((i) => i.where.startsWith("live controller socket")) &&
        evidence.items.some((i) => i.where.startsWith("KV entry")),
      "every source was recorded",
    );
    assert.deepEqual(
      findCanaries(evidence, [
        { name: "password", value: password },
        { name: "MFA code", value: code },
        { name: "session cookie", value: cookie },
      ]),
      [],
    );
  } finally {
    stopKv();
    stopConsole();
    await device?.close();
    await receiver.close();
    await server.close();
  }
}
