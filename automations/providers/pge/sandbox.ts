/**
 * The PG&E sandbox: a utility whose billing page loads its latest statement
 * as JSON, with amounts as floating-point dollars (as many sites send them).
 *
 * @module
 */
import type { SandboxSite, SandboxUser } from "../../sandbox/_site.ts";

const statement = (user: SandboxUser) =>
  user === "good"
    ? {
      accountNumber: "4471203958-6",
      statementDate: "2025-03-07",
      servicePeriod: { from: "2025-02-04", to: "2025-03-05" },
      dueDate: "2025-03-28",
      amounts: { previousBalance: 187.32, paymentsReceived: 187.32, totalAmountDue: 163.58 },
      autoPay: false,
      serviceAddress: {
        line1: "1450 Mission St Apt 4",
        city: "San Francisco",
        state: "CA",
        zip: "94103",
      },
      usage: { electric: { kwh: 412, days: 30 } },
      charges: [
        { description: "Electric generation", amount: 61.45, kind: "GENERATION" },
        { description: "Electric delivery", amount: 72.8, kind: "DELIVERY" },
        { description: "Public purpose programs", amount: 25.21, kind: "PROGRAMS" },
        { description: "Taxes and surcharges", amount: 4.12, kind: "TAXES" },
      ],
    }
    // the new billing service: a statement list with string totals
    : { statements: [{ id: "st_1", total: "163.58", issued: "03/07/2025" }] };

/** PG&E's sandbox site. */
const site: SandboxSite = {
  color: "#0b5fa5",
  nav: [["/billing", "Billing"], ["/payment-methods", "Payment methods"]],
  account: (user) =>
    user === "good"
      ? {
        person: {
          fullName: "Sam Patel",
          email: "sam.patel@example.org",
          phone: "510-555-0199",
        },
        enrolledOn: "2021-09-30T17:00:00Z",
      }
      : { name: "Sam Patel" },
  routes(site) {
    site.api("/api/billing/statements/latest", statement);
    site.api("/api/payment-methods", (user) =>
      user === "good"
        ? {
          items: [
            { method: "BANK_ACCOUNT", institution: "Wells Fargo", last4: "3391", primary: true },
            {
              method: "CARD",
              brand: "AMEX",
              last4: "1005",
              expMonth: 4,
              expYear: 2028,
              primary: false,
            },
          ],
        }
        : { items: [{ method: "WALLET", provider: "PayPal" }] });
    site.jsonPage("/billing", "Billing", "/api/billing/statements/latest");
    site.jsonPage("/payment-methods", "Payment methods", "/api/payment-methods");
  },
};

export default site;
