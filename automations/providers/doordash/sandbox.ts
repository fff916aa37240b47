/**
 * The DoorDash sandbox: orders load as JSON (snake_case, amounts in cents);
 * saved cards are a server-rendered page only.
 *
 * @module
 */
import { html } from "hono/html";
import type { SandboxSite, SandboxUser } from "../../sandbox/_site.ts";

const orders = (user: SandboxUser) =>
  user === "good"
    ? {
      orders: [
        {
          order_uuid: "7c0e5b1e-4f1a-4d8e-9a57-2f1c3b9d0a11",
          created_at: "2025-03-02T01:14:09Z",
          store: { name: "Tartine Bakery" },
          status: "DELIVERED",
          grand_total: { unit_amount: 3487, currency: "USD", display_string: "$34.87" },
          items: [
            { name: "Morning bun", quantity: 2, unit_price: 575 },
            { name: "Country loaf", quantity: 1, unit_price: 1400 },
          ],
        },
        {
          order_uuid: "3f9d2a64-0b7c-4e55-8c1d-6a2b9e4f7c30",
          created_at: "2025-02-21T19:42:51Z",
          store: { name: "Burma Superstar" },
          status: "CANCELLED",
          grand_total: { unit_amount: 0, currency: "USD", display_string: "$0.00" },
          items: [{ name: "Tea leaf salad", quantity: 1, unit_price: 1895 }],
        },
        {
          order_uuid: "b2e41c07-95d3-4a3e-bf26-0d8c7a1e5f94",
          created_at: "2025-02-14T02:05:33Z",
          store: { name: "Souvla" },
          status: "DELIVERED",
          grand_total: { unit_amount: 5212, currency: "USD", display_string: "$52.12" },
          items: [
            { name: "Chicken salad", quantity: 2, unit_price: 1650 },
            { name: "Frozen Greek yogurt", quantity: 1, unit_price: 695 },
          ],
        },
      ],
    }
    // the new orders service: paged, totals as strings, no items
    : { data: [{ id: "7c0e5b1e", total: "$34.87" }], next_page: null };

const paymentPage = (user: SandboxUser) =>
  user === "good"
    ? html`
      <ul id="payment-methods">
        <li class="payment-method" data-default="true">
          <span class="brand">Visa</span> <span class="mask">•••• 4242</span>
          <span class="exp">Exp 09/27</span> <span class="tag">Default</span>
        </li>
        <li class="payment-method" data-default="false">
          <span class="brand">Mastercard</span> <span class="mask">•••• 4444</span>
          <span class="exp">Exp 01/29</span>
        </li>
      </ul>
    `
    : html`
      <div id="payment-methods">
        <p>Manage your cards in the new DoorDash wallet.</p>
      </div>
    `;

/** DoorDash's sandbox site. */
const site: SandboxSite = {
  color: "#eb1700",
  nav: [["/orders", "Orders"], ["/account/payment", "Payment"]],
  account: (user) =>
    user === "good"
      ? {
        consumer: {
          first_name: "Riley",
          last_name: "Chen",
          email: "riley.chen@example.com",
          phone_number: "+14155550188",
        },
        created_at: "2020-01-17T22:10:00Z",
      }
      : { user: { name: "Riley" } },
  routes(site) {
    site.api("/api/orders", orders);
    site.jsonPage("/orders", "Orders", "/api/orders");
    site.page("/account/payment", "Payment", paymentPage);
  },
};

export default site;
