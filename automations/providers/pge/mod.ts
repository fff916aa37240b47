/**
 * PG&E: the latest statement from the JSON its billing page loads (dollars as
 * floats, turned into exact decimal strings), payment methods and the account
 * from its JSON APIs.
 *
 * The provider as data: its names, origins, login and operations. Its
 * readers (`readers.ts`) and sandbox site (`sandbox.ts`) load only where they
 * run.
 *
 * @module
 */
import { defineProvider } from "../../define.ts";

export default defineProvider({
  id: "pge",
  displayName: "PG&E",
  liveUrl: "https://myaccount.pge.com",
  origins: ["https://myaccount.pge.com", "https://www.pge.com"],
  loginAttempts: 3,
  login: {},
  operations: ["utilityBillingStatement:read", "paymentMethod:read", "accountOwnership:verify"],
  readers: () => import("./readers.ts"),
  sandbox: () => import("./sandbox.ts"),
});
