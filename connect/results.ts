/**
 * The results of every operation, as TypeScript types and the zod schemas that
 * check them. Every result Passage delivers has been validated with these
 * schemas; use them again on your side if you like.
 *
 * Conventions: money is a decimal string with exactly as many decimals as its
 * currency has minor units (`"142.50"` in USD, `"1200"` in JPY), never a
 * float; `currency` is an ISO 4217 code; dates are ISO 8601 calendar dates
 * (`YYYY-MM-DD`), instants are ISO 8601 date-times with an offset. No result
 * ever holds a full card number: card and account numbers appear only as
 * their last four characters, emails and phone numbers only masked.
 *
 * @example
 * ```ts
 * import { resultSchemas } from "@passage/connect/results";
 * function readBill(payload: { results: Record<string, unknown> }) {
 *   const bill = resultSchemas["mobileBillingStatement:read"].parse(
 *     payload.results["mobileBillingStatement:read"],
 *   );
 *   return bill.amountDue; // "142.50"
 * }
 * ```
 *
 * @module
 */
import { z } from "zod";
import type { Schema } from "./_schema.ts";

export type { Schema };

// ------------------------------------------------------------ primitives

const AMOUNT = /^-?(0|[1-9]\d{0,14})(\.\d{1,4})?$/;

/**
 * A money amount as a decimal string: `"142.50"`, `"-10.00"`, `"0.00"`.
 * Results also check that the number of decimals matches the currency.
 *
 * @example
 * ```ts
 * import { amountSchema } from "@passage/connect/results";
 * amountSchema.parse("142.50"); // "142.50"
 * amountSchema.safeParse(142.5).success; // false: a float is never money
 * ```
 */
export const amountSchema: Schema<string> = z.string().regex(
  AMOUNT,
  'Expected a decimal string such as "142.50"',
);

const KNOWN_CURRENCIES: ReadonlySet<string> | null = (() => {
  try {
    return new Set(Intl.supportedValuesOf("currency"));
  } catch {
    return null; // a runtime without the list: the pattern alone decides
  }
})();

/**
 * An ISO 4217 currency code in upper case: `"USD"`, `"EUR"`, `"JPY"`.
 *
 * @example
 * ```ts
 * import { currencySchema } from "@passage/connect/results";
 * currencySchema.parse("USD");
 * currencySchema.safeParse("usd").success; // false
 * ```
 */
export const currencySchema: Schema<string> = z.string()
  .regex(/^[A-Z]{3}$/, 'Expected an ISO 4217 currency code such as "USD"')
  .refine(
    (code) => KNOWN_CURRENCIES === null || KNOWN_CURRENCIES.has(code),
    "Expected a known ISO 4217 currency code",
  );

/**
 * A calendar date, ISO 8601 `YYYY-MM-DD`, that exists (`2025-02-30` does not).
 *
 * @example
 * ```ts
 * import { dateSchema } from "@passage/connect/results";
 * dateSchema.parse("2025-02-01");
 * dateSchema.safeParse("02/01/2025").success; // false
 * ```
 */
export const dateSchema: Schema<string> = z.iso.date({
  message: "Expected an ISO 8601 date (YYYY-MM-DD)",
});

const instantSchema = z.iso.datetime({
  offset: true,
  message: "Expected an ISO 8601 date-time with an offset, such as 2025-03-02T18:22:00Z",
});

/** 13 to 19 digits, single spaces or dashes allowed between them: the shape of a card number. */
const CARD_NUMBER = /\d(?:[ -]?\d){12,18}/;

/**
 * Whether a string contains something shaped like a full card number (13 to
 * 19 digits, optionally grouped with spaces or dashes). Result schemas refuse
 * such strings in every free-text field.
 *
 * @example
 * ```ts
 * import { looksLikeCardNumber } from "@passage/connect/results";
 * looksLikeCardNumber("4242 4242 4242 4242"); // true
 * looksLikeCardNumber("Visa ending 4242"); // false
 * ```
 */
export function looksLikeCardNumber(value: string): boolean {
  return CARD_NUMBER.test(value);
}

