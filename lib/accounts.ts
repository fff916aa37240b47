/**
 * Accounts: what owns API keys, links, sessions and webhook events. An account
 * has members (by email, who sign in to the console), each an `admin` or a
 * `member`, an app name and a logo for the claim page, and test and live keys.
 * Rotating a key changes nothing the account owns. Admins manage members, the
 * logo, the webhook signing keys and live keys; the account's creator is its
 * first admin.
 *
 * Joining takes consent: an admin invites an email (`inviteMember`), which
 * makes a pending invitation, not a member; the person sees it once signed in
 * with that email and accepts (`acceptInvitation`) or declines it. Only
 * `addMember`, for the server's own setup (the dev account, tests, operators),
 * makes a member directly.
 */
import { z } from "zod";
import { announceRevoked, memberCredential } from "./credentials.ts";
import { PassageError } from "./errors.ts";
import { newId } from "./ids.ts";
import {
  accountByMemberKey,
  accountByMemberPrefix,
  accountKey,
  invitationByEmailKey,
  invitationByEmailPrefix,
} from "./kv_keys.ts";

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
  /**
   * Who created it: the account of their own a first sign-in makes. Absent on
   * accounts a key or the migration made, whose first member counts as it.
   */
  createdBy?: string;
  /** Emails invited and not yet answered (absent: none). */
  invitations?: Invitation[];
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

/** An offer to join an account, until the invited person answers it or it expires. */
export interface Invitation {
  email: string;
  /** The role they get if they accept. */
  role: MemberRole;
  /** The admin who invited them. */
  invitedBy: string;
  createdAt: string;
  expiresAt: string;
}

/** How long an invitation waits for an answer. */
export const INVITATION_TTL_MS = 14 * 24 * 3600 * 1000;
/** Most invitations an account may have pending at once. */
export const MAX_PENDING_INVITATIONS = 50;

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

/** Whether `email` created `account` (on a record from before creators: its first member). */
export function isCreator(account: AccountRecord, email: string): boolean {
  return (account.createdBy ?? account.members[0]) === normalizeEmail(email);
}

