/**
 * The commands that act on the page: `click`, `fill`, `type`, `press`,
 * `select`, on the website's widgets; the page echoes what it receives.
 *
 * @module
 */
import { type Check, expect, expectRefusal, show } from "../_check.ts";
import type { Kit } from "../_kit.ts";

/** A fresh `/widgets`. */
async function widgets({ browser, site }: Kit): Promise<void> {
  await browser.navigate({ url: `${site.url}/widgets` });
}

export const inputChecks: Check[] = [
  {
    name: "click: clicks the element",
    async run(kit) {
      await widgets(kit);
      await kit.browser.click({ selector: "#button" });
      const output = await kit.browser.textContent({ selector: "#output" });
      expect(output === "clicked 1", `after one click the page shows ${show(output)}`);
    },
  },
  {
    name: "click: a missing element answers selector_not_found",
    async run(kit) {
      await expectRefusal(
        "click on #missing",
        ["selector_not_found"],
        () => kit.browser.click({ selector: "#missing" }, { timeout: 10_000 }),
      );
    },
  },
  {
    name: "fill: replaces a field's value",
    async run(kit) {
      await widgets(kit);
      await kit.browser.fill({ selector: "#text", value: "filled value" });
      const echo = await kit.browser.textContent({ selector: "#echo" });
      expect(echo === "text=filled value", `the page saw ${show(echo)}`);
    },
  },
  {
    name: "type: types key by key",
    async run(kit) {
      await widgets(kit);
      await kit.browser.type({ selector: "#email", text: "ada@example.com" });
      const echo = await kit.browser.textContent({ selector: "#echo" });
      expect(echo === "email=ada@example.com", `the page saw ${show(echo)}`);
    },
  },
  {
    name: "press: presses a key in a field",
    async run(kit) {
      await widgets(kit);
      await kit.browser.press({ key: "Enter", selector: "#text" });
      await kit.browser.press({ key: "Tab" });
      const keys = await kit.browser.textContent({ selector: "#keys" });
      expect(keys.trim() === "Enter Tab", `the page saw the keys ${show(keys)}`);
    },
  },
  {
    name: "select: chooses options of a <select>",
    async run(kit) {
      await widgets(kit);
      const one = await kit.browser.select({ selector: "#color", values: ["blue"] });
      expect(show(one) === show(["blue"]), `select answered ${show(one)}`);
      const many = await kit.browser.select({ selector: "#fruits", values: ["apple", "plum"] });
      expect(
        show([...many].sort()) === show(["apple", "plum"]),
        `a multiple select answered ${show(many)}`,
      );
    },
  },
];
