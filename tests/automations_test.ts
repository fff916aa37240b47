/**
 * The provider automations, end to end: a real server serving the sandbox
 * sites, the SDK's `Browser` as the automation's hands, the reference device
 * on a real headless Chromium, and the test as the human typing the magic
 * credentials into the device's page. T-Mobile goes down every path; every
 * other provider runs at least one operation against its sandbox's figures.
 */
import assert from "node:assert/strict";
import { type Browser, BrowserCommandError, Passage, type SessionHandle } from "@passage/connect";
import { getAutomation } from "../automations/registry.ts";
import {
  type AutomationContext,
  AutomationError,
  type AutomationErrorCode,
  toAutomationError,
} from "../automations/types.ts";
import { type DeviceHandle, startDevice } from "../device/mod.ts";
import { sweepSessions } from "../lib/sessions.ts";
import { startServer, type TestServer } from "./_harness.ts";
import { retryWith, Turns } from "./_human.ts";
import {
  GEICO_POLICIES,
  TMOBILE_BILL,
  TMOBILE_OWNER,
  TMOBILE_PAYMENT_METHODS,
} from "./_results.ts";

/** A session with the device connected: the automation's context and the human's page. */
interface Connected extends AsyncDisposable {
  passage: Passage;
  session: SessionHandle;
  browser: Browser;
  device: DeviceHandle;
  ctx: AutomationContext;
  /** Resolves when the device hands the human control (the login's yield has started). */
  humanTurn: Promise<void>;
  /** Every status the device showed the human. */
  turns: Turns;
}

