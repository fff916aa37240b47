/**
 * The automation may not write to or read a password field, nor a field the
 * human typed into during a yield, afterwards.
 *
 * @module
 */
import { type Check, expect, expectRefusal, skip } from "../_check.ts";
import type { Kit } from "../_kit.ts";

async function refuseAll(kit: Kit, selector: string, what: string): Promise<void> {
  const { browser } = kit;
  await expectRefusal(`fill on ${what}`, ["refused"], () => browser.fill({ selector, value: "x" }));
  await expectRefusal(`type on ${what}`, ["refused"], () => browser.type({ selector, text: "x" }));
  await expectRefusal(
    `getAttribute value of ${what}`,
    ["refused"],
    () => browser.getAttribute({ selector, name: "value" }),
  );
}

export const refusalChecks: Check[] = [
  {
    name: "refusal: fill, type and getAttribute value on a field the human typed in",
    async run(kit) {
      // the page the selector yield left, with what the human typed
      if (!kit.state.typedNickname) skip("the human did not type (the selector yield did not run)");
      await refuseAll(kit, "#nickname", "the field the human typed in");
      const value = await kit.browser.evaluate({
        expression: "document.querySelector('#nickname').value",
      });
      expect(value !== kit.canaries.typed, "evaluate read what the human typed");
    },
  },
  {
    name: "refusal: fill, type and getAttribute value on a password field",
    async run(kit) {
      await kit.browser.navigate({ url: `${kit.site.url}/login` });
      await refuseAll(kit, "#password", "a password field");
    },
  },
];
