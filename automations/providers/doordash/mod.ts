/**
 * DoorDash: orders from the JSON its orders page loads; saved cards parsed
 * with linkedom from the payment page, which only renders HTML; the account
 * from its JSON API.
 *
 * The provider as data: its names, origins, login and operations. Its
 * readers (`readers.ts`) and sandbox site (`sandbox.ts`) load only where they
 * run.
 *
 * @module
 */
import { defineProvider } from "../../define.ts";

export default defineProvider({
  id: "doordash",
  displayName: "DoorDash",
  liveUrl: "https://www.doordash.com",
  origins: ["https://www.doordash.com", "https://identity.doordash.com"],
  loginAttempts: 3,
  login: {},
  operations: ["orderHistory:read", "paymentMethod:read", "accountOwnership:verify"],
  readers: () => import("./readers.ts"),
  sandbox: () => import("./sandbox.ts"),
});
