/**
 * The Verizon sandbox: the bill is a server-rendered page with no JSON behind
 * it (so the automation parses HTML); the wallet and account are JSON.
 *
 * @module
 */
import { html } from "hono/html";
import type { SandboxSite, SandboxUser } from "../../sandbox/_site.ts";

const CHARGES: Array<[string, string, string]> = [
  ["Unlimited Plus", "Plan", "$80.00"],
  ["Loyalty discount", "Discounts", "-$10.00"],
  ["Device payment: Galaxy S25 (7 of 36)", "Devices", "$16.67"],
  ["Surcharges & fees", "Fees", "$5.23"],
  ["Taxes & government fees", "Taxes", "$6.25"],
];

const billPage = (user: SandboxUser) =>
  user === "good"
    ? html`
      <section id="bill-summary" data-account="Account ending 8812">
        <dl>
          <dt>Bill date</dt>
          <dd data-field="bill-date">Mar 5, 2025</dd>
          <dt>Billing period</dt>
          <dd data-field="period">Feb 5, 2025 – Mar 4, 2025</dd>
          <dt>Due date</dt>
          <dd data-field="due-date">Mar 28, 2025</dd>
          <dt>Previous balance</dt>
          <dd data-field="previous-balance">$96.40</dd>
          <dt>Payments received</dt>
          <dd data-field="payments">-$96.40</dd>
          <dt>Total due</dt>
          <dd data-field="total-due">$98.15</dd>
          <dt>Auto Pay</dt>
          <dd data-field="autopay">Off</dd>
        </dl>
        <h2>Charges</h2>
        <table id="charges">
          <thead>
            <tr>
              <th>Description</th>
              <th>Type</th>
              <th>Amount</th>
            </tr>
          </thead>
          <tbody>${CHARGES.map(([desc, cat, amount]) =>
            html`
              <tr>
                <td class="desc">${desc}</td>
                <td class="cat">${cat}</td>
                <td class="amt">${amount}</td>
              </tr>
            `
          )}</tbody>
        </table>
      </section>
    `
    // the redesign: cards instead of a list, no data-field hooks
    : html`
      <section id="bill-summary">
        <div class="card">
          <h3>Your bill is ready</h3>
          <p class="big">$98.15</p>
          <p>Due March 28</p>
        </div>
        <div class="card">
          <p>Plan charges and more on the new My Verizon</p>
        </div>
      </section>
    `;

/** Verizon's sandbox site. */
const site: SandboxSite = {
  color: "#cd040b",
  nav: [["/bill", "Bill"], ["/wallet", "Wallet"]],
  account: (user) =>
    user === "good"
      ? {
        accountHolder: { name: "Jordan Lee" },
        contact: { emailAddress: "jordan.lee@example.net", mobileNumber: "(415) 555-0132" },
        customerSince: "05/02/2016",
      }
      : { holder: "Jordan Lee", since: 2016 },
  routes(site) {
    site.page("/bill", "Your bill", billPage);
    site.api("/api/wallet", (user) =>
      user === "good"
        ? {
          paymentMethods: [
            {
              type: "credit",
              cardType: "Mastercard",
              lastFour: "5454",
              expirationDate: "2026-11",
              default: true,
            },
          ],
        }
        : { items: [] });
    site.jsonPage("/wallet", "Wallet", "/api/wallet");
  },
};

export default site;
