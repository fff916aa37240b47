/**
 * DoorDash: orders from the JSON its orders page loads; saved cards parsed
 * with linkedom from the payment page, which only renders HTML; the account
 * from its JSON API.
 *
 * @module
 */
import { z } from "zod";
import type { OrderStatus } from "@passage/connect/results";
import { card, centsToAmount, isoDatePart } from "../../_parse.ts";
import { checkedResult, readPageHtml, readPageJson, textOf, verifyAccount } from "../../_read.ts";
import { AutomationError } from "../../types.ts";
import type { Readers } from "../../define.ts";

const ordersSchema = z.object({
  orders: z.array(z.object({
    order_uuid: z.string(),
    created_at: z.string(),
    store: z.object({ name: z.string() }),
    status: z.string(),
    grand_total: z.object({ unit_amount: z.int(), currency: z.string() }),
    items: z.array(z.object({ name: z.string(), quantity: z.int(), unit_price: z.int() })),
  })),
});

const accountSchema = z.object({
  consumer: z.object({
    first_name: z.string(),
    last_name: z.string(),
    email: z.string().optional(),
    phone_number: z.string().optional(),
  }),
  created_at: z.string(),
});

const STATUSES: Record<string, OrderStatus> = {
  CREATED: "pending",
  CONFIRMED: "processing",
  PICKED_UP: "shipped",
  DELIVERED: "delivered",
  CANCELLED: "cancelled",
  REFUNDED: "refunded",
};

/** DoorDash's readers, one per operation. */
export default {
  async "orderHistory:read"(ctx) {
    const { orders } = await readPageJson(
      ctx,
      { pagePath: "/orders", apiPath: "/api/orders", what: "orders" },
      ordersSchema,
    );
    return checkedResult("orderHistory:read", {
      orders: orders.map((o) => {
        const status = STATUSES[o.status];
        if (!status) {
          throw new AutomationError("site_changed", `Unknown order status "${o.status}"`);
        }
        return {
          id: o.order_uuid,
          placedAt: o.created_at,
          status,
          total: centsToAmount(o.grand_total.unit_amount, "an order total"),
          currency: o.grand_total.currency,
          merchant: o.store.name,
          items: o.items.map((item) => ({
            name: item.name,
            quantity: item.quantity,
            unitPrice: centsToAmount(item.unit_price, "an item price"),
          })),
        };
      }),
    });
  },

  async "paymentMethod:read"(ctx) {
    const page = await readPageHtml(ctx, "/account/payment", "main", "the saved cards");
    const cards = [...page.querySelectorAll("#payment-methods .payment-method")];
    if (cards.length === 0 && !page.querySelector("#payment-methods .empty")) {
      throw new AutomationError("site_changed", "The payment page no longer lists cards");
    }
    return checkedResult("paymentMethod:read", {
      paymentMethods: cards.map((shown) =>
        card({
          brand: textOf(shown, ".brand", "a card's brand"),
          number: textOf(shown, ".mask", "a card's number"),
          expiry: textOf(shown, ".exp", "a card's expiry").replace(/^Exp\s*/i, ""),
          isDefault: shown.getAttribute("data-default") === "true",
        })
      ),
    });
  },

  "accountOwnership:verify": verifyAccount(accountSchema, ({ consumer, created_at }) => ({
    name: `${consumer.first_name} ${consumer.last_name}`,
    email: consumer.email,
    phone: consumer.phone_number,
    since: isoDatePart(created_at, "the sign-up date"),
  })),
} satisfies Readers;
