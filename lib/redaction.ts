/**
 * The server's redaction rules: the same rules the device applies before
 * anything leaves it (`@passage/connect/redact`), applied again on receipt, so
 * a device that forgets one (an old app version, a bug, a hostile client)
 * still cannot make Passage store or relay a credential.
 *
 * - `urls`: credential-looking query and fragment parameters in every URL of
 *   telemetry, command results and error messages are masked (`redactUrl`).
 * - `text`: free text (console lines, error messages, HTML, text, captured and
 *   fetched bodies, every string of an `evaluate` value) has its credentials
 *   masked (`redactText`: JWTs, `Bearer …`, `Basic …`, `token=…`,
 *   `"password": "…"`); in JSON values and JSON bodies, the values of
 *   credential-named fields are found (`credentialValuesIn`) and scrubbed
 *   wherever they appear, and those fields blanked (`redactCredentialFields`).
 * - `telemetryFields`: telemetry keeps only the fields the protocol defines;
 *   headers, cookies and request bodies are dropped.
 *
 * Every command has its own sanitiser in {@link RESULT_SANITIZERS}, a table
 * typed over every command name: a new command without one does not compile.
 *
 * A rule can be switched off only by a test (`disableServerRuleForTests`),
 * which throws unless the main module is a test file: no setting, route or
 * environment variable of a running server can turn a rule off.
 */
import type {
  CommandName,
  Commands,
  NetworkCapture,
  TelemetryEvent,
} from "@passage/connect/protocol";
import {
  credentialValuesIn,
  redactCredentialFields,
  redactSecrets,
  redactText,
  redactUrl,
  redactUrlsInText,
} from "@passage/connect/redact";

/** A server-side redaction rule. */
export type ServerRule = "urls" | "text" | "telemetryFields";

const off = new Set<ServerRule>();

/** Whether a rule is in force (always, outside tests). */
export function isServerRuleOn(rule: ServerRule): boolean {
  return !off.has(rule);
}

function assertTest(): void {
  if (!/_test\.[cm]?[jt]sx?$/.test(Deno.mainModule)) {
    throw new Error("Redaction rules can only be switched off inside a test");
  }
}

/** Switches a rule off, for a test that proves the rule matters. Throws outside tests. */
export function disableServerRuleForTests(rule: ServerRule): void {
  assertTest();
  off.add(rule);
}

/** Switches every rule back on. */
export function restoreServerRulesForTests(): void {
  assertTest();
  off.clear();
}

// ------------------------------------------------------------ the rules, as functions