/** Free text read from a site: non-empty, bounded, and never a card number. */
const text = (max: number) =>
  z.string().min(1).max(max).refine(
    (s) => !looksLikeCardNumber(s),
    "Must not contain a card number",
  );

/** The decimals a currency's amounts carry (2 for USD, 0 for JPY, 3 for KWD). */
function minorUnits(currency: string): number | null {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits ?? null;
  } catch {
    return null;
  }
}

type Ctx = z.core.$RefinementCtx;

/** Adds an issue for each amount whose decimals do not match `currency`. */
function checkDecimals(
  ctx: Ctx,
  currency: string,
  amounts: Array<[PropertyKey[], string | undefined]>,
): void {
  const digits = minorUnits(currency);
  if (digits === null) return;
  for (const [path, amount] of amounts) {
    if (amount === undefined || !AMOUNT.test(amount)) continue;
    const decimals = amount.split(".")[1]?.length ?? 0;
    if (decimals !== digits) {
      ctx.addIssue({
        code: "custom",
        path: path as (string | number)[],
        message: `Expected ${digits} decimals for ${currency}, got "${amount}"`,
      });
    }
  }
}

function checkOrder(ctx: Ctx, start: string, end: string, path: PropertyKey[], what: string) {
  if (start > end) {
    ctx.addIssue({ code: "custom", path: path as (string | number)[], message: what });
  }
}

// ------------------------------------------------------------ billing statements

/**
 * What a line of a bill is for.
 *
 * @example
 * ```ts
 * import type { LineItemCategory } from "@passage/connect/results";
 * // the lines whose amount is negative
 * const isCredit = (category: LineItemCategory) => category === "discount" || category === "credit";
 * ```
 */
export type LineItemCategory =
  | "service"
  | "usage"
  | "equipment"
  | "fee"
  | "tax"
  | "discount"
  | "credit"
  | "adjustment"
  | "other";

/**
 * One line of a bill.
 *
 * @example
 * ```ts
 * import type { StatementLineItem } from "@passage/connect/results";
 * const line: StatementLineItem = {
 *   description: "Go5G Plus (2 lines)",
 *   amount: "140.00",
 *   category: "service",
 * };
 * ```
 */
export interface StatementLineItem {
  /** As the provider words it: `"Go5G Plus (2 lines)"`. */
  description: string;
  /** Decimal string; negative for discounts and credits. */
  amount: string;
  /** What the line is for. */
  category: LineItemCategory;
}

/**
 * The fields every billing statement has.
 *
 * @example
 * ```ts
 * import type { BillingStatement } from "@passage/connect/results";
 * // works for a phone bill and a utility bill alike
 * const summary = (bill: BillingStatement) => `${bill.amountDue} ${bill.currency} due ${bill.dueDate}`;
 * ```
 */
export interface BillingStatement {
  /** The last four characters of the account number, when the provider shows it. */
  accountNumberLast4?: string;
  /** When the statement was issued (`YYYY-MM-DD`). */
  statementDate: string;
  /** First day of the billing period (`YYYY-MM-DD`). */
  periodStart: string;
  /** Last day of the billing period (`YYYY-MM-DD`). */
  periodEnd: string;
  /** When payment is due (`YYYY-MM-DD`). */
  dueDate: string;
  /** What the customer owes on this statement: `"142.50"`. */
  amountDue: string;
  /** The balance carried from the previous statement. */
  previousBalance: string;
  /** Payments received since the previous statement, as a positive amount. */
  paymentsReceived: string;
  /** ISO 4217 code of every amount in the statement. */
  currency: string;
  /** Whether the account pays automatically. */
  autopay: boolean;
  /** The statement's charges, credits, fees and taxes, as the provider lists them. */
  lineItems: StatementLineItem[];
}

/**
 * A mobile carrier's latest statement (`mobileBillingStatement:read`).
 *
 * @example
 * ```ts
 * import type { MobileBillingStatement } from "@passage/connect/results";
 * import type { TypedLink } from "@passage/connect";
 * function billOf(link: TypedLink<"mobileBillingStatement:read">): MobileBillingStatement | undefined {
 *   return link.results?.["mobileBillingStatement:read"];
 * }
 * ```
 */
