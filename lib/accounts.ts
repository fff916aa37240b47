/**
 * Accounts: what owns API keys, links, sessions and webhook events. An account
 * has members (by email, who sign in to the console), an app name and a logo
 * for the claim page, and test and live keys. Rotating a key changes nothing
 * the account owns.
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
  /** An https URL of the app's logo; null: none. */
  logoUrl: string | null;
  /** Members' emails, lower case, who may sign in to the console for this account. */
  members: string[];
  createdAt: string;
  updatedAt: string;
}

/** What a member may change on an account. */
export const accountSettingsSchema = z.strictObject({
  name: z.string().trim().min(1).max(80),
  appName: z.string().trim().max(80).transform((v) => v || null),
  logoUrl: z.string().trim().max(500).transform((v) => v || null).pipe(
    z.url({ protocol: /^https$/ }).nullable(),
  ),
});

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
  return {
    id: newId("acct"),
    name: options.name.slice(0, 80) || "My account",
    appName: options.appName ?? null,
    logoUrl: null,
    members: [...new Set((options.members ?? []).map(normalizeEmail))],
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

/** Changes an account's name, app name and logo. */
export async function updateAccount(
  kv: Deno.Kv,
  accountId: string,
  settings: z.output<typeof accountSettingsSchema>,
): Promise<AccountRecord> {
  for (;;) {
    const entry = await kv.get<AccountRecord>(accountKey(accountId));
    if (!entry.value) {
      throw new PassageError("account_not_found", `No account with id "${accountId}"`);
    }
    const next = { ...entry.value, ...settings, updatedAt: new Date().toISOString() };
    if ((await kv.atomic().check(entry).set(entry.key, next).commit()).ok) return next;
  }
}

/** Adds a member by email (idempotent). */
export async function addMember(
  kv: Deno.Kv,
  accountId: string,
  email: string,
): Promise<AccountRecord> {
  const member = normalizeEmail(email);
  if (!z.email().safeParse(member).success) {
    throw new PassageError("invalid_request", `"${email}" is not an email address`, {
      param: "email",
    });
  }
  for (;;) {
    const entry = await kv.get<AccountRecord>(accountKey(accountId));
    if (!entry.value) {
      throw new PassageError("account_not_found", `No account with id "${accountId}"`);
    }
    if (entry.value.members.includes(member)) return entry.value;
    const next = {
      ...entry.value,
      members: [...entry.value.members, member],
      updatedAt: new Date().toISOString(),
    };
    const res = await kv.atomic().check(entry).set(entry.key, next)
      .set(accountByMemberKey(member, accountId), accountId).commit();
    if (res.ok) return next;
  }
}
