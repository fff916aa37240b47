/**
 * Turning what sites show into result values: amounts into decimal strings,
 * their dates into `YYYY-MM-DD`, card numbers into last fours, contact details
 * into masked forms. Anything that does not parse is `site_changed`.
 *
 * @module
 */
import type { CardBrand, PaymentMethod } from "@passage/connect/results";
import { AutomationError } from "./types.ts";

function changed(what: string, value: unknown): AutomationError {
  const shown = typeof value === "string" ? `"${value.slice(0, 60)}"` : String(value);
  return new AutomationError("site_changed", `Could not read ${what} from ${shown}`);
}

/** `14250` (cents) → `"142.50"`. */
export function centsToAmount(cents: number, what: string): string {
  if (!Number.isSafeInteger(cents)) throw changed(what, cents);
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/** `142.5` (a site's float of dollars, at most 2 decimals) → `"142.50"`. */
export function dollarsToAmount(dollars: number, what: string): string {
  const cents = Math.round(dollars * 100);
  if (!Number.isFinite(dollars) || Math.abs(dollars * 100 - cents) > 1e-6) {
    throw changed(what, dollars);
  }
  return centsToAmount(cents, what);
}

/**
 * A displayed dollar amount → a decimal string: `"$1,234.50"` → `"1234.50"`,
 * `"-$96.40"` and `"($96.40)"` → `"-96.40"`, `"$100,000"` → `"100000.00"`.
 */
export function moneyText(text: string, what: string): string {
  const match = /^(\()?\s*([-−–])?\s*\$\s?(\d{1,3}(?:,\d{3})*|\d+)(?:\.(\d{2}))?\s*(\))?$/.exec(
    text.trim(),
  );
  if (!match || Boolean(match[1]) !== Boolean(match[5])) throw changed(what, text);
  const negative = Boolean(match[1]) || Boolean(match[2]);
  const cents = Number(match[3].replaceAll(",", "")) * 100 + Number(match[4] ?? "0");
  return centsToAmount(negative ? -cents : cents, what);
}

function isoDate(year: number, month: number, day: number, what: string, raw: string): string {
  const date = new Date(Date.UTC(year, month - 1, day));
  if (
    date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day
  ) {
    throw changed(what, raw);
  }
  return date.toISOString().slice(0, 10);
}

/** `"02/01/2025"` (US month/day/year) → `"2025-02-01"`. */
export function usDate(text: string, what: string): string {
  const match = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text.trim());
  if (!match) throw changed(what, text);
  return isoDate(Number(match[3]), Number(match[1]), Number(match[2]), what, text);
}

const MONTHS = [
  "jan",
  "feb",
  "mar",
  "apr",
  "may",
  "jun",
  "jul",
  "aug",
  "sep",
  "oct",
  "nov",
  "dec",
];

/** `"Feb 1, 2025"` or `"February 1, 2025"` → `"2025-02-01"`. */
export function longDate(text: string, what: string): string {
  const match = /^([A-Za-z]{3,9})\.?\s+(\d{1,2}),\s*(\d{4})$/.exec(text.trim());
  const month = match ? MONTHS.indexOf(match[1].slice(0, 3).toLowerCase()) + 1 : 0;
  if (!match || month === 0) throw changed(what, text);
  return isoDate(Number(match[3]), month, Number(match[2]), what, text);
}

/** The date part of an ISO 8601 date or date-time: `"2021-09-30T17:00:00Z"` → `"2021-09-30"`. */
export function isoDatePart(text: string, what: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T.*)?$/.exec(text.trim());
  if (!match) throw changed(what, text);
  return isoDate(Number(match[1]), Number(match[2]), Number(match[3]), what, text);
}

/** The last four digits of a masked or full number: `"************4242"`, `"•••• 4242"`. */
export function lastFour(text: string, what: string): string {
  const digits = text.replace(/\D/g, "");
  if (digits.length < 4) throw changed(what, "(a masked number)");
  return digits.slice(-4);
}

/** A card network as sites name it → its `CardBrand`. */
export function cardBrand(name: string): CardBrand {
  const key = name.toLowerCase().replace(/[^a-z]/g, "");
  if (key === "visa") return "visa";
  if (key === "mastercard" || key === "mc") return "mastercard";
  if (key === "amex" || key === "americanexpress") return "amex";
  if (key === "discover") return "discover";
  if (key.startsWith("diners")) return "diners";
  if (key === "jcb") return "jcb";
  if (key === "unionpay" || key === "cup") return "unionpay";
  return "unknown";
}

/** `"08/2027"`, `"08/27"` or `"2027-08"` → `{expMonth: 8, expYear: 2027}`. */
export function expiry(text: string, what: string): { expMonth: number; expYear: number } {
  const t = text.trim();
  let month: number;
  let year: number;
  let match = /^(\d{1,2})\s*\/\s*(\d{2}|\d{4})$/.exec(t);
  if (match) {
    month = Number(match[1]);
    year = Number(match[2].length === 2 ? `20${match[2]}` : match[2]);
  } else if ((match = /^(\d{4})-(\d{2})$/.exec(t))) {
    year = Number(match[1]);
    month = Number(match[2]);
  } else {
    throw changed(what, text);
  }
  if (month < 1 || month > 12) throw changed(what, text);
  return { expMonth: month, expYear: year };
}

/** A saved card as a site shows it → its `PaymentMethod`: `number` masked or not, `expiry` as text or parsed. */
export function card(shown: {
  brand: string;
  number: string;
  expiry: string | { expMonth: number; expYear: number };
  holderName?: string;
  isDefault: boolean;
}): PaymentMethod {
  return {
    type: "card",
    brand: cardBrand(shown.brand),
    last4: lastFour(shown.number, "a card number"),
    ...(typeof shown.expiry === "string" ? expiry(shown.expiry, "a card expiry") : shown.expiry),
    ...(shown.holderName ? { holderName: shown.holderName } : {}),
    isDefault: shown.isDefault,
  };
}

/** A saved bank account as a site shows it → its `PaymentMethod`. */
export function bankAccount(
  shown: { bankName: string; number: string; isDefault: boolean },
): PaymentMethod {
  return {
    type: "bank_account",
    bankName: shown.bankName,
    last4: lastFour(shown.number, "a bank account number"),
    isDefault: shown.isDefault,
  };
}

/** `"alex.rivera@example.com"` → `"a***@example.com"`. */
export function maskEmail(email: string, what: string): string {
  const at = email.lastIndexOf("@");
  if (at < 1 || at === email.length - 1 || /\s/.test(email)) throw changed(what, "(an email)");
  return `${email[0]}***${email.slice(at)}`;
}

/** `"+1 (206) 555-0147"` → `"•••-•••-0147"`: only the last 4 digits stay. */
export function maskPhone(phone: string, what: string): string {
  const digits = phone.replace(/\D/g, "");
  if (digits.length < 7) throw changed(what, "(a phone number)");
  return `•••-•••-${digits.slice(-4)}`;
}