async function connect(
  server: TestServer,
  provider: string,
  loginTimeoutMs = 60_000,
): Promise<Connected> {
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const session = await passage.sessions.create();
  const browser = await session.connect();
  const turns = new Turns();
  const device = await startDevice({
    server: server.url,
    claimCode: session.claimCode!,
    onStatus: turns.onStatus,
  });
  const close = async () => {
    await browser.close();
    await device.close();
  };
  return {
    passage,
    session,
    browser,
    device,
    ctx: { browser, baseUrl: `${server.url}/sandbox/${provider}`, loginTimeoutMs },
    get humanTurn() {
      return turns.next(() => true, 0);
    },
    turns,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The human: waits for their turn, then types into the site's login and MFA
 * forms; after a wrong password or code (all but the last of `passwords` and
 * `codes`) waits for the retry the login offers.
 */
async function human(
  c: Connected,
  steps: { username: string; password: string | string[]; codes?: string[] },
): Promise<void> {
  const { page } = c.device;
  await c.humanTurn;
  const attempts = c.ctx.loginAttempts ?? 3;
  let failures = 0;
  const passwords = [steps.password].flat();
  for (const [i, password] of passwords.entries()) {
    if (i > 0) await c.turns.next(retryWith(attempts - ++failures));
    await page.waitForSelector("#username");
    await page.type("#username", steps.username);
    await page.type("#password", password);
    await Promise.all([page.waitForNavigation(), page.click("#submit")]);
  }
  for (const [i, code] of (steps.codes ?? []).entries()) {
    if (i > 0) await c.turns.next(retryWith(attempts - ++failures));
    await page.waitForSelector("#mfa-code");
    await page.type("#mfa-code", code);
    await Promise.all([page.waitForNavigation(), page.click("#mfa-submit")]);
  }
}

/** Runs the login while the human acts; returns the login's outcome. */
async function logIn(
  c: Connected,
  provider: string,
  steps?: { username: string; password: string | string[]; codes?: string[] },
): Promise<void> {
  const automation = getAutomation(provider)!;
  const acting = steps ? human(c, steps) : Promise.resolve();
  const [login, acted] = await Promise.allSettled([automation.login(c.ctx), acting]);
  if (acted.status === "rejected") throw acted.reason;
  if (login.status === "rejected") throw login.reason;
}

const GOOD = { username: "user_good", password: "pass_good", codes: ["1234"] };

async function assertFailsWith(promise: Promise<unknown>, code: AutomationErrorCode) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof AutomationError, `not an AutomationError: ${err}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

// ------------------------------------------------------------------ T-Mobile

Deno.test("tmobile: user_good logs in after a wrong MFA code and gets the bill, cards and owner", async () => {
  await using server = await startServer();
  await using c = await connect(server, "tmobile");
  const tmobile = getAutomation("tmobile")!;
  await logIn(c, "tmobile", { ...GOOD, codes: ["9999", "1234"] });

  const bill = await tmobile.operations["mobileBillingStatement:read"]!(c.ctx);
  assert.deepEqual(bill, TMOBILE_BILL);

  const cards = await tmobile.operations["paymentMethod:read"]!(c.ctx);
  assert.deepEqual(cards, TMOBILE_PAYMENT_METHODS);
  // the site shows a masked 16-digit number; nothing but the last four comes out
  assert.doesNotMatch(JSON.stringify(cards), /\d{5}|\*{4}/);

  const owner = await tmobile.operations["accountOwnership:verify"]!(c.ctx);
  assert.deepEqual(owner, TMOBILE_OWNER);
});

Deno.test("tmobile: a wrong password, then the right one, logs in", async () => {
  await using server = await startServer();
  await using c = await connect(server, "tmobile");
  await logIn(c, "tmobile", { ...GOOD, password: ["wrong", "pass_good"] });
});

Deno.test("tmobile: a wrong password on every attempt fails the login with invalid_credentials", async () => {
  await using server = await startServer();
  await using c = await connect(server, "tmobile");
  c.ctx.loginAttempts = 2;
  await assertFailsWith(
    logIn(c, "tmobile", { username: "user_good", password: ["wrong", "wrong again"] }),
    "invalid_credentials",
  );
});

Deno.test("tmobile: user_locked fails the login with account_locked", async () => {
  await using server = await startServer();
  await using c = await connect(server, "tmobile");
  await assertFailsWith(
    logIn(c, "tmobile", { username: "user_locked", password: "pass_good" }),
    "account_locked",
  );
});

Deno.test("tmobile: a user who stops at the MFA step fails with mfa_timeout", async () => {
  await using server = await startServer();
  await using c = await connect(server, "tmobile", 6000);
  await assertFailsWith(
    logIn(c, "tmobile", { username: "user_good", password: "pass_good", codes: [] }),
    "mfa_timeout",
  );
});

Deno.test("tmobile: a user who never logs in fails with user_abandoned", async () => {
  await using server = await startServer();
  await using c = await connect(server, "tmobile", 1000);
  await assertFailsWith(logIn(c, "tmobile"), "user_abandoned");
});

Deno.test("tmobile: user_changed logs in, then every operation fails with site_changed", async () => {
  await using server = await startServer();
  await using c = await connect(server, "tmobile");
  const tmobile = getAutomation("tmobile")!;
  await logIn(c, "tmobile", { ...GOOD, username: "user_changed" });
  for (const run of Object.values(tmobile.operations)) {
    await assertFailsWith(run(c.ctx), "site_changed");
  }
});

Deno.test("tmobile: a device lost during the login fails with device_lost", async () => {
  await using server = await startServer({ deviceGraceSeconds: 0 });
  await using c = await connect(server, "tmobile");
  const login = getAutomation("tmobile")!.login(c.ctx);
  login.catch(() => {}); // asserted below
  await c.humanTurn;
  await c.device.close(); // the phone goes away mid-login
  for (
    let i = 0;
    (await c.passage.sessions.get(c.session.id)).data.device !== "disconnected";
    i++
  ) {
    assert.ok(i < 100, "the server never saw the device go");
    await new Promise((r) => setTimeout(r, 50));
  }
  await sweepSessions(server.services);
  await assertFailsWith(login, "device_lost");
});

Deno.test("tmobile: a login page without the login form fails with site_changed", async () => {
  await using server = await startServer();
  await using c = await connect(server, "tmobile");
  // the sandbox index stands in for a redesigned login page
  const ctx = { ...c.ctx, baseUrl: `${server.url}/sandbox` };
  await assertFailsWith(getAutomation("tmobile")!.login(ctx), "site_changed");
});

// ------------------------------------------------------------------ other providers

Deno.test("verizon: the bill is parsed from its HTML-only bill page", async () => {
  await using server = await startServer();
  await using c = await connect(server, "verizon");
  await logIn(c, "verizon", GOOD);
  const bill = await getAutomation("verizon")!.operations["mobileBillingStatement:read"]!(c.ctx);
  assert.deepEqual(bill, {
    accountNumberLast4: "8812",
    statementDate: "2025-03-05",
    periodStart: "2025-02-05",
    periodEnd: "2025-03-04",
    dueDate: "2025-03-28",
    amountDue: "98.15",
    previousBalance: "96.40",
    paymentsReceived: "96.40",
    currency: "USD",
    autopay: false,
    lineItems: [
      { description: "Unlimited Plus", amount: "80.00", category: "service" },
      { description: "Loyalty discount", amount: "-10.00", category: "discount" },
      {
        description: "Device payment: Galaxy S25 (7 of 36)",
        amount: "16.67",
        category: "equipment",
      },
      { description: "Surcharges & fees", amount: "5.23", category: "fee" },
      { description: "Taxes & government fees", amount: "6.25", category: "tax" },
    ],
  });
});

Deno.test("verizon: a redesigned bill page fails with site_changed, not a wrong result", async () => {
  await using server = await startServer();
  await using c = await connect(server, "verizon");
  await logIn(c, "verizon", { ...GOOD, username: "user_changed" });
  await assertFailsWith(
    getAutomation("verizon")!.operations["mobileBillingStatement:read"]!(c.ctx),
    "site_changed",
  );
});

Deno.test("pge: the utility statement comes from the JSON its billing page loads", async () => {
  await using server = await startServer();
  await using c = await connect(server, "pge");
  await logIn(c, "pge", GOOD);
  const bill = await getAutomation("pge")!.operations["utilityBillingStatement:read"]!(c.ctx);
  assert.deepEqual(bill, {
    accountNumberLast4: "9586",
    statementDate: "2025-03-07",
    periodStart: "2025-02-04",
    periodEnd: "2025-03-05",
    dueDate: "2025-03-28",
    amountDue: "163.58",
    previousBalance: "187.32",
    paymentsReceived: "187.32",
    currency: "USD",
    autopay: false,
    lineItems: [
      { description: "Electric generation", amount: "61.45", category: "usage" },
      { description: "Electric delivery", amount: "72.80", category: "service" },
      { description: "Public purpose programs", amount: "25.21", category: "fee" },
      { description: "Taxes and surcharges", amount: "4.12", category: "tax" },
    ],
    serviceAddress: "1450 Mission St Apt 4, San Francisco, CA 94103",
    usage: { quantity: "412", unit: "kWh" },
  });
});

Deno.test("doordash: orders from its JSON and saved cards parsed from its HTML", async () => {
  await using server = await startServer();
  await using c = await connect(server, "doordash");
  const doordash = getAutomation("doordash")!;
  await logIn(c, "doordash", GOOD);
  const { orders } = await doordash.operations["orderHistory:read"]!(c.ctx);
  assert.equal(orders.length, 3);
  assert.deepEqual(orders[0], {
    id: "7c0e5b1e-4f1a-4d8e-9a57-2f1c3b9d0a11",
    placedAt: "2025-03-02T01:14:09Z",
    status: "delivered",
    total: "34.87",
    currency: "USD",
    merchant: "Tartine Bakery",
    items: [
      { name: "Morning bun", quantity: 2, unitPrice: "5.75" },
      { name: "Country loaf", quantity: 1, unitPrice: "14.00" },
    ],
  });
  assert.deepEqual(orders.map((o) => o.status), ["delivered", "cancelled", "delivered"]);
  const cards = await doordash.operations["paymentMethod:read"]!(c.ctx);
  assert.deepEqual(cards, {
    paymentMethods: [
      { type: "card", brand: "visa", last4: "4242", expMonth: 9, expYear: 2027, isDefault: true },
      {
        type: "card",
        brand: "mastercard",
        last4: "4444",
        expMonth: 1,
        expYear: 2029,
        isDefault: false,
      },
    ],
  });
});

Deno.test("geico: policies are parsed from its HTML policies page", async () => {
  await using server = await startServer();
  await using c = await connect(server, "geico");
  await logIn(c, "geico", GOOD);
  const { policies } = await getAutomation("geico")!.operations["insurancePolicy:read"]!(c.ctx);
  assert.deepEqual(policies, GEICO_POLICIES.policies);
});

// ------------------------------------------------------------------ errors

Deno.test("toAutomationError maps a lost device, a missing element and anything else", () => {
  const cases: Array<[BrowserCommandError["code"], AutomationErrorCode]> = [
    ["session_ended", "device_lost"],
    ["connection_lost", "device_lost"],
    ["device_lost", "device_lost"],
    ["selector_not_found", "site_changed"],
    ["timeout", "operation_failed"],
    ["navigation_failed", "operation_failed"],
  ];
  for (const [command, automation] of cases) {
    const err = toAutomationError(new BrowserCommandError("click", command, "x"), "clicking");
    assert.equal(err.code, automation, command);
    assert.ok(err.cause instanceof BrowserCommandError);
  }
  const own = new AutomationError("mfa_timeout", "late");
  assert.equal(toAutomationError(own, "x"), own);
  assert.equal(toAutomationError(new TypeError("boom"), "x").code, "operation_failed");
});
