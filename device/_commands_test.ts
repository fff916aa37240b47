import assert from "node:assert/strict";
import { ACCOUNT, startTestSite, TEST_PASSWORD, TEST_USER } from "../tests/fixtures/test_site.ts";
import { closeBrowser, launchBrowser } from "./_browser.ts";
import { ResponseCapture } from "./_capture.ts";
import { type CommandContext, createHandlers } from "./_commands.ts";
import { CommandFailure } from "./_errors.ts";
import { HumanInput, typedFieldIds } from "./_human_input.ts";
import { finder, finderEach } from "./_locate.ts";
import { Sandbox } from "./_sandbox.ts";
import { waitForConditions } from "./_yield.ts";

/** A context that gives a command `ms` milliseconds. */
function ctx(ms = 5000): CommandContext & { [Symbol.dispose](): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new CommandFailure("timeout", "late")), ms);
  return {
    signal: controller.signal,
    deadline: performance.now() + ms,
    [Symbol.dispose]: () => clearTimeout(timer),
  };
}

async function fails(promise: Promise<unknown>, code: string): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof CommandFailure, `not a CommandFailure: ${error}`);
    assert.equal(error.code, code, error.message);
    return error.message;
  }
  assert.fail(`expected ${code}`);
}

Deno.test("device commands drive Chromium against the test site", async (t) => {
  await using site = await startTestSite();
  const browser = await launchBrowser({ headless: true });
  const { page, cdp } = browser;
  const capture = new ResponseCapture(page, () => {});
  const human = new HumanInput(page);
  const sandbox = new Sandbox();
  const secretsNow = () => Promise.resolve([] as string[]);
  const deps = { page, cdp, typed: () => typedFieldIds(page), secrets: secretsNow };
  const find = finder(deps);
  const findEach = finderEach(deps);
  const run = createHandlers({
    page,
    cdp,
    capture,
    sandbox,
    noteBody: () => {},
    lastRefusal: () => null,
    refuseTop: () => null,
    secretsNow,
    find,
    yieldToUser: () => Promise.reject(new Error("not under test")),
  });
  try {
    await t.step("navigate answers the status and a redacted URL", async () => {
      using c = ctx();
      const result = await run.navigate({ url: `${site.url}/widgets?token=t0p` }, c);
      assert.deepEqual(result, { url: `${site.url}/widgets?token=REDACTED`, status: 200 });
      assert.deepEqual(await run.url({}, c), { url: `${site.url}/widgets?token=REDACTED` });
      await fails(run.navigate({ url: "http://127.0.0.1:9/" }, c), "navigation_failed");
      await run.navigate({ url: `${site.url}/widgets` }, c);
    });

    await t.step("fill replaces values of every kind of field", async () => {
      using c = ctx();
      const value = (sel: string) =>
        page.$eval(sel, (e) => (e as HTMLInputElement).value ?? e.textContent);
      await run.fill({ selector: "#text", value: "new" }, c);
      assert.equal(await value("#text"), "new");
      await run.fill({ selector: "#text", value: "" }, c);
      assert.equal(await value("#text"), "");
      await run.fill({ selector: "#date", value: "2025-02-01" }, c);
      assert.equal(await value("#date"), "2025-02-01");
      await run.fill({ selector: "#editable", value: "edited" }, c);
      assert.equal(await page.$eval("#editable", (e) => e.textContent), "edited");
      await fails(run.fill({ selector: "#disabled", value: "x" }, c), "device_error");
      await fails(run.fill({ selector: "#button", value: "x" }, c), "device_error");
    });

    await t.step("type, press, click and select act like a user", async () => {
      using c = ctx();
      await run.type({ selector: "#notes", text: "a\nb" }, c);
      assert.equal(await page.$eval("#notes", (e) => (e as HTMLTextAreaElement).value), "a\nb");
      await run.press({ key: "Escape", selector: "#text" }, c);
      assert.match(await page.$eval("#keys", (e) => e.textContent ?? ""), /Escape/);
      await fails(run.press({ key: "NotAKey" }, c), "invalid_command");
      await run.click({ selector: "#button" }, c);
      assert.deepEqual(await run.textContent({ selector: "#output" }, c), { text: "clicked 1" });
      assert.deepEqual(await run.select({ selector: "#fruits", values: ["pear", "plum"] }, c), {
        values: ["pear", "plum"],
      });
      await fails(run.select({ selector: "#text", values: ["x"] }, c), "device_error");
    });

    await t.step("missing and malformed selectors have their own codes", async () => {
      using c = ctx(1000);
      const message = await fails(run.click({ selector: "#nowhere" }, c), "selector_not_found");
      assert.match(message, /#nowhere/);
      await fails(run.click({ selector: "##" }, c), "invalid_command");
      assert.deepEqual(await run.waitForSelector({ selector: "#hidden", state: "hidden" }, c), {
        found: true,
      });
      assert.deepEqual(await run.waitForSelector({ selector: "#hidden" }, c), { found: false });
    });

    await t.step("reads: innerHTML, textContent, getAttribute, evaluate", async () => {
      using c = ctx();
      assert.match((await run.innerHTML({ selector: "#color" }, c)).html, /value="blue"/);
      assert.deepEqual(await run.getAttribute({ selector: "#button", name: "data-clicks" }, c), {
        value: "1",
      });
      assert.deepEqual(await run.getAttribute({ selector: "#button", name: "nope" }, c), {
        value: null,
      });
      assert.deepEqual(await run.evaluate({ expression: "({ n: 1 + 1, s: document.title })" }, c), {
        value: { n: 2, s: "Widgets · Test Site" },
      });
      assert.deepEqual(await run.evaluate({ expression: "undefined" }, c), { value: null });
      await fails(run.evaluate({ expression: "no_such_name" }, c), "evaluation_failed");
      await fails(run.evaluate({ expression: "window" }, c), "evaluation_failed");
    });

    await t.step("screenshot answers base64 JPEG or PNG", async () => {
      using c = ctx();
      const jpeg = await run.screenshot({}, c);
      assert.equal(jpeg.format, "jpeg");
      assert.equal(atob(jpeg.data.slice(0, 4)).charCodeAt(0), 0xff);
      const png = await run.screenshot({ format: "png", fullPage: true }, c);
      assert.equal(atob(png.data.slice(0, 8)).slice(1, 4), "PNG");
    });

    await t.step("fill and type are refused on password fields", async () => {
      using c = ctx();
      await run.navigate({ url: `${site.url}/login` }, c);
      await fails(run.fill({ selector: "#password", value: "x" }, c), "refused");
      await fails(run.type({ selector: "#password", text: "x" }, c), "refused");
      await run.fill({ selector: "#username", value: "someone" }, c);
    });

    await t.step(
      "a yield captures the body the human's login brings, and guards their fields",
      async () => {
        using c = ctx(10_000);
        await human.begin();
        const waiting = waitForConditions(
          page,
          {
            conditions: [{
              type: "networkRequest",
              urlContains: "/api/account",
              captureBody: true,
            }],
            timeout: 10_000,
          },
          c.signal,
          findEach,
        );
        // the human, in the browser
        await page.click("#username", { count: 3 });
        await page.type("#username", TEST_USER);
        await page.type("#password", TEST_PASSWORD);
        await page.click("#submit");
        const result = await waiting;
        await human.end();
        assert.deepEqual(result.condition, { index: 0, type: "networkRequest" });
        assert.equal(result.networkCapture?.status, 200);
        assert.deepEqual(JSON.parse(result.networkCapture?.responseBody ?? ""), ACCOUNT);
      },
    );

    await t.step("fields the human typed into stay theirs after the yield", async () => {
      using c = ctx();
      await run.navigate({ url: `${site.url}/widgets` }, c);
      await human.begin();
      await page.type("#email", "me@example.org");
      await human.end();
      await page.$eval("#email", (e) => e.setAttribute("value", "me@example.org"));
      await fails(run.fill({ selector: "#email", value: "x" }, c), "refused");
      await fails(run.type({ selector: "#email", text: "x" }, c), "refused");
      await fails(run.getAttribute({ selector: "#email", name: "value" }, c), "refused");
      const { html } = await run.innerHTML({ selector: "body" }, c);
      assert.ok(html.includes('id="email"') && !html.includes("me@example.org"));
      await run.fill({ selector: "#text", value: "still fine" }, c);
    });

    await t.step(
      "evaluate runs over a copy of the document, in a sandbox with no network",
      async () => {
        using c = ctx();
        assert.deepEqual(
          await run.evaluate({ expression: "[document.title, location.origin, typeof window]" }, c),
          { value: [await page.title(), new URL(site.url).origin, "object"] },
        );
        const threw = await fails(
          run.evaluate(
            { expression: "fetch(location.origin + '/widgets').then((r) => r.status)" },
            c,
          ),
          "evaluation_failed",
        );
        assert.match(threw, /NotCapable|Requires net access/);
        await page.evaluate(() => document.cookie = "seen=cookie-value-123");
        const { value } = await run.evaluate({ expression: "String(document.cookie ?? '')" }, c);
        assert.equal(value, "");
      },
    );

    await t.step("captured responses are read back with their bodies", async () => {
      using c = ctx();
      await run.captureResponses({ urlContains: "/slow" }, c);
      const fetched = await run.fetch({ url: "/slow?ms=1&sig=s3cr3t" }, c);
      assert.equal(fetched.status, 200);
      assert.equal(fetched.body, '{"waited":1}');
      assert.equal(fetched.url, `${site.url}/slow?ms=1&sig=REDACTED`);
      await fails(run.fetch({ url: "http://127.0.0.1:9/elsewhere" }, c), "refused");
      assert.deepEqual(await run.readCapturedResponses({}, c), {
        responses: [{
          url: `${site.url}/slow?ms=1&sig=REDACTED`,
          method: "GET",
          status: 200,
          responseBody: '{"waited":1}',
        }],
      });
      assert.deepEqual(await run.readCapturedResponses({ urlContains: "/other" }, c), {
        responses: [],
      });
    });
  } finally {
    capture.stop();
    sandbox.close();
    await cdp.detach().catch(() => {});
    await closeBrowser(browser);
  }
});
