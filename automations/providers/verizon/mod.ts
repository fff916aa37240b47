/**
 * Verizon: the bill page is server-rendered HTML only, so the bill is parsed
 * from it with linkedom; the wallet and account come from JSON APIs.
 *
 * The provider as data: its names, origins, login and operations. Its
 * readers (`readers.ts`) and sandbox site (`sandbox.ts`) load only where they
 * run.
 *
 * @module
 */
import { defineProvider } from "../../define.ts";

export default defineProvider({
  id: "verizon",
  displayName: "Verizon",
  liveUrl: "https://www.verizon.com/digital/nsa/secure/ui/acct",
  origins: ["https://www.verizon.com", "https://secure.verizon.com"],
  loginAttempts: 3,
  login: {},
  operations: ["mobileBillingStatement:read", "paymentMethod:read", "accountOwnership:verify"],
  readers: () => import("./readers.ts"),
  sandbox: () => import("./sandbox.ts"),
});
