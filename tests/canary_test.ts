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
import { startServer, type TestServer } from "./_harness.ts";
import { startReceiver, text as bodyText } from "./_webhooks.ts";
import { startTestSite, TEST_PASSWORD, TEST_USER, type TestSite } from "./fixtures/test_site.ts";

// ------------------------------------------------------------ evidence

/** Everything Passage held or emitted during a run, as text, by where it was seen. */
class Evidence {
  readonly items: Array<{ where: string; text: string }> = [];
  add(where: string, text: string): void {
    this.items.push({ where, text });
  }
}

/** Every string inside a value (keys included), bytes decoded as UTF-8. */
function stringsOf(value: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 100) return out;
  if (typeof value === "string") out.push(value);
  else if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    out.push(String(value));
  } else if (value instanceof Uint8Array) out.push(new TextDecoder().decode(value));
  else if (value instanceof Deno.KvU64) out.push(String(value.value));
  else if (value instanceof Date) out.push(value.toISOString());
  else if (value instanceof Map) {
    for (const [k, v] of value) stringsOf(k, out, depth + 1), stringsOf(v, out, depth + 1);
  } else if (value instanceof Set) { for (const v of value) stringsOf(v, out, depth + 1); }
  else if (Array.isArray(value)) { for (const v of value) stringsOf(v, out, depth + 1); }
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      stringsOf(v, out, depth + 1);
    }
  }
  return out;
}

/** A KV key and value as text; chunks of large values are also joined and decoded whole. */
class KvText {
  readonly #chunks = new Map<string, Map<number, Uint8Array>>();
  constructor(readonly evidence: Evidence, readonly where: string) {}

  add(key: Deno.KvKey, value: unknown): void {
    const k = JSON.stringify(stringsOf(key));
    this.evidence.add(`${this.where} ${k}`, [...stringsOf(key), ...stringsOf(value)].join("\n"));
    if (key[0] === "blob_chunks" && value instanceof Uint8Array) {
      const id = String(key[1]);
      const parts = this.#chunks.get(id) ?? new Map<number, Uint8Array>();
      parts.set(Number(key[2]), value);
      this.#chunks.set(id, parts);
    }
  }

