/**
 * `revokedCredentials`: of some credentials (`credentials.ts`), those no
 * longer good, in one batched check per kind: API keys revoked or gone,
 * console sessions signed out or expired, members no longer in the account.
 * The relay runs it periodically over every credential its sockets and
 * streams are held to, which is how a revocation made in another process
 * (or an expiry, which nobody announces) reaches them.
 */
import { revokedMemberCredentials } from "./accounts.ts";
import { revokedKeyIds } from "./api_keys.ts";
import { revokedConsoleSessions } from "./auth/console_sessions.ts";
import { parseCredential } from "./credentials.ts";

/** Of `credentials`, those that are revoked, expired or gone. */
export async function revokedCredentials(
  kv: Deno.Kv,
  credentials: Iterable<string>,
): Promise<Set<string>> {
  const keys: string[] = [];
  const sessions: Array<{ credential: string; idHash: string }> = [];
  const members: Array<{ credential: string; accountId: string; email: string }> = [];
  for (const credential of new Set(credentials)) {
    const parsed = parseCredential(credential);
    if (parsed.kind === "api_key") keys.push(parsed.keyId);
    else if (parsed.kind === "console_session") sessions.push({ credential, ...parsed });
    else members.push({ credential, ...parsed });
  }
  const [a, b, c] = await Promise.all([
    keys.length ? revokedKeyIds(kv, keys) : new Set<string>(),
    sessions.length ? revokedConsoleSessions(kv, sessions) : new Set<string>(),
    members.length ? revokedMemberCredentials(kv, members) : new Set<string>(),
  ]);
  return new Set([...a, ...b, ...c]);
}
