/**
 * The migration to accounts, run at startup (`main.ts`): every API key stored
 * before accounts gets an account of its own (named after the key), and its
 * links, sessions and webhook events are re-owned by that account and moved
 * to the account's indexes. Idempotent: each step checks what it reads, and a
 * second run finds nothing left to do.
 *
 * Then, once per store, the move to per-account webhook signing keys
 * (`migrateWebhookKeysToAccounts`): every account that exists by then keeps
 * signing with the server-wide key until its first rotation.
 */
import type { ApiKeyRecord } from "./api_keys.ts";
import { newAccountRecord, writeNewAccount } from "./accounts.ts";
import {
  accountPrefix,
  apiKeyPrefix,
  apiKeysByAccountKey,
  linkKey,
  linksByAccountKey,
  linksByOwnerPrefix,
  migrationKey,
  sessionKey,
  sessionsByAccountKey,
  sessionsByOwnerPrefix,
  webhookEventPrefix,
  webhookEventsByAccountKey,
} from "./kv_keys.ts";
import { adoptServerWebhookKey, listWebhookKeys } from "./webhook_keys.ts";
import type { LinkRecord } from "./links.ts";
import type { SessionRecord } from "./sessions.ts";
import type { WebhookEventRecord } from "./webhooks.ts";

/** What one run changed. */
export interface MigrationReport {
  accounts: number;
  links: number;
  sessions: number;
  events: number;
}

const NAME = "accounts-v1";

/** Gives every key an account and re-owns what the key made. Safe to run any number of times. */
export async function migrateToAccounts(kv: Deno.Kv): Promise<MigrationReport> {
  const report: MigrationReport = { accounts: 0, links: 0, sessions: 0, events: 0 };
  const accountOfKey = new Map<string, string>();
  for await (const entry of kv.list<ApiKeyRecord>({ prefix: apiKeyPrefix() })) {
    accountOfKey.set(entry.value.id, await ensureAccount(kv, entry, report));
  }
  for (const [keyId, accountId] of accountOfKey) {
    for await (const index of kv.list<string>({ prefix: linksByOwnerPrefix(keyId) })) {
      const entry = await kv.get<LinkRecord>(linkKey(index.value));
      const op = kv.atomic().check(index).delete(index.key);
      if (entry.value) {
        const owner = entry.value.accountId ?? accountId;
        const mode = entry.value.livemode ? "live" : "test";
        op.check(entry).set(entry.key, { ...entry.value, accountId: owner })
          .set(linksByAccountKey(owner, mode, entry.value.id), entry.value.id);
      }
      if ((await op.commit()).ok && entry.value) report.links++;
    }
    for await (const index of kv.list<string>({ prefix: sessionsByOwnerPrefix(keyId) })) {
      const entry = await kv.get<SessionRecord>(sessionKey(index.value));
      const op = kv.atomic().check(index).delete(index.key);
      if (entry.value) {
        const owner = entry.value.accountId ?? accountId;
        const mode = entry.value.livemode ? "live" : "test";
        op.check(entry).set(entry.key, { ...entry.value, accountId: owner })
          .set(sessionsByAccountKey(owner, mode, entry.value.id), entry.value.id);
      }
      if ((await op.commit()).ok && entry.value) report.sessions++;
    }
  }
  for await (const entry of kv.list<WebhookEventRecord>({ prefix: webhookEventPrefix() })) {
    if (entry.value.accountId) continue;
    const link = (await kv.get<LinkRecord>(linkKey(entry.value.linkId))).value;
    const owner = link?.accountId ?? accountOfKey.get(entry.value.ownerKeyId);
    if (!owner) continue;
    const res = await kv.atomic().check(entry)
      .set(entry.key, { ...entry.value, accountId: owner })
      .set(webhookEventsByAccountKey(owner, entry.value.id), entry.value.id)
      .commit();
    if (res.ok) report.events++;
  }
  await kv.set(migrationKey(NAME), new Date().toISOString());
  await migrateWebhookKeysToAccounts(kv);
  return report;
}

const WEBHOOK_KEYS = "webhook-keys-per-account-v1";

/**
 * Once per store: every account made before per-account webhook keys keeps
 * signing with the server-wide key, so its receivers (whatever key set URL
 * they fetch) see no change, until an admin rotates its key; the server-wide
 * keys then stay in its key set for the overlap. Accounts made afterwards get
 * a key of their own on their first webhook. A store that never signed
 * anything has no server-wide key, and no account to keep on it. Returns how
 * many accounts were kept on the server-wide key (0 on every later run).
 */
export async function migrateWebhookKeysToAccounts(kv: Deno.Kv): Promise<number> {
  if ((await kv.get(migrationKey(WEBHOOK_KEYS))).value) return 0;
  let kept = 0;
  if ((await listWebhookKeys(kv)).length > 0) {
    for await (const entry of kv.list({ prefix: accountPrefix() })) {
      if (await adoptServerWebhookKey(kv, entry.key[1] as string)) kept++;
    }
  }
  await kv.set(migrationKey(WEBHOOK_KEYS), new Date().toISOString());
  return kept;
}

/** The key's account, creating it (and indexing the key under it) if the key has none. */
async function ensureAccount(
  kv: Deno.Kv,
  first: Deno.KvEntry<ApiKeyRecord>,
  report: MigrationReport,
): Promise<string> {
  let entry: Deno.KvEntryMaybe<ApiKeyRecord> = first;
  for (;;) {
    if (!entry.value) return "";
    if (entry.value.accountId) return entry.value.accountId;
    const account = newAccountRecord({ name: entry.value.name });
    const op = kv.atomic().check(entry)
      .set(entry.key, { ...entry.value, accountId: account.id })
      .set(apiKeysByAccountKey(account.id, entry.value.id), entry.value.id);
    writeNewAccount(op, account);
    if ((await op.commit()).ok) {
      report.accounts++;
      return account.id;
    }
    entry = await kv.get<ApiKeyRecord>(first.key);
  }
}
