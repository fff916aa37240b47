/**
 * Verizon: the bill page is server-rendered HTML only, so the bill is parsed
 * from it with linkedom; the wallet and account come from JSON APIs.
 *
 * @module
 */
import { z } from "zod";
import type { LineItemCategory } from "@passage/connect/results";
import { card, lastFour, longDate, moneyText, usDate } from "../../_parse.ts";
import { checkedResult, fetchJson, readPageHtml, textOf, verifyAccount } from "../../_read.ts";
import { AutomationError } from "../../types.ts";
import type { Readers } from "../../define.ts";

const accountSchema = z.object({
  accountHolder: z.object({ name: z.string() }),
  contact: z.object({
    emailAddress: z.string().optional(),
    mobileNumber: z.string().optional(),
  }),
  customerSince: z.string(),
});

const walletSchema = z.object({
  paymentMethods: z.array(z.object({
    type: z.enum(["credit", "debit"]),
    cardType: z.string(),
    lastFour: z.string(),
    expirationDate: z.string(),
    default: z.boolean(),
  })),
});

const CATEGORIES: Record<string, LineItemCategory> = {
  plan: "service",
  plans: "service",
  devices: "equipment",
  device: "equipment",
  usage: "usage",
  discounts: "discount",
  credits: "credit",
  fees: "fee",
  taxes: "tax",
};

/** Verizon's readers, one per operation. */
export default {
  async "mobileBillingStatement:read"(ctx) {
    const page = await readPageHtml(ctx, "/bill", "main", "the bill");
    const field = (name: string) => textOf(page, `[data-field="${name}"]`, `the ${name}`);
    const period = field("period").split(/\s+[–-]\s+/);
    if (period.length !== 2) {
      throw new AutomationError("site_changed", "The billing period is no longer a date range");
    }
    const autopay = field("autopay").toLowerCase();
    if (autopay !== "on" && autopay !== "off") {
      throw new AutomationError("site_changed", "Auto Pay is no longer shown as On or Off");
    }
    const payments = moneyText(field("payments"), "the payments");
    const rows = [...page.querySelectorAll("#charges tbody tr")];
    const account = page.querySelector("[data-account]")?.getAttribute("data-account");
    return checkedResult("mobileBillingStatement:read", {
      ...(account ? { accountNumberLast4: lastFour(account, "the account number") } : {}),
      statementDate: longDate(field("bill-date"), "the bill date"),
      periodStart: longDate(period[0], "the period start"),
      periodEnd: longDate(period[1], "the period end"),
      dueDate: longDate(field("due-date"), "the due date"),
      amountDue: moneyText(field("total-due"), "the total due"),
      previousBalance: moneyText(field("previous-balance"), "the previous balance"),
      // shown as a credit (-$96.40); reported as the positive amount paid
      paymentsReceived: payments.replace(/^-/, ""),
      currency: "USD",
      autopay: autopay === "on",
      lineItems: rows.map((row) => ({
        description: textOf(row, ".desc", "a charge's description"),
        amount: moneyText(textOf(row, ".amt", "a charge's amount"), "a charge"),
        category: CATEGORIES[textOf(row, ".cat", "a charge's type").toLowerCase()] ?? "other",
      })),
    });
  },

  async "paymentMethod:read"(ctx) {
    const wallet = await fetchJson(ctx, "/api/wallet", walletSchema, "wallet");
    return checkedResult("paymentMethod:read", {
      paymentMethods: wallet.paymentMethods.map((m) =>
        card({
          brand: m.cardType,
          number: m.lastFour,
          expiry: m.expirationDate,
          isDefault: m.default,
        })
      ),
    });
  },

  "accountOwnership:verify": verifyAccount(accountSchema, (account) => ({
    name: account.accountHolder.name,
    email: account.contact.emailAddress,
    phone: account.contact.mobileNumber,
    since: usDate(account.customerSince, "the customer-since date"),
  })),
} satisfies Readers;