export type MobileBillingStatement = BillingStatement;

/**
 * A utility's latest statement (`utilityBillingStatement:read`).
 *
 * @example
 * ```ts
 * import type { UtilityBillingStatement } from "@passage/connect/results";
 * const used = (bill: UtilityBillingStatement) =>
 *   bill.usage ? `${bill.usage.quantity} ${bill.usage.unit}` : "not shown"; // "412 kWh"
 * ```
 */
export interface UtilityBillingStatement extends BillingStatement {
  /** The address served, on one line. */
  serviceAddress?: string;
  /** What was consumed in the period: `{quantity: "412", unit: "kWh"}`. */
  usage?: { quantity: string; unit: string };
}

const LINE_ITEM_CATEGORIES = [
  "service",
  "usage",
  "equipment",
  "fee",
  "tax",
  "discount",
  "credit",
  "adjustment",
  "other",
] as const satisfies readonly LineItemCategory[];

const lineItemSchema = z.strictObject({
  description: text(300),
  amount: amountSchema,
  category: z.enum(LINE_ITEM_CATEGORIES),
});

const statementShape = {
  accountNumberLast4: z.string().regex(/^[A-Za-z0-9]{4}$/, "Expected 4 letters or digits")
    .optional(),
  statementDate: dateSchema,
  periodStart: dateSchema,
  periodEnd: dateSchema,
  dueDate: dateSchema,
  amountDue: amountSchema,
  previousBalance: amountSchema,
  paymentsReceived: amountSchema,
  currency: currencySchema,
  autopay: z.boolean(),
  lineItems: z.array(lineItemSchema).max(500),
};

function checkStatement(s: BillingStatement, ctx: Ctx): void {
  checkOrder(ctx, s.periodStart, s.periodEnd, ["periodEnd"], "periodEnd is before periodStart");
  checkDecimals(ctx, s.currency, [
    [["amountDue"], s.amountDue],
    [["previousBalance"], s.previousBalance],
    [["paymentsReceived"], s.paymentsReceived],
    ...s.lineItems.map((item, i): [PropertyKey[], string] => [
      ["lineItems", i, "amount"],
      item.amount,
    ]),
  ]);
}

/**
 * Checks a `mobileBillingStatement:read` result.
 *
 * @example
 * ```ts
 * import { mobileBillingStatementSchema } from "@passage/connect/results";
 * mobileBillingStatementSchema.parse({
 *   statementDate: "2025-03-01", periodStart: "2025-02-01", periodEnd: "2025-02-28",
 *   dueDate: "2025-03-22", amountDue: "142.50", previousBalance: "138.20",
 *   paymentsReceived: "138.20", currency: "USD", autopay: true,
 *   lineItems: [{ description: "Go5G Plus (2 lines)", amount: "142.50", category: "service" }],
 * });
 * ```
 */
export const mobileBillingStatementSchema: Schema<MobileBillingStatement> = z
  .strictObject(statementShape)
  .superRefine(checkStatement);

/**
 * Checks a `utilityBillingStatement:read` result.
 *
 * @example
 * ```ts
 * import { utilityBillingStatementSchema } from "@passage/connect/results";
 * const check = (value: unknown) => utilityBillingStatementSchema.parse(value).usage;
 * ```
 */
export const utilityBillingStatementSchema: Schema<UtilityBillingStatement> = z
  .strictObject({
    ...statementShape,
    serviceAddress: text(300).optional(),
    usage: z.strictObject({
      quantity: z.string().regex(/^(0|[1-9]\d{0,14})(\.\d{1,6})?$/, "Expected a decimal string"),
      unit: z.string().min(1).max(16),
    }).optional(),
  })
  .superRefine(checkStatement);

// ------------------------------------------------------------ payment methods

