/**
 * The canary attacks of the privacy rules (`docs/SECURITY.md`): the login's
 * token stays out of captured bodies, the device goes only where the session
 * allows and never into its own network, and nothing the controller side
 * received holds the password, what the human typed, a cookie or a session
 * token, in any spelling or decoded from base64.
 *
 * @module
 */
import { type Check, expect, expectRefusal, show, skip } from "../_check.ts";
import type { Kit } from "../_kit.ts";

/** How a secret can be written: as is, percent-, form-, JSON- and HTML-escaped. */
function spellings(value: string): string[] {
  return [
    ...new Set([
      value,
      encodeURIComponent(value),
      new URLSearchParams({ v: value }).toString().slice(2),
      JSON.stringify(value).slice(1, -1),
      value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;"),
    ]),
  ];
}

/** A text and what a script could decode from it: base64 chunks, char-code lists. */
function decodings(text: string): string[] {
  const out = [text];
  for (const chunk of text.match(/[A-Za-z0-9+/]{4,}={0,2}/g) ?? []) {
    try {
      out.push(
        atob(chunk.length % 4 === 0 ? chunk : chunk.slice(0, chunk.length - chunk.length % 4)),
      );
    } catch {
      // not base64
    }
  }
  for (const list of text.match(/\[\s*\d+(?:\s*,\s*\d+)*\s*\]/g) ?? []) {
    const codes = JSON.parse(list) as number[];
    if (codes.every((c) => c < 0x110000)) out.push(String.fromCodePoint(...codes));
  }
  return out;
}

/** Where each canary appears in what the controller side received. */
export function findCanaries(
  texts: readonly string[],
  canaries: ReadonlyArray<{ name: string; value: string }>,
): string[] {
  const found: string[] = [];
  const decoded = texts.flatMap(decodings);
  for (const { name, value } of canaries) {
    for (const spelling of spellings(value)) {
      for (const text of decoded) {
        const at = text.indexOf(spelling);
        if (at >= 0) {
          found.push(
            `the ${name} in …${text.slice(Math.max(0, at - 40), at + spelling.length + 40)}…`,
          );
          break;
        }
      }
    }
  }
  return found;
}

/** The login's JSON answer, parsed, with its token checked against the site's. */
function assertScrubbed(kit: Kit, body: string | undefined, where: string): void {
  expect(body !== undefined, `no body in ${where}`);
  let answer: { ok?: unknown; token?: unknown };
  try {
    answer = JSON.parse(body);
  } catch {
    return expect(false, `${where} is not JSON: ${show(body)}`);
  }
  expect(answer.ok === true, `${where}: the data itself is lost: ${show(body)}`);
  const tokens = kit.site.issuedTokens();
  expect(
    !tokens.some((t) => body.includes(t)),
    `${where} holds the session token: ${show(body)}`,
  );
}

export const privacyChecks: Check[] = [
  {
    name: "privacy: a JSON login answer's token is scrubbed from captured bodies",
    // the login ran in the networkRequest yield, with /api/login captured
    async run(kit) {
      const login = kit.state.login;
      if (!login) skip("the human did not log in (the networkRequest yield did not run)");
      const captured = await kit.browser.readCapturedResponses({ urlContains: "/api/login" });
      expect(captured.length > 0, "captureResponses kept no /api/login answer");
      for (const response of captured) {
        assertScrubbed(kit, response.responseBody, "readCapturedResponses");
      }
      // signed in: the same-origin fetch goes with the cookies the login set
      await kit.browser.navigate({ url: `${kit.site.url}/widgets` });
      const account = await kit.browser.fetch({ url: "/api/account" });
      expect(account.status === 200, `signed-in /api/account answered ${account.status}`);
    },
  },
  {
    name: "origins: navigating to an origin the session does not allow is refused",
    async run({ browser, site, target }) {
      await browser.navigate({ url: `${site.url}/widgets` });
      await expectRefusal(
        "navigate to another origin",
        ["refused"],
        () => browser.navigate({ url: `${target.url}/navigate` }),
      );
      expect(target.hits("/navigate") === 0, "the refused navigation reached the other origin");
      const url = await browser.url();
      expect(url === `${site.url}/widgets`, `the page moved to ${show(url)}`);
    },
  },
  {
    name: "origins: the page cannot reach a loopback or private address it was not allowed",
    async run({ browser, site, target }) {
      await browser.navigate({
        url: `${site.url}/probe?target=${encodeURIComponent(target.url)}`,
      });
      // the page marks the probe done once its requests have settled
      await browser.waitForSelector(
        { selector: "#probe[data-done]", state: "attached" },
        { timeout: 20_000 },
      );
      const outcome = await browser.textContent({ selector: "#probe" });
      const hits = target.hits("/fetch") + target.hits("/image");
      expect(hits === 0, `the page reached ${target.url} ${hits} time(s) (${outcome})`);
    },
  },
  {
    name: "privacy: no password, typed value, cookie or session token reaches the controller",
    async run(kit) {
      const { canaries, site } = kit;
      // everything in: the recorder's socket replays the session from its first event
      await kit.browser.url();
      const canaryList = [
        { name: "password", value: canaries.password },
        { name: "typed value", value: canaries.typed },
        { name: "page's cookie", value: canaries.cookie },
        ...site.issuedTokens().map((value) => ({ name: "session token (cookie)", value })),
      ];
      const found = findCanaries([...kit.recorder.frames, ...kit.received], canaryList);
      expect(found.length === 0, found.slice(0, 3).join("; "));
    },
  },
];
