/**
 * The result schemas of `@passage/connect/results`: valid results pass, and
 * the mistakes that would hurt a developer (a float amount, a bad date, a
 * currency that is not ISO 4217, a full card number) are refused.
 */
import assert from "node:assert/strict";
import {
  accountOwnershipSchema,
  insurancePoliciesSchema,
  looksLikeCardNumber,
  mobileBillingStatementSchema,
  orderHistorySchema,
  paymentMethodsSchema,
  resultSchemas,
  utilityBillingStatementSchema,
} from "@passage/connect/results";
import { OPERATION_TYPES } from "@passage/connect/schemas";
import {
  GEICO_POLICIES,
  TMOBILE_BILL as STATEMENT,
  TMOBILE_OWNER as OWNER,
  TMOBILE_PAYMENT_METHODS,
} from "./_results.ts";

const UTILITY = {
  ...STATEMENT,
  serviceAddress: "1450 Mission St Apt 4, San Francisco, CA 94103",
  usage: { quantity: "412", unit: "kWh" },
};

const CARD = TMOBILE_PAYMENT_METHODS.paymentMethods[0];

const ORDER = {
  id: "7c0e5b1e",
  placedAt: "2025-03-02T01:14:09Z",
  status: "delivered",
  total: "34.87",
  currency: "USD",
  merchant: "Tartine Bakery",
  items: [{ name: "Morning bun", quantity: 2, unitPrice: "5.75" }],
};

const POLICY = GEICO_POLICIES.policies[0];

/** The first issue's path, joined with dots, or null when the value passes. */
function failure(result: { success: boolean; error?: { issues: Array<{ path: PropertyKey[] }> } }) {
  return result.success ? null : result.error!.issues[0].path.map(String).join(".");
}

Deno.test("resultSchemas has a schema for every operation type", () => {
  assert.deepEqual(Object.keys(resultSchemas).sort(), [...OPERATION_TYPES].sort());
});

Deno.test("valid fixtures of every operation pass unchanged", () => {
  const fixtures = {
    "mobileBillingStatement:read": STATEMENT,
    "utilityBillingStatement:read": UTILITY,
    "paymentMethod:read": TMOBILE_PAYMENT_METHODS,
    "orderHistory:read": { orders: [ORDER] },
    "insurancePolicy:read": GEICO_POLICIES,
    "accountOwnership:verify": OWNER,
  };
  for (const type of OPERATION_TYPES) {
    const parsed = resultSchemas[type].safeParse(fixtures[type]);
    assert.ok(parsed.success, `${type}: ${JSON.stringify(parsed.error?.issues)}`);
    assert.deepEqual(parsed.data, fixtures[type]);
  }
});

Deno.test("a billing statement refuses a float amount, a bad date, a bad currency and wrong decimals", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["a float amount", { amountDue: 142.5 }, "amountDue"],
    ["an amount with a currency sign", { amountDue: "$142.50" }, "amountDue"],
    ["an amount with 1 decimal for USD", { amountDue: "142.5" }, "amountDue"],
    ["a US date", { periodStart: "02/01/2025" }, "periodStart"],
    ["a date that does not exist", { dueDate: "2025-02-30" }, "dueDate"],
    ["a date-time instead of a date", { statementDate: "2025-03-01T00:00:00Z" }, "statementDate"],
    ["a lower-case currency", { currency: "usd" }, "currency"],
    ["a made-up currency", { currency: "ABC" }, "currency"],
    ["a period that ends before it starts", { periodEnd: "2025-01-31" }, "periodEnd"],
    ["a long account number", { accountNumberLast4: "88121-0457" }, "accountNumberLast4"],
    ["an unknown field", { accountNumber: "TMO-88121-0457" }, ""],
  ];
  for (const [what, change, path] of cases) {
    const result = mobileBillingStatementSchema.safeParse({ ...STATEMENT, ...change });
    assert.equal(result.success, false, `${what} was accepted`);
    if (path) assert.equal(failure(result), path, what);
  }
  const badItem = { ...STATEMENT, lineItems: [{ ...STATEMENT.lineItems[0], amount: 130 }] };
  assert.equal(failure(mobileBillingStatementSchema.safeParse(badItem)), "lineItems.0.amount");
});

Deno.test("amounts carry exactly the decimals of their currency", () => {
  const yen = {
    ...STATEMENT,
    currency: "JPY",
    amountDue: "14250",
    previousBalance: "0",
    paymentsReceived: "0",
    lineItems: [],
  };
  assert.ok(mobileBillingStatementSchema.safeParse(yen).success);
  assert.equal(
    failure(mobileBillingStatementSchema.safeParse({ ...yen, amountDue: "14250.00" })),
    "amountDue",
  );
});

Deno.test("a utility statement checks its usage and address", () => {
  assert.ok(utilityBillingStatementSchema.safeParse(UTILITY).success);
  assert.equal(
    failure(
      utilityBillingStatementSchema.safeParse({
        ...UTILITY,
        usage: { quantity: 412, unit: "kWh" },
      }),
    ),
    "usage.quantity",
  );
  // a mobile statement has no usage field
  assert.equal(mobileBillingStatementSchema.safeParse(UTILITY).success, false);
});