/**
 * A card network.
 *
 * @example
 * ```ts
 * import type { CardBrand } from "@passage/connect/results";
 * // a Record over the union: the compiler asks for a name when a brand is added
 * const BRAND_NAMES: Record<CardBrand, string> = {
 *   visa: "Visa",
 *   mastercard: "Mastercard",
 *   amex: "American Express",
 *   discover: "Discover",
 *   diners: "Diners Club",
 *   jcb: "JCB",
 *   unionpay: "UnionPay",
 *   unknown: "Card",
 * };
 * ```
 */
export type CardBrand =
  | "visa"
  | "mastercard"
  | "amex"
  | "discover"
  | "diners"
  | "jcb"
  | "unionpay"
  | "unknown";

/**
 * A payment method saved on the account. Never a full card or account number.
 *
 * @example
 * ```ts
 * import type { PaymentMethod } from "@passage/connect/results";
 * const label = (method: PaymentMethod) =>
 *   method.type === "card"
 *     ? `${method.brand ?? "card"} ending ${method.last4}` // "visa ending 4242"
 *     : `${method.bankName ?? "bank account"} ending ${method.last4}`;
 * ```
 */
export interface PaymentMethod {
  /** A card (credit, debit or prepaid) or a bank account. */
  type: "card" | "bank_account";
  /** The card network (cards only). */
  brand?: CardBrand;
  /** The bank's name as the provider shows it (bank accounts only). */
  bankName?: string;
  /** The last four digits of the card or account number. */
  last4: string;
  /** Expiry month, 1 to 12 (cards only). */
  expMonth?: number;
  /** Expiry year, four digits (cards only). */
  expYear?: number;
  /** The name on the card or account. */
  holderName?: string;
  /** Whether the provider charges this method by default. */
  isDefault: boolean;
}

/**
 * The result of `paymentMethod:read`.
 *
 * @example
 * ```ts
 * import type { PaymentMethods } from "@passage/connect/results";
 * const defaultMethod = (result: PaymentMethods) => result.paymentMethods.find((m) => m.isDefault);
 * ```
 */
export interface PaymentMethods {
  /** Every method saved on the account, the default one included. */
  paymentMethods: PaymentMethod[];
}

const CARD_BRANDS = [
  "visa",
  "mastercard",
  "amex",
  "discover",
  "diners",
  "jcb",
  "unionpay",
  "unknown",
] as const satisfies readonly CardBrand[];

const paymentMethodSchema = z.strictObject({
  type: z.enum(["card", "bank_account"]),
  brand: z.enum(CARD_BRANDS).optional(),
  bankName: text(100).optional(),
  last4: z.string().regex(/^\d{4}$/, "Expected exactly the last 4 digits"),
  expMonth: z.int().min(1).max(12).optional(),
  expYear: z.int().min(2000).max(2100).optional(),
  holderName: text(200).optional(),
  isDefault: z.boolean(),
}).superRefine((m, ctx) => {
  const wrong = m.type === "card" ? ["bankName"] : ["brand", "expMonth", "expYear"];
  for (const field of wrong) {
    if (m[field as keyof typeof m] !== undefined) {
      ctx.addIssue({ code: "custom", path: [field], message: `Not allowed on a ${m.type}` });
    }
  }
});

/**
 * Checks a `paymentMethod:read` result. It refuses a `last4` that is not
 * exactly four digits, unknown fields (such as a `number`), and any text that
 * looks like a card number.
 *
 * @example
 * ```ts
 * import { paymentMethodsSchema } from "@passage/connect/results";
 * paymentMethodsSchema.parse({
 *   paymentMethods: [{ type: "card", brand: "visa", last4: "4242", expMonth: 8, expYear: 2027, isDefault: true }],
 * });
 * paymentMethodsSchema.safeParse({
 *   paymentMethods: [{ type: "card", last4: "4242424242424242", isDefault: true }],
 * }).success; // false
 * ```
 */
export const paymentMethodsSchema: Schema<PaymentMethods> = z.strictObject({
  paymentMethods: z.array(paymentMethodSchema).max(100),
});

// ------------------------------------------------------------ orders

/**
 * Where an order is.
 *
 * @example
 * ```ts
 * import type { OrderStatus } from "@passage/connect/results";
 * const ON_ITS_WAY: OrderStatus[] = ["pending", "processing", "shipped"];
 * ```
 */
