/**
 * Rate limits kept in KV, so a limit holds across instances: a fixed window
 * per rule and subject (an account, an address), one counter key each that
 * expires with its window. Over the limit is a 429 `too_many_attempts` with
 * `Retry-After` (the seconds left in the window).
 *
 * A rule can count every call (`take`), or be checked first and counted only
 * when the call turns out to deserve it (`check`, then `take`): that is how
 * failed claim attempts are limited (`lib/claims.ts` keeps its own counter
 * for now; it can move onto this one).
 *
 * ```ts
 * const TEST_WEBHOOKS: RateLimit = { name: "webhook_test", limit: 30, windowMs: 60_000, … };
 * await takeRate(svc, TEST_WEBHOOKS, owner.accountId);
 * ```
 *
 * @module
 */
import { PassageError } from "./errors.ts";
import type { Services } from "./services.ts";

/** One limit: at most `limit` calls per subject in each window of `windowMs`. */
export interface RateLimit {
  /** Names the rule's counters in KV (`webhook_test`). */
  name: string;
  limit: number;
  windowMs: number;
  /** What the 429 says, such as `Too many test webhooks for this account`. */
  message: string;
}

/** The counter of one rule, subject and window. */
export function rateCounterKey(
  name: string,
  subject: string,
  window: number,
): ["rate_limits", string, string, number] {
  return ["rate_limits", name, subject, window];
}

function refuse(rule: RateLimit, window: number, now: number): PassageError {
  const retryAfter = Math.max(1, Math.ceil(((window + 1) * rule.windowMs - now) / 1000));
  return new PassageError(
    "too_many_attempts",
    `${rule.message}: at most ${rule.limit} in ${rule.windowMs / 1000} s; retry in ${retryAfter} s`,
    { headers: { "Retry-After": String(retryAfter) } },
  );
}

/** Throws the rule's 429 if `subject` has used up the window, without counting a call. */
export async function checkRate(
  svc: Pick<Services, "kv" | "clock">,
  rule: RateLimit,
  subject: string,
): Promise<void> {
  const { kv } = svc;
  const now = svc.clock.now();
  const window = Math.floor(now / rule.windowMs);
  const count = (await kv.get<number>(rateCounterKey(rule.name, subject, window))).value ?? 0;
  if (count >= rule.limit) throw refuse(rule, window, now);
}

/** Counts one call of `subject`, or throws the rule's 429 when the window is used up. */
export async function takeRate(
  svc: Pick<Services, "kv" | "clock">,
  rule: RateLimit,
  subject: string,
): Promise<void> {
  const { kv } = svc;
  const now = svc.clock.now();
  const window = Math.floor(now / rule.windowMs);
  const key = rateCounterKey(rule.name, subject, window);
  for (;;) {
    const entry = await kv.get<number>(key);
    const count = entry.value ?? 0;
    if (count >= rule.limit) throw refuse(rule, window, now);
    const res = await kv.atomic().check(entry).set(key, count + 1, { expireIn: rule.windowMs })
      .commit();
    if (res.ok) return;
  }
}
