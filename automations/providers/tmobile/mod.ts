/**
 * T-Mobile: the bill from the JSON its bill page loads, payment methods and
 * the account from its JSON APIs. Amounts arrive in cents.
 *
 * The provider as data: its names, origins, login and operations. Its
 * readers (`readers.ts`) and sandbox site (`sandbox.ts`) load only where they
 * run.
 *
 * @module
 */
import { defineProvider } from "../../define.ts";

export default defineProvider({
  id: "tmobile",
  displayName: "T-Mobile",
  liveUrl: "https://account.t-mobile.com",
  origins: ["https://account.t-mobile.com", "https://www.t-mobile.com"],
  loginAttempts: 3,
  login: {},
  operations: ["mobileBillingStatement:read", "paymentMethod:read", "accountOwnership:verify"],
  readers: () => import("./readers.ts"),
  sandbox: () => import("./sandbox.ts"),
});