export type OrderStatus =
  | "pending"
  | "processing"
  | "shipped"
  | "delivered"
  | "cancelled"
  | "returned"
  | "refunded";

/**
 * One line of an order.
 *
 * @example
 * ```ts
 * import type { OrderItem } from "@passage/connect/results";
 * const item: OrderItem = { name: "Morning bun", quantity: 2, unitPrice: "5.75" };
 * ```
 */
export interface OrderItem {
  /** The product as the provider names it. */
  name: string;
  /** A whole number, at least 1. */
  quantity: number;
  /** Price of one unit, decimal string in the order's currency. */
  unitPrice: string;
}

/**
 * An order.
 *
 * @example
 * ```ts
 * import type { Order } from "@passage/connect/results";
 * const line = (order: Order) =>
 *   `${order.merchant ?? "order"} ${order.id}: ${order.total} ${order.currency}, ${order.status}`;
 * ```
 */
export interface Order {
  /** The provider's order id. */
  id: string;
  /** When it was placed: ISO 8601 date-time with an offset. */
  placedAt: string;
  /** Where the order is now. */
  status: OrderStatus;
  /** What was charged in all (items, fees, taxes, tip). */
  total: string;
  /** ISO 4217 code of `total` and every `unitPrice`. */
  currency: string;
  /** The store or seller, on marketplaces and delivery services. */
  merchant?: string;
  /** What was ordered. */
  items: OrderItem[];
}

/**
 * The result of `orderHistory:read`, newest order first.
 *
 * @example
 * ```ts
 * import type { OrderHistory } from "@passage/connect/results";
 * const delivered = (history: OrderHistory) =>
 *   history.orders.filter((order) => order.status === "delivered").length;
 * ```
 */
export interface OrderHistory {
  /** The orders the provider lists, newest first. */
  orders: Order[];
}

const ORDER_STATUSES = [
  "pending",
  "processing",
  "shipped",
  "delivered",
  "cancelled",
  "returned",
  "refunded",
] as const satisfies readonly OrderStatus[];

const orderSchema = z.strictObject({
  id: z.string().min(1).max(100),
  placedAt: instantSchema,
  status: z.enum(ORDER_STATUSES),
  total: amountSchema,
  currency: currencySchema,
  merchant: text(200).optional(),
  items: z.array(z.strictObject({
    name: text(300),
    quantity: z.int().min(1).max(100_000),
    unitPrice: amountSchema,
  })).max(500),
}).superRefine((o, ctx) => {
  checkDecimals(ctx, o.currency, [
    [["total"], o.total],
    ...o.items.map((
      item,
      i,
    ): [PropertyKey[], string] => [["items", i, "unitPrice"], item.unitPrice]),
  ]);
});

/**
 * Checks an `orderHistory:read` result.
 *
 * @example
 * ```ts
 * import { orderHistorySchema } from "@passage/connect/results";
 * orderHistorySchema.parse({
 *   orders: [{
 *     id: "A1B2", placedAt: "2025-03-02T01:14:09Z", status: "delivered", total: "34.87",
 *     currency: "USD", merchant: "Tartine Bakery",
 *     items: [{ name: "Morning bun", quantity: 2, unitPrice: "5.75" }],
 *   }],
 * });
 * ```
 */
export const orderHistorySchema: Schema<OrderHistory> = z.strictObject({
  orders: z.array(orderSchema).max(1000),
});

// ------------------------------------------------------------ insurance

/**
 * A kind of insurance policy.
 *
 * @example
 * ```ts
 * import type { PolicyType } from "@passage/connect/results";
 * const insuresVehicle = (type: PolicyType) => type === "auto" || type === "motorcycle";
 * ```
 */
export type PolicyType =
  | "auto"
  | "motorcycle"
  | "home"
  | "renters"
  | "condo"
  | "umbrella"
  | "life"
  | "health"
  | "pet"
  | "other";

