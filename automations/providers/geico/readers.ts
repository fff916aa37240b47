/**
 * GEICO: policies parsed with linkedom from the server-rendered policies page;
 * the account from its JSON API.
 *
 * @module
 */
import { z } from "zod";
import type {
  Coverage,
  PolicyStatus,
  PolicyType,
  PremiumFrequency,
} from "@passage/connect/results";
import { isoDatePart, lastFour, moneyText, usDate } from "../../_parse.ts";
import {
  checkedResult,
  type HtmlElement,
  readPageHtml,
  textOf,
  verifyAccount,
} from "../../_read.ts";
import { AutomationError } from "../../types.ts";
import type { Readers } from "../../define.ts";

const accountSchema = z.object({
  policyholder: z.object({
    name: z.object({ first: z.string(), last: z.string() }),
    email: z.string().optional(),
    phone: z.string().optional(),
  }),
  customerSince: z.string(),
});

const TYPES: Record<string, PolicyType> = {
  auto: "auto",
  motorcycle: "motorcycle",
  homeowners: "home",
  home: "home",
  renters: "renters",
  condo: "condo",
  umbrella: "umbrella",
  life: "life",
  pet: "pet",
};

const STATUSES: Record<string, PolicyStatus> = {
  active: "active",
  pending: "pending",
  "pending renewal": "active",
  cancelled: "cancelled",
  canceled: "cancelled",
  expired: "expired",
  lapsed: "expired",
};

const FREQUENCIES: Record<string, PremiumFrequency> = {
  month: "monthly",
  "3 months": "quarterly",
  "6 months": "semiannual",
  year: "annual",
  "12 months": "annual",
};

/** `"$100,000 / $300,000"` is per person / per accident; a non-amount limit is left out. */
function coverages(row: HtmlElement): Coverage[] {
  const name = textOf(row, ".name", "a coverage's name");
  const limitText = textOf(row, ".limit", "a coverage's limit");
  const deductibleText = textOf(row, ".deductible", "a coverage's deductible");
  const deductible = deductibleText.startsWith("$")
    ? { deductible: moneyText(deductibleText, "a deductible") }
    : {};
  const limits = limitText.split(/\s*\/\s*/);
  if (limits.length === 2 && limits.every((l) => l.startsWith("$"))) {
    return [
      { name: `${name} (per person)`, limit: moneyText(limits[0], "a limit"), ...deductible },
      { name: `${name} (per accident)`, limit: moneyText(limits[1], "a limit"), ...deductible },
    ];
  }
  return [{
    name,
    ...(limitText.startsWith("$") ? { limit: moneyText(limitText, "a limit") } : {}),
    ...deductible,
  }];
}

/** GEICO's readers, one per operation. */
export default {
  async "insurancePolicy:read"(ctx) {
    const page = await readPageHtml(ctx, "/policies", "main", "the policies");
    const articles = [...page.querySelectorAll("article.policy")];
    if (articles.length === 0) {
      throw new AutomationError("site_changed", "The policies page no longer lists policies");
    }
    return checkedResult("insurancePolicy:read", {
      policies: articles.map((policy) => {
        const title = textOf(policy, ".policy-title", "a policy's title");
        const type = TYPES[title.replace(/\s*policy$/i, "").toLowerCase()] ?? "other";
        const statusText = textOf(policy, ".status", "a policy's status").toLowerCase();
        const status = STATUSES[statusText];
        if (!status) {
          throw new AutomationError("site_changed", `Unknown policy status "${statusText}"`);
        }
        const period = textOf(policy, ".period", "a policy's period").split(/\s+-\s+/);
        if (period.length !== 2) {
          throw new AutomationError("site_changed", "A policy period is no longer a date range");
        }
        const [premiumText, per] = textOf(policy, ".premium", "a premium").split(/\s*\/\s*/);
        const premiumFrequency = FREQUENCIES[per?.toLowerCase() ?? ""];
        if (!premiumFrequency) {
          throw new AutomationError("site_changed", `Unknown premium period "${per}"`);
        }
        return {
          policyNumberLast4: lastFour(
            textOf(policy, ".number", "a policy number"),
            "a policy number",
          ),
          type,
          status,
          effectiveDate: usDate(period[0], "a policy's start"),
          expirationDate: usDate(period[1], "a policy's end"),
          premium: moneyText(premiumText, "a premium"),
          premiumFrequency,
          currency: "USD",
          insuredName: textOf(policy, ".insured", "the named insured"),
          coverages: [...policy.querySelectorAll(".coverages tbody tr")].flatMap(coverages),
        };
      }),
    });
  },

  "accountOwnership:verify": verifyAccount(accountSchema, ({ policyholder, customerSince }) => ({
    name: `${policyholder.name.first} ${policyholder.name.last}`,
    email: policyholder.email,
    phone: policyholder.phone,
    since: isoDatePart(customerSince, "the customer-since date"),
  })),
} satisfies Readers;
