/**
 * Every provider conforms, the moment its folder exists: its sandbox serves
 * the login, the magic credentials log in, each operation's result validates
 * against its schema, and each failure path of the sandbox (a wrong password,
 * a wrong code, a locked account, a redesigned site) ends in its error code.
 * The loop runs over the catalog, which here also holds a sixth provider
 * loaded from a fixture folder (`PASSAGE_PROVIDERS_DIR`), as an operator's
 * own provider would be. One server and one Chromium for the file.
 */
import { FIXTURE_PROVIDERS_DIR } from "./_fixture_providers.ts"; // first: before the catalog loads
import assert from "node:assert/strict";
import type { Browser as Chromium } from "puppeteer-core";
import { resultSchemas } from "@passage/connect/results";
import { Passage } from "@passage/connect";
import { listProviders } from "../automations/catalog.ts";
import { getAutomation } from "../automations/registry.ts";
import { SANDBOX_SITES } from "../automations/sandbox/mod.ts";
import { AutomationError, type AutomationErrorCode } from "../automations/types.ts";
import type { Provider } from "../automations/define.ts";
import { launchChromium, startDevice } from "../device/mod.ts";
import { createLinkViaApi, request, startServer, type TestServer } from "./_harness.ts";
import { Turns } from "./_human.ts";

interface Steps {
  username: string;
  password: string;
  /** The MFA code typed, if the login gets that far. */
  code?: string;
}

/**
 * Runs `provider`'s login on a fresh session and device while the human
 * types `steps` once (one attempt allowed), then `after` with the context.
 */
async function withLogin<T>(
  server: TestServer,
  chromium: Chromium,
  provider: Provider,
  steps: Steps,
  after: (ctx: Parameters<NonNullable<ReturnType<typeof getAutomation>>["login"]>[0]) => Promise<T>,
): Promise<T> {
  const automation = getAutomation(provider.id);
  assert.ok(automation, `no automation for ${provider.id}`);
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const session = await passage.sessions.create();
  const browser = await session.connect();
  const turns = new Turns();
  const device = await startDevice({
    server: server.url,
    claimCode: session.claimCode!,
    onStatus: turns.onStatus,
    browser: chromium,
  });
  try {
    const ctx = {
      browser,
      baseUrl: `${server.url}/sandbox/${provider.id}`,
      loginTimeoutMs: 30_000,
      loginAttempts: 1,
    };
    const human = (async () => {
      const { page } = device;
      await turns.next(() => true, 0);
      await page.waitForSelector("#username");
      await page.type("#username", steps.username);
      await page.type("#password", steps.password);
      await Promise.all([page.waitForNavigation(), page.click("#submit")]);
      if (steps.code === undefined) return;
      await page.waitForSelector("#mfa-code");
      await page.type("#mfa-code", steps.code);
      await Promise.all([page.waitForNavigation(), page.click("#mfa-submit")]);
    })();
    const [login, acted] = await Promise.allSettled([automation.login(ctx), human]);
    if (login.status === "rejected") throw login.reason;
    if (acted.status === "rejected") throw acted.reason;
    return await after(ctx);
  } finally {
    await browser.close();
    await device.close();
  }
}

async function assertCode(promise: Promise<unknown>, code: AutomationErrorCode, what: string) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof AutomationError, `${what}: not an AutomationError: ${err}`);
    assert.equal(err.code, code, `${what}: ${err.message}`);
    return true;
  });
}

const GOOD: Steps = { username: "user_good", password: "pass_good", code: "1234" };