/**
 * Where a policy is in its life.
 *
 * @example
 * ```ts
 * import type { PolicyStatus } from "@passage/connect/results";
 * const inForce = (status: PolicyStatus) => status === "active";
 * ```
 */
export type PolicyStatus = "active" | "pending" | "cancelled" | "expired";

/**
 * How often the premium is charged.
 *
 * @example
 * ```ts
 * import type { PremiumFrequency } from "@passage/connect/results";
 * const TIMES_A_YEAR: Record<PremiumFrequency, number> = {
 *   monthly: 12,
 *   quarterly: 4,
 *   semiannual: 2,
 *   annual: 1,
 * };
 * ```
 */
export type PremiumFrequency = "monthly" | "quarterly" | "semiannual" | "annual";

/**
 * One coverage of a policy.
 *
 * @example
 * ```ts
 * import type { Coverage } from "@passage/connect/results";
 * const coverages: Coverage[] = [
 *   { name: "Bodily injury liability (per person)", limit: "100000.00" },
 *   { name: "Collision", deductible: "500.00" },
 * ];
 * ```
 */
export interface Coverage {
  /** As the insurer words it: `"Bodily injury liability (per person)"`. */
  name: string;
  /** The most paid out, decimal string in the policy's currency. */
  limit?: string;
  /** What the insured pays first, decimal string in the policy's currency. */
  deductible?: string;
}

/**
 * An insurance policy.
 *
 * @example
 * ```ts
 * import type { InsurancePolicy } from "@passage/connect/results";
 * const summary = (policy: InsurancePolicy) =>
 *   `${policy.type} policy …${policy.policyNumberLast4}: ${policy.premium} ${policy.currency} ` +
 *   `${policy.premiumFrequency}, until ${policy.expirationDate}`;
 * ```
 */
export interface InsurancePolicy {
  /** The last four characters of the policy number. */
  policyNumberLast4: string;
  /** What the policy insures. */
  type: PolicyType;
  /** Where the policy is in its life. */
  status: PolicyStatus;
  /** First day of cover (`YYYY-MM-DD`). */
  effectiveDate: string;
  /** Last day of the current term (`YYYY-MM-DD`). */
  expirationDate: string;
  /** What is charged each `premiumFrequency`, decimal string. */
  premium: string;
  /** How often `premium` is charged. */
  premiumFrequency: PremiumFrequency;
  /** ISO 4217 code of the premium, limits and deductibles. */
  currency: string;
  /** The named insured. */
  insuredName: string;
  /** What the policy covers. */
  coverages: Coverage[];
}

/**
 * The result of `insurancePolicy:read`.
 *
 * @example
 * ```ts
 * import type { InsurancePolicies } from "@passage/connect/results";
 * const active = (result: InsurancePolicies) =>
 *   result.policies.filter((policy) => policy.status === "active");
 * ```
 */
export interface InsurancePolicies {
  /** Every policy on the account. */
  policies: InsurancePolicy[];
}

const POLICY_TYPES = [
  "auto",
  "motorcycle",
  "home",
  "renters",
  "condo",
  "umbrella",
  "life",
  "health",
  "pet",
  "other",
] as const satisfies readonly PolicyType[];

const policySchema = z.strictObject({
  policyNumberLast4: z.string().regex(/^[A-Za-z0-9]{4}$/, "Expected 4 letters or digits"),
  type: z.enum(POLICY_TYPES),
  status: z.enum(["active", "pending", "cancelled", "expired"]),
  effectiveDate: dateSchema,
  expirationDate: dateSchema,
  premium: amountSchema,
  premiumFrequency: z.enum(["monthly", "quarterly", "semiannual", "annual"]),
  currency: currencySchema,
  insuredName: text(200),
  coverages: z.array(z.strictObject({
    name: text(200),
    limit: amountSchema.optional(),
    deductible: amountSchema.optional(),
  })).max(100),
}).superRefine((p, ctx) => {
  checkOrder(
    ctx,
    p.effectiveDate,
    p.expirationDate,
    ["expirationDate"],
    "expirationDate is before effectiveDate",
  );
  checkDecimals(ctx, p.currency, [
    [["premium"], p.premium],
    ...p.coverages.flatMap((c, i): Array<[PropertyKey[], string | undefined]> => [
      [["coverages", i, "limit"], c.limit],
      [["coverages", i, "deductible"], c.deductible],
    ]),
  ]);
});

