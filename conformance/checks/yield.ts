/**
 * `yieldToUser`: the human takes over, the controller is refused meanwhile,
 * and each condition type hands control back. The human logs in here with
 * the kit's canary password and types a canary into an ordinary field.
 *
 * @module
 */
import { type Check, expect, expectRefusal, show } from "../_check.ts";
import { SITE_ACCOUNT, SITE_USER } from "../fixtures/site.ts";
import { humanTurn } from "./_turn.ts";

export const yieldChecks: Check[] = [
  {
    name: "yieldToUser: other commands are refused with user_has_control",
    async run(kit) {
      const { browser, site } = kit;
      await browser.navigate({ url: `${site.url}/widgets` });
      await humanTurn(kit, {
        status: { heading: "Nothing to do", subheading: "The kit takes control back by itself" },
        conditions: [{ type: "selector", selector: "#never-there" }],
        timeout: 4000,
        async during() {
          await expectRefusal("url", ["user_has_control"], () => browser.url());
          await expectRefusal(
            "innerHTML",
            ["user_has_control"],
            () => browser.innerHTML({ selector: "body" }),
          );
          await expectRefusal(
            "click",
            ["user_has_control"],
            () => browser.click({ selector: "#button" }),
          );
          await expectRefusal(
            "screenshot",
            ["user_has_control"],
            () => browser.screenshot({ format: "jpeg" }),
          );
        },
      }).catch((error) => {
        // its yield_timeout is the next check's business
        if (!String(error).includes("yield_timeout")) throw error;
      });
      const clicks = await browser.getAttribute({ selector: "#button", name: "data-clicks" });
      expect(clicks === "0", `the refused click clicked: data-clicks is ${show(clicks)}`);
    },
  },
  {
    name: "yieldToUser: no condition holding answers yield_timeout",
    async run(kit) {
      await kit.browser.navigate({ url: `${kit.site.url}/widgets` });
      await expectRefusal("a yield nobody ends", ["yield_timeout"], () =>
        humanTurn(kit, {
          status: { heading: "Nothing to do" },
          conditions: [{ type: "selector", selector: "#never-there" }],
          timeout: 1500,
        }));
      // control is back
      const url = await kit.browser.url();
      expect(url.endsWith("/widgets"), `url after the yield ${show(url)}`);
    },
  },
  {
    name: "yieldToUser: networkRequest condition with captureBody (the human logs in)",
    human: true,
    async run(kit) {
      const { browser, site, canaries } = kit;
      await browser.navigate({ url: `${site.url}/login` });
      await browser.captureResponses({ urlContains: "/api/login" });
      const result = await humanTurn(kit, {
        status: { heading: "Sign in to the test site" },
        // the account the home page fetches once signed in, as in the README
        conditions: [{
          type: "networkRequest",
          urlContains: "/api/account",
          method: "GET",
          captureBody: true,
        }],
        async act(human) {
          await human.type("#username", SITE_USER, "the Username field");
          await human.type("#password", canaries.password, "the Password field");
          await human.click("#submit", 'the "Sign in" button');
        },
      });
      kit.state.login = result;
      expect(
        result.condition.index === 0 && result.condition.type === "networkRequest",
        `condition ${show(result.condition)}`,
      );
      const capture = result.networkCapture;
      expect(capture, "no networkCapture with captureBody: true");
      expect(capture.url === `${site.url}/api/account`, `captured ${show(capture.url)}`);
      expect(capture.method === "GET" && capture.status === 200, `captured ${show(capture)}`);
      expect(capture.responseBody !== undefined, "no responseBody with captureBody: true");
      expect(
        show(JSON.parse(capture.responseBody)) === show(SITE_ACCOUNT),
        `body ${show(capture.responseBody)}`,
      );
      expect(site.issuedTokens().length > 0, "the site saw no successful login");
    },
  },
  {
    name: "yieldToUser: selector condition (the human types and clicks)",
    human: true,
    async run(kit) {
      const { browser, site, canaries } = kit;
      await browser.navigate({ url: `${site.url}/widgets` });
      const result = await humanTurn(kit, {
        status: { heading: "Type a nickname, then press Click me" },
        conditions: [{ type: "selector", selector: "#button[data-clicks='1']" }],
        async act(human) {
          await human.type("#nickname", canaries.typed, "the Nickname field");
          await human.click("#button", 'the "Click me" button');
        },
      });
      kit.state.typedNickname = true;
      expect(result.condition.type === "selector", `condition ${show(result.condition)}`);
      expect(result.url.endsWith("/widgets"), `url ${show(result.url)}`);
    },
  },
];

export const urlYieldCheck: Check = {
  name: "yieldToUser: url condition (the human follows a link)",
  human: true,
  async run(kit) {
    const { browser, site } = kit;
    await browser.navigate({ url: `${site.url}/widgets` });
    const result = await humanTurn(kit, {
      status: { heading: "Go to page 2" },
      conditions: [
        { type: "selector", selector: "#never-there" },
        { type: "url", urlContains: "page=2" },
      ],
      async act(human) {
        await human.click("#next", 'the "Page 2" link');
      },
    });
    expect(
      result.condition.index === 1 && result.condition.type === "url",
      `condition ${show(result.condition)}`,
    );
    expect(result.url.includes("/widgets?page=2"), `url ${show(result.url)}`);
  },
};