/** The account's invitations that have not expired. */
export function pendingInvitations(account: AccountRecord, now = Date.now()): Invitation[] {
  return (account.invitations ?? []).filter((i) => Date.parse(i.expiresAt) > now);
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
    ...(members.length ? { createdBy: members[0] } : {}),
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

function checkedEmail(email: string): string {
  const member = normalizeEmail(email);
  if (!z.email().safeParse(member).success) {
    throw new PassageError("invalid_request", `"${email}" is not an email address`, {
      param: "email",
    });
  }
  return member;
}

/** `account` with `member` in it as `role` (default: the role they have, else a member). */
function withMember(account: AccountRecord, member: string, role?: MemberRole): AccountRecord {
  const before = adminsOf(account);
  const admins = before.filter((a) => a !== member);
  const admin = role ? role === "admin" : before.includes(member);
  if (admin || before.length === 0) admins.push(member);
  else if (before.includes(member)) lastAdminGuard(account, member, admins);
  const members = account.members.includes(member) ? account.members : [...account.members, member];
  const invitations = (account.invitations ?? []).filter((i) => i.email !== member);
  return { ...account, members, admins, invitations };
}

/**
 * Makes `email` a member with `role` (default: a member) at once, or changes
 * the role of one already there (default: keeps it): for the server's own
 * setup, never for the console's forms, which invite (`inviteMember`). An
 * account without an admin (one the migration made) makes its first member one.
 */
export async function addMember(
  kv: Deno.Kv,
  accountId: string,
  email: string,
  role?: MemberRole,
): Promise<AccountRecord> {
  const member = checkedEmail(email);
  return await changeAccount(
    kv,
    accountId,
    (account) => withMember(account, member, role),
    (op) =>
      op.set(accountByMemberKey(member, accountId), accountId)
        .delete(invitationByEmailKey(member, accountId)),
  );
}

/**
 * An admin's answer to "add this email": a member already there gets `role`
 * (they joined before); anyone else gets an invitation with `role`, which
 * makes them nothing until they accept it. Inviting again renews it.
 */
export async function inviteMember(
  kv: Deno.Kv,
  accountId: string,
  email: string,
  role: MemberRole,
  invitedBy: string,
): Promise<{ account: AccountRecord; invited: boolean }> {
  const member = checkedEmail(email);
  let invited = false;
  const now = Date.now();
  const expiresAt = new Date(now + INVITATION_TTL_MS).toISOString();
  const account = await changeAccount(kv, accountId, (account) => {
    invited = !account.members.includes(member);
    if (!invited) return withMember(account, member, role);
    const others = pendingInvitations(account, now).filter((i) => i.email !== member);
    if (others.length >= MAX_PENDING_INVITATIONS) {
      throw new PassageError(
        "invalid_request",
        `${account.name} has ${others.length} invitations waiting for an answer: withdraw some first`,
        { param: "email" },
      );
    }
    const invitation: Invitation = {
      email: member,
      role,
      invitedBy: normalizeEmail(invitedBy),
      createdAt: new Date(now).toISOString(),
      expiresAt,
    };
    return { ...account, invitations: [...others, invitation] };
  }, (op) => {
    if (invited) {
      op.set(invitationByEmailKey(member, accountId), { accountId, expiresAt }, {
        expireIn: INVITATION_TTL_MS,
      });
    }
  });
  return { account, invited };
}

/** An invitation as its invited person sees it: which account, from whom. */
export interface InvitationOffer {
  accountId: string;
  accountName: string;
  invitation: Invitation;
}

/** How many invitations wait for `email`'s answer (from the index alone: cheap enough for every page). */
export async function countInvitations(kv: Deno.Kv, email: string): Promise<number> {
  let n = 0;
  const now = Date.now();
  for await (
    const entry of kv.list<{ expiresAt: string }>({
      prefix: invitationByEmailPrefix(normalizeEmail(email)),
    })
  ) {
    if (Date.parse(entry.value.expiresAt) > now) n++;
  }
  return n;
}

/** The invitations waiting for `email`'s answer, oldest account first. */
export async function invitationsFor(kv: Deno.Kv, email: string): Promise<InvitationOffer[]> {
  const member = normalizeEmail(email);
  const ids: string[] = [];
  for await (
    const entry of kv.list<{ accountId: string }>({ prefix: invitationByEmailPrefix(member) })
  ) {
    ids.push(entry.value.accountId);
  }
  const out: InvitationOffer[] = [];
  for (let i = 0; i < ids.length; i += 10) {
    const entries = await kv.getMany<AccountRecord[]>(ids.slice(i, i + 10).map(accountKey));
    for (const { value: account } of entries) {
      // The index is advisory: the account's own invitations decide.
      const invitation = account && pendingInvitations(account).find((i) => i.email === member);
      if (account && invitation && !account.members.includes(member)) {
        out.push({ accountId: account.id, accountName: account.name, invitation });
      }
    }
  }
  return out;
}

/** `email` accepts the account's invitation: they become a member with its role. */
export async function acceptInvitation(
  kv: Deno.Kv,
  accountId: string,
  email: string,
): Promise<AccountRecord> {
  const member = normalizeEmail(email);
  return await changeAccount(kv, accountId, (account) => {
    const invitation = pendingInvitations(account).find((i) => i.email === member);
    if (!invitation) throw noInvitation(accountId, member);
    return withMember(account, member, invitation.role);
  }, (op) =>
    op.set(accountByMemberKey(member, accountId), accountId)
      .delete(invitationByEmailKey(member, accountId)));
}

/**
 * Takes back the invitation of `email` (an admin withdrawing it, or the
 * person declining it); a 404 if none is pending.
 */
export async function dropInvitation(
  kv: Deno.Kv,
  accountId: string,
  email: string,
): Promise<AccountRecord> {
  const member = normalizeEmail(email);
  return await changeAccount(kv, accountId, (account) => {
    const pending = pendingInvitations(account);
    if (!pending.some((i) => i.email === member)) throw noInvitation(accountId, member);
    return { ...account, invitations: pending.filter((i) => i.email !== member) };
  }, (op) => op.delete(invitationByEmailKey(member, accountId)));
}

function noInvitation(accountId: string, email: string): PassageError {
  return new PassageError(
    "account_not_found",
    `No invitation of ${email} to account "${accountId}" is pending: it was withdrawn, answered or has expired`,
  );
}

/**
 * Removes a member (nothing if they are not one); the last admin cannot be
 * removed. Their console streams on the account end (`memberCredential`);
 * `removeMemberAndTheirKeys` also revokes the keys they made.
 */
export async function removeMember(
  kv: Deno.Kv,
  accountId: string,
  email: string,
): Promise<AccountRecord> {
  const member = normalizeEmail(email);
  const account = await changeAccount(kv, accountId, (account) => {
    const admins = adminsOf(account).filter((a) => a !== member);
    if (adminsOf(account).includes(member)) lastAdminGuard(account, member, admins);
    return { ...account, members: account.members.filter((m) => m !== member), admins };
  }, (op) => op.delete(accountByMemberKey(member, accountId)));
  announceRevoked(memberCredential(accountId, member));
  return account;
}

/** Of `credentials` (`memberCredential`s), those whose account no longer lists the member. */
export async function revokedMemberCredentials(
  kv: Deno.Kv,
  credentials: Array<{ credential: string; accountId: string; email: string }>,
): Promise<Set<string>> {
  const accountIds = [...new Set(credentials.map((c) => c.accountId))];
  const accounts = new Map<string, AccountRecord | null>();
  for (let i = 0; i < accountIds.length; i += 10) {
    const entries = await kv.getMany<AccountRecord[]>(accountIds.slice(i, i + 10).map(accountKey));
    entries.forEach((entry, j) => accounts.set(accountIds[i + j], entry.value));
  }
  return new Set(
    credentials.filter((c) => !accounts.get(c.accountId)?.members.includes(c.email))
      .map((c) => c.credential),
  );
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