  /** Adds each chunked value, joined in order. */
  finish(): void {
    for (const [id, parts] of this.#chunks) {
      const ordered = [...parts.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
      const bytes = new Uint8Array(ordered.reduce((n, p) => n + p.byteLength, 0));
      let offset = 0;
      for (const part of ordered) {
        bytes.set(part, offset);
        offset += part.byteLength;
      }
      this.evidence.add(`${this.where} blob ${id} (joined)`, new TextDecoder().decode(bytes));
    }
  }
}

/** Records every value written to `kv` (set, atomic set, enqueue) until the returned function runs. */
function recordKvWrites(kv: Deno.Kv, evidence: Evidence): () => void {
  const writes = new KvText(evidence, "KV write");
  const { set, atomic, enqueue } = kv;
  kv.set = (key, value, options) => {
    writes.add(key, value);
    return set.call(kv, key, value, options);
  };
  kv.enqueue = (value, options) => {
    writes.add(["(queue)"], value);
    return enqueue.call(kv, value, options);
  };
  kv.atomic = () => {
    const op = atomic.call(kv);
    const opSet = op.set.bind(op);
    const opEnqueue = op.enqueue.bind(op);
    op.set = (key, value, options) => {
      writes.add(key, value);
      return opSet(key, value, options);
    };
    op.enqueue = (value, options) => {
      writes.add(["(queue)"], value);
      return opEnqueue(value, options);
    };
    return op;
  };
  return () => {
    Object.assign(kv, { set, atomic, enqueue });
    writes.finish();
  };
}

/** Every KV entry now, keys included. */
async function dumpKv(kv: Deno.Kv, evidence: Evidence): Promise<number> {
  const entries = new KvText(evidence, "KV entry");
  let count = 0;
  for await (const entry of kv.list({ prefix: [] })) {
    entries.add(entry.key, entry.value);
    count++;
  }
  entries.finish();
  return count;
}

const CONSOLE_METHODS = ["log", "info", "warn", "error", "debug"] as const;

/** Captures what the in-process server prints (and still prints it) until the returned function runs. */
function captureConsole(evidence: Evidence): () => void {
  const originals = CONSOLE_METHODS.map((m) => console[m]);
  for (const [i, method] of CONSOLE_METHODS.entries()) {
    console[method] = (...args: unknown[]) => {
      evidence.add(
        `server console.${method}`,
        args.map((a) =>
          typeof a === "string" ? a : Deno.inspect(a, { depth: 20, strAbbreviateSize: 1e9 })
        ).join(" "),
      );
      originals[i].apply(console, args);
    };
  }
  return () => CONSOLE_METHODS.forEach((m, i) => console[m] = originals[i]);
}

/**
 * A raw controller socket that asks for every event from the start
 * (`after: 0`) and records each frame as sent; ends when the server closes it
 * (after the session's end).
 */
function recordControllerSocket(
  server: TestServer,
  sessionId: string,
  evidence: Evidence,
  label: string,
): { closed: Promise<void>; close(): void; frames: string[] } {
  const frames: string[] = [];
  const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}/v1/sessions/${sessionId}/socket`);
  const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
  ws.onopen = () =>
    ws.send(JSON.stringify({ type: "hello", v: 1, apiKey: server.apiKey, after: 0 }));
  ws.onmessage = (e) => {
    frames.push(String(e.data));
    evidence.add(label, String(e.data));
  };
  ws.onerror = () => {};
  return {
    closed,
    frames,
    close: () => ws.readyState === WebSocket.OPEN && ws.close(1000),
  };
}

/** `GET /v1/sessions/:id/events` from the start (`Last-Event-ID: 0`), recorded raw. */
function recordSse(
  server: TestServer,
  sessionId: string,
  evidence: Evidence,
): { done: Promise<void>; stop(): void } {
  const abort = new AbortController();
  const done = (async () => {
    try {
      const res = await fetch(`${server.url}/v1/sessions/${sessionId}/events`, {
        headers: { authorization: `Bearer ${server.apiKey}`, "last-event-id": "0" },
        signal: abort.signal,
      });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let all = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        all += value;
      }
      evidence.add("SSE stream", all);
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  })();
  return { done, stop: () => abort.abort() };
}

/** Resolves once `promise` has, or fails after `ms` with `what`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------ canaries

interface Canary {
  name: string;
  value: string;
}

/** How a canary can be written: as is, percent-encoded, form-encoded, decoded, JSON- or HTML-escaped. */
function spellings(value: string): string[] {
  const out = new Set([value, encodeURIComponent(value)]);
  out.add(new URLSearchParams({ v: value }).toString().slice(2));
  out.add(JSON.stringify(value).slice(1, -1));
  out.add(value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;"));
  try {
    out.add(decodeURIComponent(value));
  } catch {
    // not percent-encoded
  }
  return [...out];
}

/** Every place a canary appears in the evidence, with a little context. */
function findCanaries(evidence: Evidence, canaries: Canary[]): string[] {
  const found: string[] = [];
  for (const canary of canaries) {
    assert.ok(canary.value.length >= 6, `the ${canary.name} canary is too short to be distinctive`);
    for (const spelling of spellings(canary.value)) {
      const escaped = spelling.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      // a numeric canary (the MFA code) counts only when it is not part of a longer number
      const pattern = /^\d+$/.test(spelling)
        ? new RegExp(`(?<!\\d)${escaped}(?!\\d)`, "g")
        : new RegExp(escaped, "g");
      for (const { where, text } of evidence.items) {
        for (const match of text.matchAll(pattern)) {
          const from = Math.max(0, match.index - 60);
          found.push(
            `the ${canary.name} (${spelling}) in ${where}: …${
              text.slice(from, match.index + spelling.length + 60)
            }…`,
          );
        }
      }
    }
  }
  return found;
}

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

/** Resolves each time the device hands the human control. */
function humanTurns() {
  let started = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  return {
    onStatus(status: unknown) {
      if (!status) return;
      started++;
      for (const w of waiters.filter((w) => w.n <= started)) w.resolve();
    },
    nth(n: number): Promise<void> {
      if (started >= n) return Promise.resolve();
      return within(
        new Promise<void>((resolve) => waiters.push({ n, resolve })),
        60_000,
        `yield ${n}`,
      );
    },
  };
}

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
      "teeth: with the secrets and evaluateIsolation rules off, evaluate hands the password over",
      async () => {
        await using site = await startTestSite();
        // evaluateIsolation empties the field when the yield ends and hides values from evaluate
        const run = await withRulesOff(
          ["secrets", "evaluateIsolation"],
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
