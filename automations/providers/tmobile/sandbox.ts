/**
 * The T-Mobile sandbox: an account whose pages load JSON (`/api/account`,
 * `/api/billing/current`, `/api/payment-methods`) in cents, as an SPA would.
 *
 * @module
 */
import type { SandboxSite, SandboxUser } from "../../sandbox/_site.ts";

const account = (user: SandboxUser) =>
  user === "good"
    ? {
      accountId: "TMO-88121-0457",
      status: "ACTIVE",
      memberSince: "2019-06-14",
      customer: {
        firstName: "Alex",
        lastName: "Rivera",
        email: "alex.rivera@example.com",
        msisdn: "+12065550147",
      },
    }
    // the redesigned API: one `profile`, no `customer`
    : { id: "TMO-88121-0457", profile: { displayName: "Alex R." }, state: 1 };

const bill = (user: SandboxUser) =>
  user === "good"
    ? {
      accountNumber: "****0457",
      statementDate: "2025-03-01",
      billCycle: { start: "2025-02-01", end: "2025-02-28" },
      dueDate: "2025-03-22",
      currency: "USD",
      autoPay: { enrolled: true, method: "VISA-4242" },
      balance: { previousCents: 13820, paymentsCents: 13820, totalDueCents: 14250 },
      charges: [
        { label: "Go5G Plus (2 lines)", amountCents: 13000, type: "PLAN" },
        { label: "AutoPay discount", amountCents: -1000, type: "DISCOUNT" },
        { label: "Device payment: Pixel 9 (4 of 24)", amountCents: 1300, type: "EQUIPMENT" },
        { label: "Taxes & fees", amountCents: 950, type: "TAXES_FEES" },
      ],
    }
    : {
      version: 2,
      bills: [{ summary: { amountDue: { value: "142.50", currency: "USD" } }, lines: [] }],
    };

const paymentMethods = (user: SandboxUser) =>
  user === "good"
    ? {
      methods: [
        {
          kind: "CARD",
          network: "VISA",
          maskedNumber: "************4242",
          expiry: "08/2027",
          nameOnCard: "ALEX RIVERA",
          isDefault: true,
        },
        { kind: "BANK", bankName: "Chase", accountMask: "******6789", isDefault: false },
      ],
    }
    : { wallet: { cards: [{ display: "Visa ending 4242" }] } };

/** T-Mobile's sandbox site. */
const site: SandboxSite = {
  color: "#e20074",
  nav: [["/bill", "Bill"], ["/payments", "Payments"]],
  account,
  routes(site) {
    site.api("/api/billing/current", bill);
    site.api("/api/payment-methods", paymentMethods);
    site.jsonPage("/bill", "Your bill", "/api/billing/current");
    site.jsonPage("/payments", "Payment methods", "/api/payment-methods");
  },
};

export default site;