/**
 * Checks an `insurancePolicy:read` result.
 *
 * @example
 * ```ts
 * import { insurancePoliciesSchema } from "@passage/connect/results";
 * const check = (value: unknown) => insurancePoliciesSchema.parse(value).policies.length;
 * ```
 */
export const insurancePoliciesSchema: Schema<InsurancePolicies> = z.strictObject({
  policies: z.array(policySchema).max(100),
});

// ------------------------------------------------------------ account ownership

/**
 * The result of `accountOwnership:verify`.
 *
 * @example
 * ```ts
 * import type { AccountOwnership } from "@passage/connect/results";
 * const holds = (owner: AccountOwnership, name: string) =>
 *   owner.verified && owner.accountHolderName.toLowerCase() === name.toLowerCase();
 * ```
 */
export interface AccountOwnership {
  /** True when the user logged in to the account on their device and its holder was read. */
  verified: boolean;
  /** The account holder's name as the provider shows it. */
  accountHolderName: string;
  /** The account's email, masked: `"a***@example.com"`. */
  emailMasked?: string;
  /** The account's phone number, masked, at most its last 4 digits shown: `"•••-•••-0147"`. */
  phoneMasked?: string;
  /** When the account was opened (`YYYY-MM-DD`). */
  accountCreatedAt?: string;
}

/** Characters that hide part of an email. */
const EMAIL_MASK = /[*•]/;
/** Characters that hide digits of a phone number (`xxx-xxx-0147` too). */
const PHONE_MASK = /[*•xX]/;

/**
 * Checks an `accountOwnership:verify` result. Emails and phone numbers must
 * be masked: an email's local part must hide characters, and a phone number
 * may show at most 4 digits (besides a leading `+` country code).
 *
 * @example
 * ```ts
 * import { accountOwnershipSchema } from "@passage/connect/results";
 * accountOwnershipSchema.parse({ verified: true, accountHolderName: "Alex Rivera", emailMasked: "a***@example.com" });
 * accountOwnershipSchema.safeParse({ verified: true, accountHolderName: "A", emailMasked: "alex@example.com" }).success; // false
 * ```
 */
export const accountOwnershipSchema: Schema<AccountOwnership> = z.strictObject({
  verified: z.boolean(),
  accountHolderName: text(200),
  emailMasked: z.string().max(254).refine(
    (e) => /^[^@\s]+@[^@\s]+$/.test(e) && EMAIL_MASK.test(e.split("@")[0]),
    "Expected a masked email such as a***@example.com",
  ).optional(),
  phoneMasked: z.string().max(40).refine(
    (p) => PHONE_MASK.test(p) && (p.replace(/^\+\d{1,3}/, "").match(/\d/g) ?? []).length <= 4,
    "Expected a masked phone number showing at most 4 digits",
  ).optional(),
  accountCreatedAt: dateSchema.optional(),
});

// ------------------------------------------------------------ by operation

/**
 * What declares an operation: the words the user is asked with, and its
 * result's schema.
 *
 * @example
 * ```ts
 * import {
 *   type OperationDeclaration,
 *   OPERATIONS,
 *   type PaymentMethods,
 * } from "@passage/connect/results";
 * const declaration: OperationDeclaration<PaymentMethods> = OPERATIONS["paymentMethod:read"];
 * declaration.label; // "the payment methods saved on your account (never full card numbers)"
 * declaration.schema.parse({ paymentMethods: [] }); // a PaymentMethods
 * ```
 */
export interface OperationDeclaration<T> {
  /** What the operation reads, in words a user understands: `"your latest phone bill"`. */
  label: string;
  /** Checks the operation's result. */
  schema: Schema<T>;
}

