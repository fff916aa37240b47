/**
 * Time-ordered identifiers: a prefix, then 10 characters of millisecond time and
 * 16 of randomness in Crockford base32 (a ULID). Ids sort by creation time, so a
 * KV range scan over them lists newest or oldest first; within one millisecond
 * the random part is incremented so order is kept in this process.
 */

export const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

let lastTime = -1;
let lastRandom: number[] = [];

function encodeTime(ms: number): string {
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function randomDigits(n: number): number[] {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(bytes, (b) => b & 31);
}

/** A ULID; monotonic within this process. */
export function ulid(now = Date.now()): string {
  if (now <= lastTime) {
    // Same (or earlier) millisecond: increment the random part.
    now = lastTime;
    let i = lastRandom.length - 1;
    while (i >= 0 && lastRandom[i] === 31) lastRandom[i--] = 0;
    if (i >= 0) lastRandom[i]++;
  } else {
    lastTime = now;
    lastRandom = randomDigits(16);
  }
  return encodeTime(now) + lastRandom.map((d) => CROCKFORD[d]).join("");
}

/** A prefixed, time-ordered id such as `link_01J…`. */
export function newId(prefix: "link" | "key" | "sess" | "evt" | "acct"): string {
  return `${prefix}_${ulid()}`;
}

/** `n` random bytes as lowercase hex. */
export function randomHex(n: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(n)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** Hex SHA-256 of a string or bytes. */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** Compares two strings in time that depends only on their lengths. */
export function timingSafeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  const n = Math.max(ea.length, eb.length);
  for (let i = 0; i < n; i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}
