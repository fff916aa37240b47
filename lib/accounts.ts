/**
 * Accounts: what owns API keys, links, sessions and webhook events. An account
 * has members (by email, who sign in to the console), each an `admin` or a
 * `member`, an app name and a logo for the claim page, and test and live keys.
 * Rotating a key changes nothing the account owns. Admins manage members, the
 * logo and the webhook signing keys; the account's first member is its first
 * admin.
 */
import { z } from "zod";
import { PassageError } from "./errors.ts";
import { newId } from "./ids.ts";
import { accountByMemberKey, accountByMemberPrefix, accountKey } from "./kv_keys.ts";

/** An account as stored in KV. */
export interface AccountRecord {
  id: string;
  name: string;
  /** Shown on claim pages for links and sessions created without `appName`; null: the server's default. */
  appName: string | null;
  /** The app's logo, uploaded in the console and served from `/logos/{id}`; null: none. */
  logo: AccountLogo | null;
  /** Members' emails, lower case, who may sign in to the console for this account. */
  members: string[];
  /**
   * The members who are admins. Absent on records from before roles: then the
   * first member is the admin, as the creator of an account is.
   */
  admins?: string[];
  createdAt: string;
  updatedAt: string;
}

/** An uploaded logo, as the account refers to it (the bytes are in `lib/account_logos.ts`). */
export interface AccountLogo {
  /** Content-derived: a new image gets a new id, so its URL can be cached for ever. */
  id: string;
  type: "image/png" | "image/jpeg" | "image/webp";
  bytes: number;
}

/** What a member can be. */
export type MemberRole = "admin" | "member";

/** What an admin may change on an account. */
export const accountSettingsSchema = z.strictObject({
  name: z.string().trim().min(1).max(80),
  appName: z.string().trim().max(80).transform((v) => v || null),
});

/** The role of `email` in `account`, or null for someone who is not a member. */
export function roleOf(account: AccountRecord, email: string): MemberRole | null {
  const member = normalizeEmail(email);
  if (!account.members.includes(member)) return null;
  return adminsOf(account).includes(member) ? "admin" : "member";
}

/** The account's admins (on a record from before roles: its first member). */
export function adminsOf(account: AccountRecord): string[] {
  return account.admins ?? account.members.slice(0, 1);
}

/** Throws the 403 a member who is not an admin gets for `what`. */
export function requireAdmin(account: AccountRecord, email: string, what: string): void {
  if (roleOf(account, email) === "admin") return;
  throw new PassageError(
    "admin_required",
    `Only an admin of the account “${account.name}” can ${what}; ask ${
      adminsOf(account).join(" or ") || "one"
    }`,
  );
}

/** Normalises an email for comparison and indexing. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Adds the writes that store a new account and its member index to `op`. */
export function writeNewAccount(op: Deno.AtomicOperation, record: AccountRecord): void {
  op.check({ key: accountKey(record.id), versionstamp: null }).set(accountKey(record.id), record);
  for (const email of record.members) op.set(accountByMemberKey(email, record.id), record.id);
}

/** A new account record (not yet stored). */
export function newAccountRecord(
  options: { name: string; members?: string[]; appName?: string | null },
): AccountRecord {
  const now = new Date().toISOString();
  const members = [...new Set((options.members ?? []).map(normalizeEmail))];
  return {
    id: newId("acct"),
    name: options.name.slice(0, 80) || "My account",
    appName: options.appName ?? null,
    logo: null,
    members,
    // The creator (the first member) is the first admin.
    admins: members.slice(0, 1),
    createdAt: now,
    updatedAt: now,
  };
}

/** Creates an account. */
export async function createAccount(
  kv: Deno.Kv,
  options: { name: string; members?: string[]; appName?: string | null },
): Promise<AccountRecord> {
  const record = newAccountRecord(options);
  const op = kv.atomic();
  writeNewAccount(op, record);
  if (!(await op.commit()).ok) throw new PassageError("write_conflict", "Account id collision");
  return record;
}

/** An account, or null. */
export async function getAccount(kv: Deno.Kv, accountId: string): Promise<AccountRecord | null> {
  return (await kv.get<AccountRecord>(accountKey(accountId))).value;
}

