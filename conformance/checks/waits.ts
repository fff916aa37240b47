/**
 * `waitForSelector` in each state, for an element that comes later, and
 * its `found: false` when the time runs out. The answers are read raw (the
 * SDK does not hand back `found`).
 *
 * @module
 */
import { type Check, expect, fail, show } from "../_check.ts";
import type { Kit } from "../_kit.ts";

/** `waitForSelector`'s raw `found`. */
async function found(
  kit: Kit,
  selector: string,
  state: "attached" | "visible" | "hidden" | undefined,
  timeoutMs: number,
): Promise<boolean> {
  const answer = await kit.recorder.run("waitForSelector", { selector, state }, timeoutMs);
  if (!answer.ok) fail(`waitForSelector ${selector} ${state ?? ""} failed: ${show(answer.error)}`);
  if (typeof answer.value?.found !== "boolean") fail(`no found in ${show(answer.value)}`);
  return answer.value.found;
}

export const waitChecks: Check[] = [
  {
    name: "waitForSelector: attached, visible and hidden",
    async run(kit) {
      await kit.browser.navigate({ url: `${kit.site.url}/widgets` });
      const cases = [
        { selector: "#hidden", state: "attached" },
        { selector: "#button", state: "visible" },
        { selector: "#button", state: undefined },
        { selector: "#hidden", state: "hidden" },
        { selector: "#never-there", state: "hidden" },
      ] as const;
      for (const { selector, state } of cases) {
        const yes = await found(kit, selector, state, 10_000);
        expect(yes, `${selector} ${state ?? "(default: visible)"} answered found: false`);
      }
    },
  },
  {
    name: "waitForSelector: waits for an element that appears later",
    async run(kit) {
      await kit.browser.navigate({
        url: `${kit.site.url}/widgets?appearAfter=700`,
        waitUntil: "domcontentloaded",
      });
      expect(await found(kit, "#late", "visible", 15_000), "#late answered found: false");
      const text = await kit.browser.textContent({ selector: "#late" });
      expect(text === "late", `#late reads ${show(text)}`);
    },
  },
  {
    name: "waitForSelector: answers found false when the time runs out",
    async run(kit) {
      await kit.browser.navigate({ url: `${kit.site.url}/widgets` });
      const missing = await found(kit, "#never-there", "attached", 1500);
      expect(!missing, "an element that is not there answered found: true");
      const shown = await found(kit, "#hidden", "visible", 1500);
      expect(!shown, "a display:none element answered found: true for visible");
    },
  },
];
