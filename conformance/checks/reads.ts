/**
 * The reads: `innerHTML`, `textContent`, `getAttribute`, on a copy of the
 * element (no scripts).
 *
 * @module
 */
import { type Check, expect, show } from "../_check.ts";

export const readChecks: Check[] = [
  {
    name: "innerHTML: reads an element's HTML, without its scripts",
    async run({ browser, site }) {
      await browser.navigate({ url: `${site.url}/widgets` });
      const html = await browser.innerHTML({ selector: "#box" });
      expect(html.includes("<b>bold</b>"), `innerHTML ${show(html)}`);
      expect(html.includes("<i>italic</i>"), `innerHTML ${show(html)}`);
      expect(!/<script/i.test(html), `innerHTML carries a script: ${show(html)}`);
    },
  },
  {
    name: "textContent: reads an element's text, without its scripts",
    async run({ browser, site }) {
      await browser.navigate({ url: `${site.url}/widgets` });
      const text = await browser.textContent({ selector: "#box" });
      expect(/bold\s+and\s+italic/.test(text), `textContent ${show(text)}`);
      expect(!text.includes("inline script"), `textContent carries a script: ${show(text)}`);
    },
  },
  {
    name: "getAttribute: reads an attribute, null when it is absent",
    async run({ browser, site }) {
      await browser.navigate({ url: `${site.url}/widgets` });
      const clicks = await browser.getAttribute({ selector: "#button", name: "data-clicks" });
      expect(clicks === "0", `data-clicks ${show(clicks)}`);
      const type = await browser.getAttribute({ selector: "#button", name: "type" });
      expect(type === "button", `type ${show(type)}`);
      const none = await browser.getAttribute({ selector: "#button", name: "data-nothing" });
      expect(none === null, `an absent attribute reads ${show(none)}`);
    },
  },
];
