/**
 * Telemetry: navigation, request, response and console events arrive,
 * yields are announced, and events carry only the fields the protocol
 * defines (never headers, cookies or bodies).
 *
 * @module
 */
import type { TelemetryEvent } from "@passage/connect";
import { type Check, expect, show, skip } from "../_check.ts";

/** The fields each kind may carry (`relay/PROTOCOL.md`, section 5). */
const FIELDS: Record<TelemetryEvent["kind"], readonly string[]> = {
  console: ["level", "text"],
  request: ["requestId", "method", "url", "resourceType"],
  response: ["requestId", "method", "url", "status", "mimeType", "durationMs"],
  requestFailed: ["requestId", "url", "errorText"],
  navigation: ["url"],
  screenshot: ["format", "data", "masked"],
  yield: ["state"],
  notice: ["code", "message"],
};

export const telemetryChecks: Check[] = [
  {
    name: "telemetry: navigation, request, response and console events arrive",
    async run(kit) {
      const marker = `conformance-${crypto.randomUUID().slice(0, 8)}`;
      const from = kit.telemetry.length;
      const url = `${kit.site.url}/widgets?log=${marker}`;
      await kit.browser.navigate({ url });
      const wait = (what: string, match: (e: TelemetryEvent) => boolean) =>
        kit.nextTelemetry(match, { from, what });
      const [navigation, request, response, console] = await Promise.all([
        wait("navigation", (e) => e.kind === "navigation" && e.url === url),
        wait("request", (e) => e.kind === "request" && e.url === url),
        wait("response", (e) => e.kind === "response" && e.url === url),
        wait("console", (e) => e.kind === "console" && e.text.includes(marker)),
      ]);
      expect(navigation.kind === "navigation", "no navigation");
      expect(request.kind === "request" && request.method === "GET", `request ${show(request)}`);
      expect(
        response.kind === "response" && response.status === 200 &&
          response.mimeType.includes("html") && request.kind === "request" &&
          response.requestId === request.requestId,
        `response ${show(response)} for request ${show(request)}`,
      );
      expect(console.kind === "console" && console.level === "log", `console ${show(console)}`);
    },
  },
  {
    name: "telemetry: yields are announced, started and ended",
    async run(kit) {
      const states = () => kit.telemetry.flatMap((e) => e.kind === "yield" ? [e.state] : []);
      if (states().length === 0) skip("no yield ran");
      const count = (state: string) => states().filter((s) => s === state).length;
      // the last yield's "ended" may still be on its way
      await kit.nextTelemetry(() => count("ended") >= count("started"), {
        what: "yield ended",
      }).catch(() => {});
      const yields = states();
      expect(yields.includes("started"), `yield events ${show(yields)}`);
      const unpaired = yields.join(",").replaceAll("started,ended", "").replaceAll(",", "");
      expect(unpaired === "", `yield events unpaired or out of order: ${show(yields)}`);
    },
  },
  {
    name: "telemetry: events carry only the protocol's fields (no headers, cookies or bodies)",
    async run(kit) {
      // a command's answer after everything before it
      await kit.browser.url();
      expect(kit.telemetry.length > 0, "no telemetry at all");
      for (const event of kit.telemetry) {
        const allowed = FIELDS[event.kind];
        expect(allowed, `an unknown kind ${show(event.kind)}`);
        const extra = Object.keys(event).filter((k) =>
          k !== "kind" && k !== "at" && !allowed.includes(k)
        );
        expect(extra.length === 0, `a ${event.kind} event carries ${extra.join(", ")}`);
        expect(
          !Number.isNaN(Date.parse(event.at)),
          `a ${event.kind} event's at is ${show(event.at)}`,
        );
      }
      const raw = kit.recorder.frames.filter((f) => f.includes('"type":"telemetry"'));
      for (const frame of raw) {
        expect(
          !/"(headers|cookies?|postData|requestBody|responseBody|body)"\s*:/i.test(frame),
          `a telemetry frame carries headers, cookies or a body: ${show(frame)}`,
        );
      }
    },
  },
];
