/**
 * Claim codes: 10 Crockford base32 characters (50 bits), shown as `K7QD2-9XW4M`.
 * Short enough to read aloud or type on a phone; at 50 bits, guessing one of
 * even a million live codes takes about 10^9 tries, and claim attempts are
 * limited per client.
 */
import { CROCKFORD } from "./ids.ts";

/** A fresh claim code in display form. */
export function newClaimCode(): string {
  const digits = Array.from(
    crypto.getRandomValues(new Uint8Array(10)),
    (b) => CROCKFORD[b & 31],
  );
  return `${digits.slice(0, 5).join("")}-${digits.slice(5).join("")}`;
}

/**
 * The canonical form of what a user typed: upper case, separators dropped, and
 * the letters people confuse with digits read as those digits (O→0, I/L→1).
 * Returns null when the result cannot be a claim code.
 */
export function normalizeClaimCode(input: string): string | null {
  const code = input.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0")
    .replace(/[IL]/g, "1");
  if (code.length !== 10) return null;
  for (const ch of code) if (!CROCKFORD.includes(ch)) return null;
  return code;
}

/** The display form of a normalized code. */
export function formatClaimCode(code: string): string {
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}
