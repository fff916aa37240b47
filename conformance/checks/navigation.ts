/**
 * `navigate`, `url` and `waitForNavigation`.
 *
 * @module
 */
import { type Check, expect, show } from "../_check.ts";

export const navigationChecks: Check[] = [
  {
    name: "navigate: answers the final URL and the HTTP status",
    async run({ browser, site }) {
      const ok = await browser.navigate({ url: `${site.url}/widgets` });
      expect(ok.status === 200, `status ${ok.status} for /widgets, expected 200`);
      expect(ok.url === `${site.url}/widgets`, `url ${show(ok.url)}, expected /widgets`);
      const missing = await browser.navigate({ url: `${site.url}/missing` });
      expect(missing.status === 404, `status ${missing.status} for /missing, expected 404`);
      const redirected = await browser.navigate({ url: `${site.url}/` });
      expect(
        redirected.url === `${site.url}/login`,
        `url ${show(redirected.url)} after a redirect, expected /login`,
      );
    },
  },
  {
    name: "navigate: masks a ?token= in the URLs it reports",
    async run(kit) {
      const { browser, site } = kit;
      const secret = `tok${crypto.randomUUID().replaceAll("-", "")}`;
      const from = kit.telemetry.length;
      const result = await browser.navigate({ url: `${site.url}/widgets?token=${secret}&n=1` });
      expect(!result.url.includes(secret), `navigate answered the token: ${show(result.url)}`);
      expect(result.url.includes("/widgets?token="), `unexpected url ${show(result.url)}`);
      const now = await browser.url();
      expect(!now.includes(secret), `url answered the token: ${show(now)}`);
      const event = await kit.nextTelemetry(
        (e) => e.kind === "navigation" && e.url.includes("/widgets?token="),
        { from, what: "navigation" },
      );
      expect(!JSON.stringify(event).includes(secret), `telemetry has the token: ${show(event)}`);
    },
  },
  {
    name: "url: answers the page's URL",
    async run({ browser, site }) {
      await browser.navigate({ url: `${site.url}/widgets?page=2` });
      const url = await browser.url();
      expect(url === `${site.url}/widgets?page=2`, `url ${show(url)}, expected /widgets?page=2`);
    },
  },
  {
    name: "waitForNavigation: resolves on the next navigation, or on a URL",
    async run({ browser, site }) {
      // the page goes on by itself after 2 s: the command is there well before
      await browser.navigate({ url: `${site.url}/later?ms=2000` });
      const next = await browser.waitForNavigation({}, { timeout: 15_000 });
      expect(next.includes("/widgets?page=2"), `next navigation ${show(next)}`);
      await browser.navigate({ url: `${site.url}/later?ms=300` });
      const matched = await browser.waitForNavigation(
        { urlContains: "page=2" },
        { timeout: 15_000 },
      );
      expect(matched.includes("/widgets?page=2"), `urlContains navigation ${show(matched)}`);
    },
  },
];
