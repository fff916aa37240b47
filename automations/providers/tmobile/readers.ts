/**
 * T-Mobile: the bill from the JSON its bill page loads, payment methods and
 * the account from its JSON APIs. Amounts arrive in cents.
 *
 * @module
 */
import { z } from "zod";
import type { LineItemCategory } from "@passage/connect/results";
import { bankAccount, card, centsToAmount, isoDatePart, lastFour } from "../../_parse.ts";
import { checkedResult, fetchJson, readPageJson, verifyAccount } from "../../_read.ts";
import type { Readers } from "../../define.ts";

const cents = z.int();

const accountSchema = z.object({
  accountId: z.string(),
  memberSince: z.string(),
  customer: z.object({
    firstName: z.string(),
    lastName: z.string(),
    email: z.string().optional(),
    msisdn: z.string().optional(),
  }),
});

const billSchema = z.object({
  accountNumber: z.string(),
  statementDate: z.string(),
  billCycle: z.object({ start: z.string(), end: z.string() }),
  dueDate: z.string(),
  currency: z.string(),
  autoPay: z.object({ enrolled: z.boolean() }),
  balance: z.object({ previousCents: cents, paymentsCents: cents, totalDueCents: cents }),
  charges: z.array(z.object({ label: z.string(), amountCents: cents, type: z.string() })),
});

const paymentMethodsSchema = z.object({
  methods: z.array(z.discriminatedUnion("kind", [
    z.object({
      kind: z.literal("CARD"),
      network: z.string(),
      maskedNumber: z.string(),
      expiry: z.string(),
      nameOnCard: z.string().optional(),
      isDefault: z.boolean(),
    }),
    z.object({
      kind: z.literal("BANK"),
      bankName: z.string(),
      accountMask: z.string(),
      isDefault: z.boolean(),
    }),
  ])),
});

const CATEGORIES: Record<string, LineItemCategory> = {
  PLAN: "service",
  ADDON: "service",
  USAGE: "usage",
  EQUIPMENT: "equipment",
  DISCOUNT: "discount",
  CREDIT: "credit",
  TAXES_FEES: "tax",
  FEE: "fee",
};

/** Turns ALEX RIVERA into Alex Rivera. */
const titleCase = (name: string) =>
  name.toLowerCase().replace(/(^|[\s'-])\p{L}/gu, (s) => s.toUpperCase());

/** T-Mobile's readers, one per operation. */
export default {
  async "mobileBillingStatement:read"(ctx) {
    const bill = await readPageJson(
      ctx,
      { pagePath: "/bill", apiPath: "/api/billing/current", what: "bill" },
      billSchema,
    );
    return checkedResult("mobileBillingStatement:read", {
      accountNumberLast4: lastFour(bill.accountNumber, "the account number"),
      statementDate: isoDatePart(bill.statementDate, "the statement date"),
      periodStart: isoDatePart(bill.billCycle.start, "the bill cycle start"),
      periodEnd: isoDatePart(bill.billCycle.end, "the bill cycle end"),
      dueDate: isoDatePart(bill.dueDate, "the due date"),
      amountDue: centsToAmount(bill.balance.totalDueCents, "the amount due"),
      previousBalance: centsToAmount(bill.balance.previousCents, "the previous balance"),
      paymentsReceived: centsToAmount(bill.balance.paymentsCents, "the payments"),
      currency: bill.currency,
      autopay: bill.autoPay.enrolled,
      lineItems: bill.charges.map((charge) => ({
        description: charge.label,
        amount: centsToAmount(charge.amountCents, "a charge"),
        category: CATEGORIES[charge.type] ?? "other",
      })),
    });
  },

  async "paymentMethod:read"(ctx) {
    const { methods } = await fetchJson(
      ctx,
      "/api/payment-methods",
      paymentMethodsSchema,
      "payment methods",
    );
    return checkedResult("paymentMethod:read", {
      paymentMethods: methods.map((m) =>
        m.kind === "CARD"
          ? card({
            brand: m.network,
            number: m.maskedNumber,
            expiry: m.expiry,
            holderName: m.nameOnCard && titleCase(m.nameOnCard),
            isDefault: m.isDefault,
          })
          : bankAccount({ bankName: m.bankName, number: m.accountMask, isDefault: m.isDefault })
      ),
    });
  },

  "accountOwnership:verify": verifyAccount(accountSchema, ({ customer, memberSince }) => ({
    name: `${customer.firstName} ${customer.lastName}`,
    email: customer.email,
    phone: customer.msisdn,
    since: isoDatePart(memberSince, "the member-since date"),
  })),
} satisfies Readers;
