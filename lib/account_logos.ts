/**
 * Account logos: an image an admin uploads in the console, shown on the
 * account's claim pages. Only PNG, JPEG and WebP, told apart by their magic
 * bytes (never by the name or type the browser sends), at most 256 KB. SVG is
 * refused: it can carry script. The bytes live in KV (chunked by
 * `kv_blobs.ts`) under an id derived from the account and the content, and are
 * served from this origin at `/logos/{id}.{ext}` (`routes/logos.ts`), so the
 * claim page's CSP keeps `img-src 'self'` and no third party learns who opens
 * a claim page. A new image gets a new id, so its URL can be cached for ever.
 */
import { type AccountLogo, type AccountRecord, changeAccount, getAccount } from "./accounts.ts";
import { PassageError } from "./errors.ts";
import { sha256Hex } from "./ids.ts";
import { type BlobRef, deleteJson, loadBytes, storeBytes } from "./kv_blobs.ts";
import { accountLogoKey } from "./kv_keys.ts";

/** Largest logo accepted, in bytes. */
export const MAX_LOGO_BYTES = 256 * 1024;

/** A logo's bytes as stored. */
export interface StoredLogo {
  accountId: string;
  type: AccountLogo["type"];
  bytes: Uint8Array | BlobRef;
  createdAt: string;
}

const EXTENSIONS: Record<AccountLogo["type"], string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
};

/** The URL path a logo is served at. */
export function logoPath(logo: AccountLogo): string {
  return `/logos/${logo.id}.${EXTENSIONS[logo.type]}`;
}

const startsWith = (bytes: Uint8Array, at: number, magic: number[]) =>
  magic.every((b, i) => bytes[at + i] === b);
const ascii = (s: string) => [...s].map((ch) => ch.charCodeAt(0));

/** The image type `bytes` are, from their first bytes; null for anything else. */
export function sniffImageType(bytes: Uint8Array): AccountLogo["type"] | null {
  if (startsWith(bytes, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (startsWith(bytes, 0, [0xff, 0xd8, 0xff])) return "image/jpeg";
  if (startsWith(bytes, 0, ascii("RIFF")) && startsWith(bytes, 8, ascii("WEBPVP8"))) {
    return "image/webp";
  }
  return null;
}

/** Checks an upload; returns its type or throws the error the console shows. */
export function checkLogo(bytes: Uint8Array): AccountLogo["type"] {
  if (bytes.byteLength === 0) {
    throw new PassageError("invalid_request", "Choose an image file to upload as the logo", {
      param: "logo",
    });
  }
  if (bytes.byteLength > MAX_LOGO_BYTES) {
    throw new PassageError(
      "payload_too_large",
      `The logo is ${Math.ceil(bytes.byteLength / 1024)} KB; the largest accepted is ${
        MAX_LOGO_BYTES / 1024
      } KB`,
      { param: "logo" },
    );
  }
  const type = sniffImageType(bytes);
  if (type) return type;
  const head = new TextDecoder().decode(bytes.subarray(0, 1024));
  if (/<svg[\s>]/i.test(head) || /^\s*<\?xml/i.test(head)) {
    throw new PassageError(
      "unsupported_media_type",
      "SVG logos are not accepted, since an SVG can carry script: upload a PNG, JPEG or WebP",
      { param: "logo" },
    );
  }
  throw new PassageError(
    "unsupported_media_type",
    "The logo must be a PNG, JPEG or WebP image, and this file is none of them",
    { param: "logo" },
  );
}

/**
 * Makes `bytes` the account's logo, after {@link checkLogo}: nothing is
 * written for an upload it refuses. The previous logo is deleted.
 */
export async function setAccountLogo(
  kv: Deno.Kv,
  accountId: string,
  bytes: Uint8Array,
): Promise<AccountRecord> {
  const type = checkLogo(bytes);
  const prefix = new TextEncoder().encode(`${accountId}\0`);
  const keyed = new Uint8Array(prefix.byteLength + bytes.byteLength);
  keyed.set(prefix);
  keyed.set(bytes, prefix.byteLength);
  const id = (await sha256Hex(keyed)).slice(0, 32);
  const current = await getAccount(kv, accountId);
  if (!current) throw new PassageError("account_not_found", `No account with id "${accountId}"`);
  if (current.logo?.id === id) return current;
  const stored: StoredLogo = {
    accountId,
    type,
    bytes: await storeBytes(kv, bytes),
    createdAt: new Date().toISOString(),
  };
  const logo: AccountLogo = { id, type, bytes: bytes.byteLength };
  const seen: { previous: AccountLogo | null } = { previous: null };
  try {
    const account = await changeAccount(kv, accountId, (account) => {
      seen.previous = account.logo ?? null;
      return { ...account, logo };
    }, (op) => op.set(accountLogoKey(id), stored));
    if (seen.previous && seen.previous.id !== id) await deleteLogo(kv, seen.previous.id);
    return account;
  } catch (err) {
    await deleteJson(kv, stored.bytes);
    throw err;
  }
}

/** Takes the account's logo away (nothing if it has none). */
export async function removeAccountLogo(kv: Deno.Kv, accountId: string): Promise<AccountRecord> {
  const seen: { previous: AccountLogo | null } = { previous: null };
  const account = await changeAccount(kv, accountId, (account) => {
    seen.previous = account.logo ?? null;
    return { ...account, logo: null };
  });
  if (seen.previous) await deleteLogo(kv, seen.previous.id);
  return account;
}

/** A logo's type and bytes by id, or null. */
export async function readLogo(
  kv: Deno.Kv,
  id: string,
): Promise<{ type: AccountLogo["type"]; bytes: Uint8Array } | null> {
  const stored = (await kv.get<StoredLogo>(accountLogoKey(id))).value;
  if (!stored) return null;
  const bytes = await loadBytes(kv, stored.bytes);
  return bytes ? { type: stored.type, bytes } : null;
}

async function deleteLogo(kv: Deno.Kv, id: string): Promise<void> {
  const entry = await kv.get<StoredLogo>(accountLogoKey(id));
  if (!entry.value) return;
  await kv.delete(entry.key);
  await deleteJson(kv, entry.value.bytes);
}
