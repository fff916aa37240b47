/**
 * PG&E: the latest statement from the JSON its billing page loads (dollars as
 * floats, turned into exact decimal strings), payment methods and the account
 * from its JSON APIs.
 *
 * @module
 */
import { z } from "zod";
import type { LineItemCategory } from "@passage/connect/results";
import { bankAccount, card, dollarsToAmount, isoDatePart, lastFour } from "../../_parse.ts";
import { checkedResult, fetchJson, readPageJson, verifyAccount } from "../../_read.ts";
import type { Readers } from "../../define.ts";

const dollars = z.number();

const statementSchema = z.object({
  accountNumber: z.string(),
  statementDate: z.string(),
  servicePeriod: z.object({ from: z.string(), to: z.string() }),
  dueDate: z.string(),
  amounts: z.object({
    previousBalance: dollars,
    paymentsReceived: dollars,
    totalAmountDue: dollars,
  }),
  autoPay: z.boolean(),
  serviceAddress: z.object({
    line1: z.string(),
    city: z.string(),
    state: z.string(),
    zip: z.string(),
  }).optional(),
  usage: z.object({ electric: z.object({ kwh: z.number().nonnegative() }).optional() }).optional(),
  charges: z.array(z.object({ description: z.string(), amount: dollars, kind: z.string() })),
});

const paymentMethodsSchema = z.object({
  items: z.array(z.discriminatedUnion("method", [
    z.object({
      method: z.literal("BANK_ACCOUNT"),
      institution: z.string(),
      last4: z.string(),
      primary: z.boolean(),
    }),
    z.object({
      method: z.literal("CARD"),
      brand: z.string(),
      last4: z.string(),
      expMonth: z.int(),
      expYear: z.int(),
      primary: z.boolean(),
    }),
  ])),
});

const accountSchema = z.object({
  person: z.object({
    fullName: z.string(),
    email: z.string().optional(),
    phone: z.string().optional(),
  }),
  enrolledOn: z.string(),
});

const CATEGORIES: Record<string, LineItemCategory> = {
  GENERATION: "usage",
  DELIVERY: "service",
  PROGRAMS: "fee",
  TAXES: "tax",
  CREDIT: "credit",
};

/** PG&E's readers, one per operation. */
export default {
  async "utilityBillingStatement:read"(ctx) {
    const s = await readPageJson(
      ctx,
      { pagePath: "/billing", apiPath: "/api/billing/statements/latest", what: "statement" },
      statementSchema,
    );
    const address = s.serviceAddress;
    const kwh = s.usage?.electric?.kwh;
    return checkedResult("utilityBillingStatement:read", {
      accountNumberLast4: lastFour(s.accountNumber, "the account number"),
      statementDate: isoDatePart(s.statementDate, "the statement date"),
      periodStart: isoDatePart(s.servicePeriod.from, "the service period start"),
      periodEnd: isoDatePart(s.servicePeriod.to, "the service period end"),
      dueDate: isoDatePart(s.dueDate, "the due date"),
      amountDue: dollarsToAmount(s.amounts.totalAmountDue, "the amount due"),
      previousBalance: dollarsToAmount(s.amounts.previousBalance, "the previous balance"),
      paymentsReceived: dollarsToAmount(s.amounts.paymentsReceived, "the payments"),
      currency: "USD",
      autopay: s.autoPay,
      lineItems: s.charges.map((c) => ({
        description: c.description,
        amount: dollarsToAmount(c.amount, "a charge"),
        category: CATEGORIES[c.kind] ?? "other",
      })),
      ...(address
        ? {
          serviceAddress: `${address.line1}, ${address.city}, ${address.state} ${address.zip}`,
        }
        : {}),
      ...(kwh !== undefined ? { usage: { quantity: String(kwh), unit: "kWh" } } : {}),
    });
  },

  async "paymentMethod:read"(ctx) {
    const { items } = await fetchJson(
      ctx,
      "/api/payment-methods",
      paymentMethodsSchema,
      "payment methods",
    );
    return checkedResult("paymentMethod:read", {
      paymentMethods: items.map((m) =>
        m.method === "CARD"
          ? card({
            brand: m.brand,
            number: m.last4,
            expiry: { expMonth: m.expMonth, expYear: m.expYear },
            isDefault: m.primary,
          })
          : bankAccount({ bankName: m.institution, number: m.last4, isDefault: m.primary })
      ),
    });
  },

  "accountOwnership:verify": verifyAccount(accountSchema, ({ person, enrolledOn }) => ({
    name: person.fullName,
    email: person.email,
    phone: person.phone,
    since: isoDatePart(enrolledOn, "the enrolment date"),
  })),
} satisfies Readers;
