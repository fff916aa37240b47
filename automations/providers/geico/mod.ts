/**
 * GEICO: policies parsed with linkedom from the server-rendered policies page;
 * the account from its JSON API.
 *
 * The provider as data: its names, origins, login and operations. Its
 * readers (`readers.ts`) and sandbox site (`sandbox.ts`) load only where they
 * run.
 *
 * @module
 */
import { defineProvider } from "../../define.ts";

export default defineProvider({
  id: "geico",
  displayName: "GEICO",
  liveUrl: "https://ecams.geico.com",
  origins: ["https://ecams.geico.com", "https://www.geico.com"],
  loginAttempts: 3,
  login: {},
  operations: ["insurancePolicy:read", "accountOwnership:verify"],
  readers: () => import("./readers.ts"),
  sandbox: () => import("./sandbox.ts"),
});