/** The URL pattern of `redactUrlsInText`, to keep URLs apart when only the `urls` rule is off. */
const URL_IN_TEXT = /\b(?:https?|wss?):\/\/[^\s"'<>`()]+/gi;

/** A URL, masked under the `urls` rule. */
export function maskUrl(url: string): string {
  return isServerRuleOn("urls") ? redactUrl(url) : url;
}

/** Free text, masked under the `urls` rule (its URLs) and the `text` rule (the rest). */
export function maskText(text: string): string {
  const urls = isServerRuleOn("urls");
  if (!isServerRuleOn("text")) return urls ? redactUrlsInText(text) : text;
  if (urls) return redactText(text);
  // only `urls` is off: mask the text between URLs, leave the URLs as they came
  let out = "";
  let last = 0;
  for (const m of text.matchAll(URL_IN_TEXT)) {
    out += redactText(text.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + redactText(text.slice(last));
}

/** Applies `f` to every string of a JSON value, keys included. */
function mapStrings(value: unknown, f: (s: string) => string, depth = 0): unknown {
  if (typeof value === "string") return f(value);
  if (value === null || typeof value !== "object" || depth > 200) return value;
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[f(k)] = mapStrings(v, f, depth + 1);
  return out;
}

/**
 * A JSON value (an `evaluate` result): under the `text` rule, the values of
 * its credential fields (and JWT/bearer strings) are scrubbed wherever they
 * appear and its credential fields blanked; then every string, keys included,
 * is masked as free text.
 */
export function maskJson(value: unknown): unknown {
  let v = value;
  if (isServerRuleOn("text")) {
    v = redactCredentialFields(redactSecrets(v, credentialValuesIn(v)));
  }
  return mapStrings(v, maskText);
}

/**
 * A response body held as text (HTML, JSON, anything): when it is JSON, the
 * values of its credential fields are scrubbed from the whole body first;
 * then it is masked as free text.
 */
export function maskBody(body: string): string {
  let out = body;
  if (isServerRuleOn("text")) {
    const t = body.trim();
    if (t.startsWith("{") || t.startsWith("[")) {
      try {
        out = redactSecrets(out, credentialValuesIn(JSON.parse(t))) as string;
      } catch {
        // not JSON: free text only
      }
    }
  }
  return maskText(out);
}

function maskCapture(capture: NetworkCapture): NetworkCapture {
  const out = { ...capture, url: maskUrl(capture.url) };
  if (typeof capture.responseBody === "string") out.responseBody = maskBody(capture.responseBody);
  return out;
}

// ------------------------------------------------------------ one sanitiser per command

/** One sanitiser per command, from its result to its masked result. */
export type ResultSanitizers = {
  [K in CommandName]: (value: Commands[K]["result"]) => Commands[K]["result"];
};

const unchanged = <T>(value: T): T => value;

/**
 * How each command's result is sanitised on receipt. Typed over every command
 * name, so a command added to the protocol without a sanitiser is a type
 * error here, never a result that passes through unmasked.
 */
export const RESULT_SANITIZERS: Readonly<ResultSanitizers> = {
  navigate: (v) => ({ ...v, url: maskUrl(v.url) }),
  click: unchanged,
  fill: unchanged,
  type: unchanged,
  press: unchanged,
  select: (v) => ({ ...v, values: v.values.map(maskText) }),
  waitForSelector: unchanged,
  waitForNavigation: (v) => ({ ...v, url: maskUrl(v.url) }),
  innerHTML: (v) => ({ ...v, html: maskText(v.html) }),
  textContent: (v) => ({ ...v, text: maskText(v.text) }),
  getAttribute: (v) => ({ ...v, value: v.value === null ? null : maskText(v.value) }),
  evaluate: (v) => ({ ...v, value: maskJson(v.value) }),
  fetch: (v) => ({ ...v, url: maskUrl(v.url), body: maskBody(v.body) }),
  // pixels: the device masks inputs while the human has control
  screenshot: unchanged,
  url: (v) => ({ ...v, url: maskUrl(v.url) }),
  yieldToUser: (v) => {
    const out = { ...v, url: maskUrl(v.url) };
    if (v.networkCapture) out.networkCapture = maskCapture(v.networkCapture);
    return out;
  },
  captureResponses: unchanged,
  readCapturedResponses: (v) => ({ ...v, responses: v.responses.map(maskCapture) }),
};

/**
 * A command's result value (already checked against its command's result
 * schema) with the credentials in it masked by that command's sanitiser.
 */
export function sanitizeResult(name: CommandName, value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const sanitize = RESULT_SANITIZERS[name] as ((v: unknown) => unknown) | undefined;
  // an unknown name cannot pass the result schema; refuse to pass it on unmasked
  if (!sanitize) return {};
  return sanitize(value);
}

/**
 * A telemetry event as it may be stored: `parsed` is what the protocol schema
 * kept (undefined fields dropped); `raw` is what the device sent.
 */
export function sanitizeTelemetry(parsed: TelemetryEvent, raw: unknown): TelemetryEvent {
  const event = isServerRuleOn("telemetryFields")
    ? { ...parsed }
    : { ...(raw as TelemetryEvent), ...parsed };
  if ("url" in event) event.url = maskUrl(event.url);
  if (event.kind === "console") event.text = maskText(event.text);
  if (event.kind === "requestFailed") event.errorText = maskText(event.errorText);
  return event;
}

/** A command's error message with any URL and credential in it masked. */
export function sanitizeErrorMessage(message: string): string {
  return maskText(message);
}
