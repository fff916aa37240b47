/**
 * `evaluate` runs over a copy of the document with no network and no page
 * state; the `fetch` command is the one same-origin GET, and only that.
 *
 * @module
 */
import { type Check, codeOf, expect, expectRefusal, show } from "../_check.ts";

export const sandboxChecks: Check[] = [
  {
    name: "evaluate: reads the DOM of a copy of the page",
    async run({ browser, site }) {
      await browser.navigate({ url: `${site.url}/widgets` });
      const count = await browser.evaluate({
        expression: "document.querySelectorAll('#color option').length",
      });
      expect(count === 3, `counted ${show(count)} options, expected 3`);
      const title = await browser.evaluate({ expression: "document.title" });
      expect(typeof title === "string" && title.startsWith("Widgets"), `title ${show(title)}`);
      const rows = await browser.evaluate({
        expression: "[...document.querySelectorAll('#fruits option')].map((o) => o.value)",
      });
      expect(show(rows) === show(["apple", "pear", "plum"]), `values ${show(rows)}`);
    },
  },
  {
    name: "evaluate: writes change only the copy",
    async run({ browser, site }) {
      await browser.navigate({ url: `${site.url}/widgets` });
      await browser.evaluate({
        expression: "document.getElementById('output').textContent = 'written'; 1",
      });
      const live = await browser.textContent({ selector: "#output" });
      expect(live === "", `the live page shows ${show(live)} after evaluate wrote to the copy`);
    },
  },
  {
    name: "evaluate: fetch does not reach the network",
    async run({ browser, site, target }) {
      await browser.navigate({ url: `${site.url}/widgets` });
      const expression = `(async () => {
        const outcomes = [];
        for (const url of [${JSON.stringify(`${site.url}/evaluate-probe`)}, ${
        JSON.stringify(`${target.url}/evaluate-probe`)
      }]) {
          try { await fetch(url); outcomes.push("reached"); } catch { outcomes.push("blocked"); }
        }
        return outcomes;
      })()`;
      let value: unknown = null;
      try {
        value = await browser.evaluate({ expression });
      } catch (error) {
        // a sandbox without fetch at all may throw: that is fine too
        expect(codeOf(error) === "evaluation_failed", `evaluate failed with ${String(error)}`);
      }
      expect(!show(value).includes("reached"), `fetch in evaluate answered ${show(value)}`);
      // the expression awaited its requests: any that went out has arrived
      const hits = site.hits("/evaluate-probe") + target.hits("/evaluate-probe");
      expect(hits === 0, `${hits} request(s) from evaluate reached a server`);
    },
  },
  {
    name: "evaluate: document.cookie is empty",
    async run({ browser, site }) {
      // /widgets sets a cookie the page's own scripts can read
      await browser.navigate({ url: `${site.url}/widgets` });
      const cookie = await browser.evaluate({ expression: "document.cookie" });
      expect(cookie === "", `document.cookie is ${show(cookie)}`);
    },
  },
  {
    name: "fetch: a same-origin GET works",
    async run({ browser, site }) {
      await browser.navigate({ url: `${site.url}/widgets` });
      const answer = await browser.fetch({ url: "/api/ping", accept: "application/json" });
      expect(answer.status === 200, `status ${answer.status}`);
      expect(answer.url === `${site.url}/api/ping`, `url ${show(answer.url)}`);
      expect(answer.contentType.includes("application/json"), `type ${show(answer.contentType)}`);
      expect(JSON.parse(answer.body).pong === true, `body ${show(answer.body)}`);
    },
  },
  {
    name: "fetch: another origin is refused",
    async run({ browser, site, target, server }) {
      await browser.navigate({ url: `${site.url}/widgets` });
      await expectRefusal(
        "fetch of another origin",
        ["refused"],
        () => browser.fetch({ url: `${target.url}/fetch-command` }),
      );
      await expectRefusal(
        "fetch of the Passage server",
        ["refused"],
        () => browser.fetch({ url: `${server.url}/openapi.json` }),
      );
      expect(target.hits("/fetch-command") === 0, "the refused fetch reached the other origin");
    },
  },
];