Deno.test("every provider in the catalog conforms to the sandbox contract", async (t) => {
  await using server = await startServer();
  const chromium = await launchChromium();
  try {
    const index = await request(`${server.url}/sandbox`);
    for (const provider of listProviders()) {
      await t.step(provider.id, async (t) => {
        await t.step("its sandbox serves its login and guards its account API", async () => {
          assert.match(index.text, new RegExp(`/sandbox/${provider.id}/login`));
          const login = await request(`${server.url}/sandbox/${provider.id}/login`);
          assert.equal(login.status, 200);
          assert.match(login.text, /id="username"/);
          assert.match(login.text, new RegExp(provider.displayName.replace(/[&]/g, "&amp;")));
          const api = await request(`${server.url}/sandbox/${provider.id}/api/account`);
          assert.equal(api.status, 401);
        });

        await t.step("user_good logs in and every operation's result validates", async () => {
          const automation = getAutomation(provider.id)!;
          await withLogin(server, chromium, provider, GOOD, async (ctx) => {
            for (const type of provider.operations) {
              const result = await automation.operations[type]!(ctx);
              const parsed = resultSchemas[type].safeParse(result);
              assert.ok(parsed.success, `${type}: ${JSON.stringify(parsed.error?.issues)}`);
            }
          });
        });

        await t.step("user_changed logs in, then every operation is site_changed", async () => {
          const automation = getAutomation(provider.id)!;
          await withLogin(
            server,
            chromium,
            provider,
            { ...GOOD, username: "user_changed" },
            async (ctx) => {
              for (const type of provider.operations) {
                await assertCode(automation.operations[type]!(ctx), "site_changed", type);
              }
            },
          );
        });

        const failures: Array<[string, Steps, AutomationErrorCode]> = [
          ["a wrong password", { username: "user_good", password: "wrong" }, "invalid_credentials"],
          [
            "an unknown user",
            { username: "user_nobody", password: "pass_good" },
            "invalid_credentials",
          ],
          ["a wrong code", { ...GOOD, code: "9999" }, "invalid_mfa_code"],
          [
            "a locked account",
            { username: "user_locked", password: "pass_good" },
            "account_locked",
          ],
        ];
        for (const [what, steps, code] of failures) {
          await t.step(`${what} fails the login with ${code}`, async () => {
            await assertCode(
              withLogin(server, chromium, provider, steps, () => Promise.resolve()),
              code,
              what,
            );
          });
        }
      });
    }
  } finally {
    await chromium.close();
  }
});

Deno.test("a provider folder under PASSAGE_PROVIDERS_DIR joins the catalog, the sandboxes and the API", async () => {
  const ids = listProviders().map((p) => p.id);
  // the built-in ones first, then the folder's (acme, and any a provider's author copied there)
  assert.deepEqual(ids.slice(0, 5), ["tmobile", "verizon", "pge", "doordash", "geico"]);
  assert.ok(ids.includes("acme"), `acme is not in the catalog: ${ids}`);
  assert.ok(FIXTURE_PROVIDERS_DIR.endsWith("fixtures/providers"));
  assert.deepEqual(SANDBOX_SITES.map((s) => s.id), ids);
  assert.equal(SANDBOX_SITES.at(-1)!.name, "Acme Internet");

  await using server = await startServer();
  const catalog = await server.api("/v1/providers", { apiKey: null });
  assert.equal(catalog.status, 200);
  const acme = catalog.body.data.find((p: { id: string }) => p.id === "acme");
  assert.deepEqual(acme.operations.map((o: { type: string }) => o.type), [
    "paymentMethod:read",
    "accountOwnership:verify",
  ]);
  assert.equal(acme.displayName, "Acme Internet");
  assert.equal(acme.operations[0].resultSchema.type, "object");
  const openApi = await server.api("/openapi.json", { apiKey: null });
  const ref = openApi.body.paths["/v1/links"].post.requestBody.content["application/json"].schema;
  assert.equal(ref.$ref, "#/components/schemas/CreateLinkParams");
  const body = openApi.body.components.schemas.CreateLinkParams;
  assert.deepEqual(body.properties.provider.enum, ids);

  // lib/ validates against the same catalog: a link may name it, and only its operations
  const link = await createLinkViaApi(server, {
    provider: "acme",
    operations: [{ type: "accountOwnership:verify" }],
  });
  assert.equal(link.provider, "acme");
  const refused = await server.api("/v1/links", {
    method: "POST",
    json: { provider: "acme", operations: [{ type: "orderHistory:read" }] },
  });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error.code, "unsupported_operation");
});
