/**
 * Redaction shared by the device and the server: masking credentials in URLs
 * (`redactUrl`, `redactUrlsInText`, `redactUrlsDeep`) and replacing known
 * secret strings anywhere inside a JSON value (`redactSecrets`).
 *
 * The device applies these before anything leaves the user's phone; the
 * server applies them again on receipt.
 *
 * @example
 * ```ts
 * import { redactSecrets, redactUrl } from "@passage/connect/redact";
 * redactUrl("https://example.com/cb?code=abc&page=2"); // "https://example.com/cb?code=REDACTED&page=2"
 * redactSecrets({ value: "pw is hunter22" }, ["hunter22"]); // { value: "pw is [REDACTED]" }
 * ```
 *
 * @module
 */

/**
 * What a masked URL parameter value is replaced with.
 *
 * @example
 * ```ts
 * import { REDACTED, redactUrl } from "@passage/connect/redact";
 * redactUrl("https://example.com/?token=t") === `https://example.com/?token=${REDACTED}`; // true
 * ```
 */
export const REDACTED = "REDACTED";

/**
 * What `redactSecrets` puts in place of each occurrence of a secret.
 *
 * @example
 * ```ts
 * import { REDACTED_SECRET, redactSecrets } from "@passage/connect/redact";
 * redactSecrets("pw=hunter22", ["hunter22"]) === `pw=${REDACTED_SECRET}`; // true
 * ```
 */
export const REDACTED_SECRET = "[REDACTED]";

/**
 * URLs longer than this are cut (the protocol allows 8192 characters).
 *
 * @example
 * ```ts
 * import { MAX_URL_LENGTH, redactUrl } from "@passage/connect/redact";
 * redactUrl(`https://example.com/?q=${"a".repeat(10_000)}`).length === MAX_URL_LENGTH; // true
 * ```
 */
export const MAX_URL_LENGTH = 8192;

/**
 * Secrets shorter than this are ignored by `redactSecrets`: replacing every
 * "ab" in a page would destroy it without protecting anything.
 *
 * @example
 * ```ts
 * import { MIN_SECRET_LENGTH, redactSecrets } from "@passage/connect/redact";
 * MIN_SECRET_LENGTH; // 4
 * redactSecrets("abc", ["abc"]); // "abc": too short to be a secret
 * ```
 */
export const MIN_SECRET_LENGTH = 4;

/** Parameter names (or name parts) that are always credentials. */
const SECRET_NAMES = new Set([
  "password",
  "passwd",
  "pwd",
  "pass",
  "token",
  "access_token",
  "id_token",
  "refresh_token",
  "code",
  "otp",
  "mfa",
  "secret",
  "session",
  "sid",
  "auth",
  "key",
  "apikey",
  "api_key",
  "signature",
  "sig",
]);

/** Substrings that make any parameter name a credential (`client_secret`, `jsessionid`). */
const SECRET_PARTS = [
  "password",
  "passwd",
  "token",
  "secret",
  "session",
  "sessid",
  "signature",
  "apikey",
  "api_key",
  "api-key",
  "credential",
  "verifier",
  "samlresponse",
  "assertion",
];

/**
 * Whether a query parameter name looks like it carries a credential: one of
 * the listed names, a name whose parts (split on `_`, `-`, `.` and camelCase)
 * include one, or a name containing a telling word such as `token` or `secret`.
 *
 * @example
 * ```ts
 * import { isSecretParam } from "@passage/connect/redact";
 * isSecretParam("client_secret"); // true
 * isSecretParam("authToken"); // true
 * isSecretParam("page"); // false
 * ```
 */
export function isSecretParam(name: string): boolean {
  const lower = name.toLowerCase();
  if (SECRET_NAMES.has(lower)) return true;
  if (SECRET_PARTS.some((part) => lower.includes(part))) return true;
  const parts = name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((p) => p !== "");
  return parts.some((p) => SECRET_NAMES.has(p));
}

/** Masks secret values in a `a=1&b=2` string, keeping everything else byte for byte. */
function redactParams(params: string): string {
  return params
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq < 0) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name.replaceAll("+", " "));
      } catch {
        // a malformed escape: judge the raw name
      }
      return isSecretParam(name) && eq < pair.length - 1
        ? `${pair.slice(0, eq)}=${REDACTED}`
        : pair;
    })
    .join("&");
}

/**
 * Returns `url` with credential-like query and fragment parameter values
 * replaced by `REDACTED`, userinfo removed, and the result cut to
 * {@link MAX_URL_LENGTH} characters. Strings that are not absolute
 * http(s)/ws(s) URLs are returned cut but otherwise unchanged.
 *
 * @example
 * ```ts
 * import { redactUrl } from "@passage/connect/redact";
 * redactUrl("https://user:pw@example.com/cb?code=abc&state=xyz#access_token=t");
 * // "https://example.com/cb?code=REDACTED&state=xyz#access_token=REDACTED"
 * ```
 */
