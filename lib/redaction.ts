/**
 * The server's redaction rules: the same rules the device applies before
 * anything leaves it, applied again on receipt, so a device that forgets one
 * (an old app version, a bug, a hostile client) still cannot make Passage store
 * or relay a credential.
 *
 * - `urls`: credential-looking query and fragment parameters in every URL of
 *   telemetry and command results are masked.
 * - `telemetryFields`: telemetry keeps only the fields the protocol defines;
 *   headers, cookies and request bodies are dropped.
 *
 * A rule can be switched off only by a test (`disableServerRuleForTests`),
 * which throws unless the main module is a test file: no setting, route or
 * environment variable of a running server can turn a rule off.
 */
import type { CommandName, TelemetryEvent } from "@passage/connect/protocol";
import { redactUrl, redactUrlsInText } from "@passage/connect/redact";

/** A server-side redaction rule. */
export type ServerRule = "urls" | "telemetryFields";

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

const mask = (url: string) => isServerRuleOn("urls") ? redactUrl(url) : url;

/**
 * A telemetry event as it may be stored: `parsed` is what the protocol schema
 * kept (undefined fields dropped); `raw` is what the device sent.
 */
export function sanitizeTelemetry(parsed: TelemetryEvent, raw: unknown): TelemetryEvent {
  const event = isServerRuleOn("telemetryFields")
    ? { ...parsed }
    : { ...(raw as TelemetryEvent), ...parsed };
  if ("url" in event) event.url = mask(event.url);
  if (event.kind === "console" && isServerRuleOn("urls")) event.text = redactUrlsInText(event.text);
  return event;
}

/** A command's result value with the URLs in it masked. */
export function sanitizeResult(name: CommandName, value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const v = { ...(value as Record<string, unknown>) };
  switch (name) {
    case "navigate":
    case "url":
    case "waitForNavigation":
    case "yieldToUser":
      if (typeof v.url === "string") v.url = mask(v.url);
      if (v.networkCapture && typeof v.networkCapture === "object") {
        const capture = { ...(v.networkCapture as { url: string }) };
        capture.url = mask(capture.url);
        v.networkCapture = capture;
      }
      return v;
    case "readCapturedResponses":
      if (Array.isArray(v.responses)) {
        v.responses = (v.responses as Array<{ url: string }>).map((r) => ({
          ...r,
          url: mask(r.url),
        }));
      }
      return v;
    default:
      return v;
  }
}

/** A command's error message with any URL in it masked. */
export function sanitizeErrorMessage(message: string): string {
  return isServerRuleOn("urls") ? redactUrlsInText(message) : message;
}