/** The accounts `email` is a member of, oldest first. */
export async function accountsOfMember(kv: Deno.Kv, email: string): Promise<AccountRecord[]> {
  const ids: string[] = [];
  for await (
    const entry of kv.list<string>({ prefix: accountByMemberPrefix(normalizeEmail(email)) })
  ) {
    ids.push(entry.value);
  }
  const out: AccountRecord[] = [];
  for (let i = 0; i < ids.length; i += 10) {
    const entries = await kv.getMany<AccountRecord[]>(ids.slice(i, i + 10).map(accountKey));
    for (const entry of entries) {
      // The index is advisory: the account's own member list decides.
      if (entry.value?.members.includes(normalizeEmail(email))) out.push(entry.value);
    }
  }
  return out;
}

/** The account of a signed-in member, or the 404 a missing one gives. */
export async function accountForMember(
  kv: Deno.Kv,
  accountId: string,
  email: string,
): Promise<AccountRecord> {
  const account = await getAccount(kv, accountId);
  if (!account || !account.members.includes(normalizeEmail(email))) {
    throw new PassageError("account_not_found", `No account with id "${accountId}"`);
  }
  return account;
}

/** Changes an account's name and app name. */
export async function updateAccount(
  kv: Deno.Kv,
  accountId: string,
  settings: z.output<typeof accountSettingsSchema>,
): Promise<AccountRecord> {
  return await changeAccount(kv, accountId, (account) => ({ ...account, ...settings }));
}

/**
 * Adds a member by email with `role` (default: a member), or changes the
 * role of one already there (default: keeps it). They get in when they sign in with that email, verified by the
 * identity provider. An account without an admin (one the migration made)
 * makes its first member one.
 */
export async function addMember(
  kv: Deno.Kv,
  accountId: string,
  email: string,
  role?: MemberRole,
): Promise<AccountRecord> {
  const member = normalizeEmail(email);
  if (!z.email().safeParse(member).success) {
    throw new PassageError("invalid_request", `"${email}" is not an email address`, {
      param: "email",
    });
  }
  return await changeAccount(kv, accountId, (account) => {
    const before = adminsOf(account);
    const admins = before.filter((a) => a !== member);
    const admin = role ? role === "admin" : before.includes(member);
    if (admin || before.length === 0) admins.push(member);
    else if (before.includes(member)) lastAdminGuard(account, member, admins);
    const members = account.members.includes(member)
      ? account.members
      : [...account.members, member];
    return { ...account, members, admins };
  }, (op) => op.set(accountByMemberKey(member, accountId), accountId));
}

/** Removes a member (nothing if they are not one); the last admin cannot be removed. */
export async function removeMember(
  kv: Deno.Kv,
  accountId: string,
  email: string,
): Promise<AccountRecord> {
  const member = normalizeEmail(email);
  return await changeAccount(kv, accountId, (account) => {
    const admins = adminsOf(account).filter((a) => a !== member);
    if (adminsOf(account).includes(member)) lastAdminGuard(account, member, admins);
    return { ...account, members: account.members.filter((m) => m !== member), admins };
  }, (op) => op.delete(accountByMemberKey(member, accountId)));
}

function lastAdminGuard(account: AccountRecord, member: string, admins: string[]): void {
  if (admins.length > 0) return;
  throw new PassageError(
    "invalid_request",
    `${member} is the last admin of ${account.name}: make another member an admin first`,
    { param: "email" },
  );
}

/**
 * Reads the account, applies `change` and writes the result (with `extra`
 * writes in the same commit), again on a conflicting write.
 */
export async function changeAccount(
  kv: Deno.Kv,
  accountId: string,
  change: (account: AccountRecord) => AccountRecord,
  extra?: (op: Deno.AtomicOperation) => void,
): Promise<AccountRecord> {
  for (;;) {
    const entry = await kv.get<AccountRecord>(accountKey(accountId));
    if (!entry.value) {
      throw new PassageError("account_not_found", `No account with id "${accountId}"`);
    }
    const next = { ...change(entry.value), updatedAt: new Date().toISOString() };
    const op = kv.atomic().check(entry).set(entry.key, next);
    extra?.(op);
    if ((await op.commit()).ok) return next;
  }
}
