/**
 * Removing a member from an account ends everything they hold on it: their
 * place in the member list and their console streams on it
 * (`removeMember`), and every API key they created, whose requests then get
 * 401 and whose sockets and streams close (`revokeKeysCreatedBy`). A key is
 * a credential with the account's whole authority: one that outlived its
 * maker's removal would keep them in the account. Running it again finishes
 * what an interrupted run left (the removal is a no-op the second time).
 */
import { type AccountRecord, normalizeEmail, removeMember } from "./accounts.ts";
import { type ApiKeyInfo, revokeKeysCreatedBy } from "./api_keys.ts";

/** Removes `email` from `accountId` and revokes the keys they made there. */
export async function removeMemberAndTheirKeys(
  kv: Deno.Kv,
  accountId: string,
  email: string,
): Promise<{ account: AccountRecord; revoked: ApiKeyInfo[] }> {
  const account = await removeMember(kv, accountId, email);
  const revoked = await revokeKeysCreatedBy(kv, accountId, normalizeEmail(email));
  return { account, revoked };
}
