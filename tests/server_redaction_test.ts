// deno-lint-ignore-file no-explicit-any
/**
 * The server's own redaction (`lib/redaction.ts`): one sanitiser per command,
 * the shared rules of `@passage/connect/redact` applied to every URL, text,
 * body and `evaluate` value a device sends, to error messages and to console
 * telemetry; and the same over a real relay, with the test playing a hostile
 * device on a raw socket.
 */
import assert from "node:assert/strict";
import { COMMAND_NAMES, type TelemetryEvent } from "@passage/connect/protocol";
import { REDACTED_SECRET as R } from "@passage/connect/redact";
import {
  disableServerRuleForTests,
  restoreServerRulesForTests,
  RESULT_SANITIZERS,
  type ResultSanitizers,
  sanitizeErrorMessage,
  sanitizeResult,
  sanitizeTelemetry,
} from "../lib/redaction.ts";
import { startServer, type TestServer } from "./_harness.ts";
import { openSocket } from "./_socket.ts";

const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXg";

Deno.test("every command has a result sanitiser, and one left out does not compile", () => {
  for (const name of COMMAND_NAMES) {
    assert.equal(typeof RESULT_SANITIZERS[name], "function", name);
  }
  const { fetch: _fetch, ...withoutFetch } = RESULT_SANITIZERS;
  // @ts-expect-error a table without `fetch` is not a ResultSanitizers
  const incomplete: ResultSanitizers = withoutFetch;
  assert.equal("fetch" in incomplete, false);
});

Deno.test("sanitizeResult() masks fetched bodies, HTML, text and URLs", () => {
  const fetched = sanitizeResult("fetch", {
    url: "https://x.test/api/me?session=s1&page=2",
    status: 200,
    contentType: "application/json",
    body: JSON.stringify({
      user: "ada",
      accessToken: "at-77777777",
      note: "your token is at-77777777",
      postalCode: "94107",
    }),
  }) as any;
  assert.equal(fetched.url, "https://x.test/api/me?session=REDACTED&page=2");
  assert.deepEqual(JSON.parse(fetched.body), {
    user: "ada",
    accessToken: R,
    note: `your token is ${R}`,
    postalCode: "94107",
  });
  assert.equal(fetched.status, 200);

  const html = sanitizeResult("innerHTML", {
    html: `<meta name="csrf-token" content="c5rf"><a href="/x?token=t1">Bearer ${JWT}</a>`,
  }) as any;
  assert.equal(
    html.html,
    `<meta name="csrf-token" content="${R}"><a href="/x?token=${R}">Bearer ${R}</a>`,
  );
  assert.deepEqual(sanitizeResult("textContent", { text: "otp: 918273 Error code: 404" }), {
    text: `otp: ${R} Error code: 404`,
  });
  assert.deepEqual(sanitizeResult("getAttribute", { value: `Bearer abc-123456` }), {
    value: `Bearer ${R}`,
  });
  assert.deepEqual(sanitizeResult("getAttribute", { value: null }), { value: null });
  assert.deepEqual(sanitizeResult("navigate", { url: "https://x.test/cb?code=c", status: 200 }), {
    url: "https://x.test/cb?code=REDACTED",
    status: 200,
  });
  assert.deepEqual(sanitizeResult("click", {}), {});
});

Deno.test("sanitizeResult() masks evaluate values: credential fields, their echoes, URLs, JWTs", () => {
  const value = sanitizeResult("evaluate", {
    value: {
      profile: { name: "Ada", countryCode: "US" },
      auth: { refresh_token: "rt-12345678", expires_in: 60 },
      echoes: ["rt-12345678 again", `jwt ${JWT}`, "https://x.test/?sid=s9", "password=pw1234"],
      ["https://x.test/?token=k"]: 1,
    },
  }) as any;
  assert.deepEqual(value, {
    value: {
      profile: { name: "Ada", countryCode: "US" },
      auth: { refresh_token: R, expires_in: 60 },
      echoes: [`${R} again`, `jwt ${R}`, "https://x.test/?sid=REDACTED", `password=${R}`],
      ["https://x.test/?token=REDACTED"]: 1,
    },
  });
});

Deno.test("sanitizeResult() masks captured response bodies and their URLs", () => {
  const capture = {
    url: "https://x.test/api/login?ticket=ST-1",
    method: "POST",
    status: 200,
    responseBody: '{"session":"s3ss10n-abc","greeting":"hi"}',
  };
  const masked = {
    url: "https://x.test/api/login?ticket=REDACTED",
    method: "POST",
    status: 200,
    responseBody: `{"session":"${R}","greeting":"hi"}`,
  };
  assert.deepEqual(sanitizeResult("readCapturedResponses", { responses: [capture] }), {
    responses: [masked],
  });
  assert.deepEqual(
    sanitizeResult("yieldToUser", {
      condition: { index: 0, type: "networkRequest" },
      url: "https://x.test/home#access_token=t",
      networkCapture: capture,
    }),
    {
      condition: { index: 0, type: "networkRequest" },
      url: "https://x.test/home#access_token=REDACTED",
      networkCapture: masked,
    },
  );
});