Deno.test("a payment method never holds more than the last 4 digits", () => {
  const parse = (method: Record<string, unknown>) =>
    paymentMethodsSchema.safeParse({ paymentMethods: [method] });
  assert.equal(failure(parse({ ...CARD, last4: "4242424242424242" })), "paymentMethods.0.last4");
  assert.equal(failure(parse({ ...CARD, last4: "42424" })), "paymentMethods.0.last4");
  assert.equal(failure(parse({ ...CARD, last4: "42" })), "paymentMethods.0.last4");
  assert.equal(
    failure(parse({ ...CARD, holderName: "4242 4242 4242 4242" })),
    "paymentMethods.0.holderName",
  );
  assert.equal(
    failure(parse({ ...CARD, holderName: "Alex 4242-4242-4242-4242" })),
    "paymentMethods.0.holderName",
  );
  // an extra field (a `number`, a `pan`) is refused whatever it holds
  assert.equal(parse({ ...CARD, number: "4242424242424242" }).success, false);
  assert.equal(parse({ ...CARD, pan: "4242" }).success, false);
  // card-only fields on a bank account, and the other way round
  assert.equal(
    failure(parse({ type: "bank_account", last4: "6789", expMonth: 1, isDefault: false })),
    "paymentMethods.0.expMonth",
  );
  assert.equal(failure(parse({ ...CARD, bankName: "Chase" })), "paymentMethods.0.bankName");
  assert.equal(failure(parse({ ...CARD, expMonth: 13 })), "paymentMethods.0.expMonth");
});

Deno.test("no free-text field of any result may hold a card number", () => {
  const pan = "Paid with 4111111111111111";
  assert.equal(
    mobileBillingStatementSchema.safeParse({
      ...STATEMENT,
      lineItems: [{ description: pan, amount: "1.00", category: "other" }],
    }).success,
    false,
  );
  assert.equal(
    orderHistorySchema.safeParse({ orders: [{ ...ORDER, merchant: pan }] }).success,
    false,
  );
  assert.equal(
    accountOwnershipSchema.safeParse({ ...OWNER, accountHolderName: pan }).success,
    false,
  );
  assert.ok(looksLikeCardNumber("5555 5555 5555 4444"));
  assert.ok(!looksLikeCardNumber("Visa ending 4242, exp 08/27"));
  assert.ok(!looksLikeCardNumber("Order 112-1234567")); // 10 digits: an id, not a card
});

Deno.test("an order needs an ISO date-time, a known status and whole quantities", () => {
  const parse = (change: Record<string, unknown>) =>
    failure(orderHistorySchema.safeParse({ orders: [{ ...ORDER, ...change }] }));
  assert.equal(parse({}), null);
  assert.equal(parse({ placedAt: "2025-03-02T01:14:09+01:00" }), null);
  assert.equal(parse({ placedAt: "2025-03-02" }), "orders.0.placedAt");
  assert.equal(parse({ placedAt: "March 2, 2025" }), "orders.0.placedAt");
  assert.equal(parse({ status: "DELIVERED" }), "orders.0.status");
  assert.equal(parse({ total: 34.87 }), "orders.0.total");
  assert.equal(
    parse({ items: [{ name: "Bun", quantity: 1.5, unitPrice: "5.75" }] }),
    "orders.0.items.0.quantity",
  );
  assert.equal(parse({ currency: "EUR", total: "34.8" }), "orders.0.total");
});

Deno.test("a policy checks its dates, premium and coverages", () => {
  const parse = (change: Record<string, unknown>) =>
    failure(insurancePoliciesSchema.safeParse({ policies: [{ ...POLICY, ...change }] }));
  assert.equal(parse({}), null);
  assert.equal(parse({ policyNumberLast4: "4471-22-981-3306" }), "policies.0.policyNumberLast4");
  assert.equal(parse({ expirationDate: "2024-07-15" }), "policies.0.expirationDate");
  assert.equal(parse({ premium: "612.4" }), "policies.0.premium");
  assert.equal(parse({ premiumFrequency: "biannual" }), "policies.0.premiumFrequency");
  assert.equal(
    parse({ coverages: [{ name: "Collision", deductible: 500 }] }),
    "policies.0.coverages.0.deductible",
  );
});

Deno.test("account ownership only carries masked contact details", () => {
  const parse = (change: Record<string, unknown>) =>
    failure(accountOwnershipSchema.safeParse({ ...OWNER, ...change }));
  assert.equal(parse({}), null);
  assert.equal(parse({ emailMasked: "alex.rivera@example.com" }), "emailMasked");
  assert.equal(parse({ phoneMasked: "+1 206 555 0147" }), "phoneMasked");
  assert.equal(parse({ phoneMasked: "+1 •••-••5-0147" }), "phoneMasked");
  assert.equal(parse({ phoneMasked: "+1 •••-•••-0147" }), null);
  assert.equal(parse({ accountCreatedAt: "2019" }), "accountCreatedAt");
  assert.equal(parse({ verified: "yes" }), "verified");
});