export function redactUrl(url: string): string {
  let out = url;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === "http" || scheme === "https" || scheme === "ws" || scheme === "wss") {
    // userinfo: scheme://user:pass@host
    out = out.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, "$1");
    const hashAt = out.indexOf("#");
    const beforeHash = hashAt < 0 ? out : out.slice(0, hashAt);
    let fragment = hashAt < 0 ? null : out.slice(hashAt + 1);
    const queryAt = beforeHash.indexOf("?");
    let head = beforeHash;
    if (queryAt >= 0) {
      head = beforeHash.slice(0, queryAt + 1) + redactParams(beforeHash.slice(queryAt + 1));
    }
    if (fragment !== null) {
      // OAuth implicit flows return tokens in the fragment: `#access_token=…`,
      // single-page routers in `#/path?code=…`
      const q = fragment.indexOf("?");
      if (q >= 0) {
        fragment = fragment.slice(0, q + 1) + redactParams(fragment.slice(q + 1));
      } else if (fragment.includes("=")) {
        fragment = redactParams(fragment);
      }
      head += `#${fragment}`;
    }
    out = head;
  }
  return out.length > MAX_URL_LENGTH ? out.slice(0, MAX_URL_LENGTH) : out;
}

/**
 * Replaces every http(s)/ws(s) URL inside free text (an error message, a
 * console line) with its redacted form.
 *
 * @example
 * ```ts
 * import { redactUrlsInText } from "@passage/connect/redact";
 * redactUrlsInText("GET https://example.com/?sid=1 failed");
 * // "GET https://example.com/?sid=REDACTED failed"
 * ```
 */
export function redactUrlsInText(text: string): string {
  return text.replace(/\b(?:https?|wss?):\/\/[^\s"'<>`()]+/gi, (u) => redactUrl(u));
}

/** Applies `f` to every string of a JSON-like value, keys included; other values are kept. */
function mapStrings(value: unknown, f: (s: string) => string, depth = 0): unknown {
  if (typeof value === "string") return f(value);
  if (value === null || typeof value !== "object" || depth > 200) return value;
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[f(k)] = mapStrings(v, f, depth + 1);
  }
  return out;
}

/**
 * Returns a copy of a JSON value in which every URL inside every string (and
 * every key) is redacted as by {@link redactUrlsInText}.
 *
 * @example
 * ```ts
 * import { redactUrlsDeep } from "@passage/connect/redact";
 * redactUrlsDeep({ links: ["https://example.com/?token=t"] });
 * // { links: ["https://example.com/?token=REDACTED"] }
 * ```
 */
export function redactUrlsDeep(value: unknown): unknown {
  return mapStrings(value, redactUrlsInText);
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * The spellings a secret can take in text a page or a server produces: as
 * is, percent-encoded (a query string or form body, `+` for spaces too) or
 * percent-decoded (a cookie value echoed in JSON),
 * HTML-escaped (an attribute or `innerHTML`), and JSON-escaped (a response
 * body held as text).
 */
function spellings(secret: string): string[] {
  const out = new Set([secret]);
  try {
    const encoded = encodeURIComponent(secret);
    out.add(encoded);
    out.add(encoded.replaceAll("%20", "+"));
  } catch {
    // a lone surrogate cannot be percent-encoded
  }
  try {
    // a cookie value is often stored percent-encoded and echoed decoded
    out.add(decodeURIComponent(secret));
    out.add(decodeURIComponent(secret.replaceAll("+", " ")));
  } catch {
    // not a valid escape sequence: nothing to decode
  }
  out.add(secret.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]));
  out.add(secret.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`));
  out.add(JSON.stringify(secret).slice(1, -1));
  return [...out].filter((s) => s.length >= MIN_SECRET_LENGTH);
}

/**
 * Returns a copy of a JSON value in which every occurrence of every secret
 * (at least {@link MIN_SECRET_LENGTH} characters) inside every string, keys
 * included, is replaced with `[REDACTED]`. Percent-encoded, percent-decoded,
 * HTML-escaped and JSON-escaped spellings of a secret are replaced too. Longer secrets are
 * replaced first, so one secret containing another is masked whole.
 *
 * @example
 * ```ts
 * import { redactSecrets } from "@passage/connect/redact";
 * redactSecrets(
 *   { "hunter22": "document.cookie is sid=s3ss10n; pw=hunter22" },
 *   ["hunter22", "s3ss10n"],
 * );
 * // { "[REDACTED]": "document.cookie is sid=[REDACTED]; pw=[REDACTED]" }
 * ```
 */
export function redactSecrets(value: unknown, secrets: Iterable<string>): unknown {
  const all = new Set<string>();
  for (const secret of secrets) {
    if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) continue;
    for (const s of spellings(secret)) all.add(s);
  }
  if (all.size === 0) return value;
  const ordered = [...all].sort((a, b) => b.length - a.length);
  return mapStrings(value, (s) => {
    let out = s;
    for (const secret of ordered) {
      if (out.includes(secret)) out = out.replaceAll(secret, REDACTED_SECRET);
    }
    return out;
  });
}