Deno.test("sanitizeErrorMessage() and sanitizeTelemetry() mask credentials in text", () => {
  assert.equal(
    sanitizeErrorMessage(`fetch https://x.test/?sid=1 failed: Authorization: Bearer ${JWT}`),
    `fetch https://x.test/?sid=REDACTED failed: Authorization: Bearer ${R}`,
  );
  const at = new Date().toISOString();
  const console_: TelemetryEvent = { kind: "console", at, level: "log", text: "token=abc123 ok" };
  assert.deepEqual(sanitizeTelemetry(console_, console_), { ...console_, text: `token=${R} ok` });
  const failed: TelemetryEvent = {
    kind: "requestFailed",
    at,
    requestId: "1",
    url: "https://x.test/?code=c",
    errorText: `net::ERR ${JWT}`,
  };
  assert.deepEqual(sanitizeTelemetry(failed, failed), {
    ...failed,
    url: "https://x.test/?code=REDACTED",
    errorText: `net::ERR ${R}`,
  });
});

Deno.test("with the text rule off, only URLs are masked; with urls off too, nothing is", () => {
  const body = JSON.stringify({ token: "tok-123456", next: "https://x.test/?sid=s1" });
  try {
    disableServerRuleForTests("text");
    const textOff = sanitizeResult("fetch", {
      url: "https://x.test/?sid=s1",
      status: 200,
      contentType: "application/json",
      body,
    }) as any;
    assert.equal(textOff.body, body.replace("sid=s1", "sid=REDACTED"));
    assert.equal(sanitizeErrorMessage("token=tok-123456"), "token=tok-123456");
    disableServerRuleForTests("urls");
    assert.equal(sanitizeErrorMessage("https://x.test/?sid=s1"), "https://x.test/?sid=s1");
    restoreServerRulesForTests();
    disableServerRuleForTests("urls");
    // text on, urls off: the URL is left as it came, the rest is masked
    assert.equal(
      sanitizeErrorMessage("token=tok-123456 at https://x.test/?sid=s1"),
      `token=${R} at https://x.test/?sid=s1`,
    );
  } finally {
    restoreServerRulesForTests();
  }
});

// ------------------------------------------------------------ over a real relay

async function hostileDevice(server: TestServer) {
  const created = await server.api("/v1/sessions", { method: "POST", json: {} });
  assert.equal(created.status, 201, created.text);
  const claim = await server.api("/v1/device/claim", {
    method: "POST",
    apiKey: null,
    json: { claimCode: created.body.claimCode },
  });
  assert.equal(claim.status, 200, claim.text);
  const ws = server.url.replace(/^http/, "ws");
  const device = await openSocket(`${ws}/v1/device/socket`);
  device.send({ type: "hello", v: 1, token: claim.body.deviceToken, lastCommandSeq: 0 });
  await device.next((m) => m.type === "welcome");
  const controller = await openSocket(`${ws}/v1/sessions/${created.body.id}/socket`);
  controller.send({ type: "hello", v: 1, apiKey: server.apiKey });
  await controller.next((m) => m.type === "welcome");
  return { device, controller };
}

Deno.test("a device that sends a fetch body, an error and console text with tokens has them masked by the server", async () => {
  await using server = await startServer();
  const { device, controller } = await hostileDevice(server);
  try {
    controller.send({
      type: "command",
      id: "f-1",
      name: "fetch",
      params: { url: "https://x.test/api/me" },
      timeoutMs: 10_000,
    });
    const cmd = await device.next((m) => m.type === "command");
    device.send({
      type: "result",
      seq: 1,
      id: cmd.id,
      ok: true,
      value: {
        url: "https://x.test/api/me?sid=s1",
        status: 200,
        contentType: "application/json",
        body: JSON.stringify({ id_token: JWT, name: "Ada", sessionId: "sess-canary-42" }),
      },
    });
    device.send({
      type: "telemetry",
      seq: 2,
      event: {
        kind: "console",
        at: new Date().toISOString(),
        level: "log",
        text: "login sessionId=sess-canary-42",
      },
    });
    controller.send({
      type: "command",
      id: "t-1",
      name: "textContent",
      params: { selector: "body" },
      timeoutMs: 10_000,
    });
    const cmd2 = await device.next((m) => m.type === "command" && m.id !== cmd.id);
    device.send({
      type: "result",
      seq: 3,
      id: cmd2.id,
      ok: false,
      error: { code: "device_error", message: "failed: password=hunter22" },
    });
    const result = await controller.next((m) => m.type === "result" && m.id === "f-1");
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.value.url, "https://x.test/api/me?sid=REDACTED");
    assert.deepEqual(JSON.parse(result.value.body), { id_token: R, name: "Ada", sessionId: R });
    const telemetry = await controller.next((m) => m.type === "telemetry");
    assert.equal(telemetry.event.text, `login sessionId=${R}`);
    const failed = await controller.next((m) => m.type === "result" && m.id === "t-1");
    assert.equal(failed.error.message, `failed: password=${R}`);
    // nothing the server stored holds them either
    for await (const entry of server.kv.list({ prefix: [] })) {
      const text = JSON.stringify(entry.value) ?? "";
      assert.ok(!text.includes("sess-canary-42"), `stored at ${JSON.stringify(entry.key)}`);
      assert.ok(!text.includes("hunter22"), `stored at ${JSON.stringify(entry.key)}`);
    }
  } finally {
    await device.close();
    await controller.close();
  }
});
