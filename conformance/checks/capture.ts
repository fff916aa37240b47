/**
 * `screenshot` in both formats, and `captureResponses` with
 * `readCapturedResponses`.
 *
 * @module
 */
import { type Check, expect, show } from "../_check.ts";
import type { Kit } from "../_kit.ts";

/** The first bytes of base64 `data`, or null when it is not base64. */
function header(data: string, n: number): number[] | null {
  try {
    return [...atob(data.slice(0, 64))].slice(0, n).map((c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

async function screenshotCheck(kit: Kit, format: "jpeg" | "png", magic: number[]) {
  await kit.browser.navigate({ url: `${kit.site.url}/widgets` });
  const shot = await kit.browser.screenshot({ format });
  expect(shot.format === format, `format ${show(shot.format)}`);
  expect(/^[A-Za-z0-9+/]+={0,2}$/.test(shot.data), "the data is not base64");
  const head = header(shot.data, magic.length);
  expect(show(head) === show(magic), `the image starts with ${show(head)}, not ${show(magic)}`);
  expect(shot.data.length > 200, `a ${shot.data.length}-character image`);
}

export const captureChecks: Check[] = [
  {
    name: "screenshot: jpeg, as base64",
    run: (kit) => screenshotCheck(kit, "jpeg", [0xff, 0xd8, 0xff]),
  },
  {
    name: "screenshot: png, as base64",
    run: (kit) => screenshotCheck(kit, "png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  },
  {
    name: "captureResponses: the bodies of matching responses are read back",
    async run({ browser, site }) {
      await browser.captureResponses({ urlContains: "/api/ping" });
      await browser.navigate({ url: `${site.url}/widgets?ping=1` });
      await browser.waitForSelector({ selector: "#ping[data-done]", state: "attached" });
      const responses = await browser.readCapturedResponses({ urlContains: "/api/ping" });
      const ping = responses.find((r) => r.url === `${site.url}/api/ping`);
      expect(ping, `no /api/ping among ${show(responses.map((r) => r.url))}`);
      expect(ping.method === "GET" && ping.status === 200, `captured ${show(ping)}`);
      expect(
        JSON.parse(ping.responseBody ?? "{}").pong === true,
        `body ${show(ping.responseBody)}`,
      );
      const none = await browser.readCapturedResponses({ urlContains: "/nothing-like-this" });
      expect(none.length === 0, `a filter that matches nothing read ${none.length}`);
    },
  },
];