/**
 * The result type of each operation: a new operation is declared here, by
 * its name and result type, and given its label and schema in `OPERATIONS`
 * (the compiler refuses one without the other). The webhook's `results`
 * object maps each requested operation type to one of these.
 *
 * @example
 * ```ts
 * import type { OperationResults } from "@passage/connect/results";
 * type Bill = OperationResults["mobileBillingStatement:read"]; // a MobileBillingStatement
 * const due = (bill: Bill) => bill.amountDue;
 * ```
 */
export interface OperationResults {
  /** The latest phone bill. */
  "mobileBillingStatement:read": MobileBillingStatement;
  /** The latest utility bill. */
  "utilityBillingStatement:read": UtilityBillingStatement;
  /** The saved payment methods. */
  "paymentMethod:read": PaymentMethods;
  /** The order history. */
  "orderHistory:read": OrderHistory;
  /** The insurance policies. */
  "insurancePolicy:read": InsurancePolicies;
  /** Proof that the user holds the account. */
  "accountOwnership:verify": AccountOwnership;
}

/**
 * One operation type, such as `"mobileBillingStatement:read"`.
 *
 * @example
 * ```ts
 * import { OPERATION_TYPES, type OperationType } from "@passage/connect/results";
 * const isOperationType = (value: string): value is OperationType =>
 *   (OPERATION_TYPES as readonly string[]).includes(value);
 * isOperationType("orderHistory:read"); // true
 * ```
 */
export type OperationType = keyof OperationResults;

/**
 * Every operation's label and result schema. `OPERATION_TYPES`,
 * `resultSchemas`, `OPERATION_LABELS` (which the claim page shows) and the
 * provider catalog follow from it.
 *
 * @example
 * ```ts
 * import { OPERATIONS } from "@passage/connect/results";
 * OPERATIONS["orderHistory:read"].label; // "your order history"
 * ```
 */
export const OPERATIONS: { [K in OperationType]: OperationDeclaration<OperationResults[K]> } = {
  "mobileBillingStatement:read": {
    label: "your latest phone bill",
    schema: mobileBillingStatementSchema,
  },
  "utilityBillingStatement:read": {
    label: "your latest utility bill",
    schema: utilityBillingStatementSchema,
  },
  "paymentMethod:read": {
    label: "the payment methods saved on your account (never full card numbers)",
    schema: paymentMethodsSchema,
  },
  "orderHistory:read": { label: "your order history", schema: orderHistorySchema },
  "insurancePolicy:read": {
    label: "your insurance policy details",
    schema: insurancePoliciesSchema,
  },
  "accountOwnership:verify": {
    label: "that you own this account",
    schema: accountOwnershipSchema,
  },
};

/**
 * Every operation type a link may request, in the order of `OPERATIONS`.
 *
 * @example
 * ```ts
 * import { OPERATION_TYPES } from "@passage/connect/results";
 * OPERATION_TYPES.includes("paymentMethod:read"); // true
 * ```
 */
export const OPERATION_TYPES: readonly [OperationType, ...OperationType[]] = Object.keys(
  OPERATIONS,
) as [OperationType, ...OperationType[]];

/**
 * The schema of each operation's result.
 *
 * @example
 * ```ts
 * import { resultSchemas } from "@passage/connect/results";
 * const owner = resultSchemas["accountOwnership:verify"].parse({
 *   verified: true,
 *   accountHolderName: "Alex Rivera",
 * });
 * ```
 */
export const resultSchemas: { [K in OperationType]: Schema<OperationResults[K]> } = Object
  .fromEntries(
    OPERATION_TYPES.map((type) => [type, OPERATIONS[type].schema]),
  ) as { [K in OperationType]: Schema<OperationResults[K]> };

/**
 * What each operation reads, in words a user understands (the claim page
 * lists them).
 *
 * @example
 * ```ts
 * import { OPERATION_LABELS } from "@passage/connect/results";
 * OPERATION_LABELS["orderHistory:read"]; // "your order history"
 * ```
 */
export const OPERATION_LABELS: { [K in OperationType]: string } = Object.fromEntries(
  OPERATION_TYPES.map((type) => [type, OPERATIONS[type].label]),
) as { [K in OperationType]: string };
