/**
 * Redaction shared by the device and the server, one rule set used
 * everywhere: masking credentials in URLs (`redactUrl`, `redactUrlsInText`,
 * `redactUrlsDeep`) and in free text (`redactText`), finding the credential
 * values inside a JSON value (`credentialValuesIn`) and blanking its
 * credential fields (`redactCredentialFields`), and replacing known secret
 * strings anywhere inside a JSON value (`redactSecrets`). Which names are
 * credentials is decided by `isSecretParam` (URL parameters) and the stricter
 * `isCredentialName` (text and JSON).
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

/**
 * Names (or name parts) that are credentials wherever they appear: in a URL,
 * in free text, as a JSON key. Shared by {@link isSecretParam} and
 * {@link isCredentialName}.
 */
const CREDENTIAL_NAMES = new Set([
  "password",
  "passwd",
  "pwd",
  "pass",
  "passcode",
  "pin",
  "token",
  "tokens",
  "access_token",
  "id_token",
  "refresh_token",
  "login_token",
  "jwt",
  "bearer",
  "authorization",
  "auth",
  "otp",
  "totp",
  "hotp",
  "ott",
  "secret",
  "session",
  "sid",
  "apikey",
  "api_key",
  "signature",
  "sig",
  "nonce",
  "csrf",
  "xsrf",
  "saml",
  "samlart",
  "cookie",
  "cookies",
]);

/**
 * Names that carry credentials in a URL's query or fragment but are too
 * common as ordinary words to count as credentials in text or JSON (`code` is
 * an error code there, `state` a US state, `key` a translation key).
 */
const URL_ONLY_NAMES = new Set([
  "code",
  "mfa",
  "2fa",
  "key",
  "state",
  "ticket",
  "access",
  "refresh",
  "sso",
  "verification",
  "magic",
]);

/** Substrings that make any name a credential (`client_secret`, `jsessionid`). */
const CREDENTIAL_PARTS = [
  "password",
  "passwd",
  "passcode",
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
  "samlrequest",
  "samlart",
  "assertion",
  "csrf",
  "xsrf",
  "jwt",
  "cookie",
];

/**
 * A last name part saying that a field describes a credential rather than
 * holds one (`token_type`, `passwordHint`, `sessionTimeout`).
 */
const DESCRIPTIVE_PARTS = new Set([
  "type",
  "types",
  "kind",
  "format",
  "method",
  "methods",
  "mode",
  "scheme",
  "expires",
  "expiry",
  "expiration",
  "exp",
  "ttl",
  "timeout",
  "lifetime",
  "age",
  "length",
  "len",
  "count",
  "policy",
  "policies",
  "rules",
  "hint",
  "strength",
  "min",
  "max",
  "url",
  "uri",
  "endpoint",
  "path",
  "domain",
  "enabled",
  "disabled",
  "required",
  "present",
  "set",
  "valid",
  "changed",
  "updated",
  "created",
  "reset",
  "at",
  "date",
  "time",
  "status",
  "state",
  "label",
  "name",
  "names",
  "version",
  "consent",
  "banner",
  "preferences",
]);

/**
 * Words that, next to `code`, `key` or `ticket`, make it a credential
 * (`mfa_code`, `otpCode`, `verification_code`, `apiKey`, `privateKey`,
 * `service_ticket`); any other (`postalCode`, `countryCode`, `error_code`,
 * `publicKey`, `sortKey`) is ordinary data.
 */
const QUALIFIERS = new Set([
  "mfa",
  "2fa",
  "twofa",
  "otp",
  "totp",
  "sms",
  "auth",
  "authorization",
  "authentication",
  "verification",
  "verify",
  "security",
  "login",
  "signin",
  "access",
  "one",
  "confirmation",
  "confirm",
  "magic",
  "recovery",
  "backup",
  "pin",
  "pass",
  "device",
  "session",
  "secret",
  "private",
  "api",
  "client",
  "signing",
  "encryption",
  "master",
  "service",
  "sso",
  "refresh",
  "oauth",
  "grant",
]);

/** Splits a name into lower-case parts on `_`, `-`, `.`, spaces and camelCase. */
function nameParts(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((p) => p !== "");
}

/**
 * Whether a name (a JSON key, the name in a `name=value` pair of free text)
 * holds a credential: `password`, `access_token`, `sessionId`, `mfa_code`,
 * `otpCode`, `apiKey`, `csrf_token`, `jwt`, `SAMLResponse`, `pin`, … This is
 * the strict rule: a value found under such a name is scrubbed wherever it
 * appears, so ordinary names stay out (`postalCode`, `countryCode`, `code`,
 * `key`, `state`), and so do names that describe a credential without holding
 * one (`token_type`, `passwordHint`, `sessionTimeout`).
 *
 * @example
 * ```ts
 * import { isCredentialName } from "@passage/connect/redact";
 * isCredentialName("refresh_token"); // true
 * isCredentialName("mfaCode"); // true
 * isCredentialName("postalCode"); // false
 * isCredentialName("token_type"); // false
 * ```
 */
export function isCredentialName(name: string): boolean {
  const parts = nameParts(name);
  if (parts.length === 0) return false;
  if (parts.length > 1 && DESCRIPTIVE_PARTS.has(parts[parts.length - 1])) return false;
  const lower = name.toLowerCase();
  if (CREDENTIAL_NAMES.has(lower) || CREDENTIAL_NAMES.has(lower.replaceAll("-", "_"))) return true;
  if (CREDENTIAL_PARTS.some((part) => lower.includes(part))) return true;
  if (parts.some((p) => CREDENTIAL_NAMES.has(p))) return true;
  // a qualified ambiguous word: `mfa_code`, `apiKey`, `service_ticket`
  for (const word of ["code", "key", "ticket"]) {
    if (parts.includes(word) && parts.some((p) => QUALIFIERS.has(p))) return true;
  }
  // `mfacode`, `otpToken`-like single words, and `mfa`/`2fa` with a part after them
  return parts.some((p) => /^(?:mfa|2fa)(?:code|pin)$/.test(p)) ||
    (parts.length > 1 && parts.some((p) => p === "mfa" || p === "2fa") &&
      parts.some((p) => p === "code" || p === "pin" || p === "value"));
}

/**
 * Whether a query or fragment parameter name looks like it carries a
 * credential. Broader than {@link isCredentialName} (masking a URL parameter
 * by mistake costs little): every credential name, plus names that carry
 * credentials mostly in URLs (`code`, `state`, `key`, `ticket`, `SAMLart`,
 * `access`, `refresh`, `sso`, `magic`, `verification`, `mfa`), whole or as a
 * part split on `_`, `-`, `.` and camelCase. Ordinary parameters (`page`,
 * `q`, `id`, `lang`, `redirect_uri`, `client_id`) are not.
 *
 * @example
 * ```ts
 * import { isSecretParam } from "@passage/connect/redact";
 * isSecretParam("client_secret"); // true
 * isSecretParam("authToken"); // true
 * isSecretParam("state"); // true
 * isSecretParam("page"); // false
 * ```
 */
export function isSecretParam(name: string): boolean {
  const lower = name.toLowerCase();
  if (CREDENTIAL_NAMES.has(lower) || URL_ONLY_NAMES.has(lower)) return true;
  if (CREDENTIAL_PARTS.some((part) => lower.includes(part))) return true;
  if (nameParts(name).some((p) => CREDENTIAL_NAMES.has(p) || URL_ONLY_NAMES.has(p))) return true;
  return isCredentialName(name);
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
 * redactUrl("https://user:pw@example.com/cb?code=abc&state=xyz&page=2#access_token=t");
 * // "https://example.com/cb?code=REDACTED&state=REDACTED&page=2#access_token=REDACTED"
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

/** Values that are words, not secrets, even under a credential name (`"token_type": "Bearer"`). */
const NOT_SECRETS = new Set([
  "bearer",
  "basic",
  "true",
  "false",
  "null",
  "none",
  "undefined",
  "active",
  "inactive",
  "expired",
  "valid",
  "invalid",
  "required",
  "optional",
  "enabled",
  "disabled",
  "yes",
  "no",
  "redacted",
  "[redacted]",
]);

/** A JWT or JWE in compact form: `eyJ…` header, then two to four `.` parts. */
const JWT_RE = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*){1,3}/g;

/** `Bearer <token>`: a token of at least 6 characters with a digit or a symbol, or 16 and more. */
const BEARER_RE = /\b([Bb]earer)(\s+)([A-Za-z0-9._~+/=-]{6,})/g;

/** `Basic <base64>` whose value decodes to `user:password`. */
const BASIC_RE = /\b(Basic)(\s+)([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])/g;

function looksLikeBearerToken(token: string): boolean {
  return token.length >= 16 || /[0-9._~+/=-]/.test(token);
}

function looksLikeBasicCredentials(value: string): boolean {
  if (value.length % 4 !== 0) return false;
  try {
    const decoded = atob(value);
    return decoded.includes(":") && /^[\x20-\x7e]+$/.test(decoded);
  } catch {
    return false;
  }
}

/**
 * `name=value`, `name: value`, `"name": "value"` (and the same JSON-escaped
 * inside a string, `\"name\":\"value\"`). Groups: 1 the name's opening quote
 * (with its backslash), 2 the name, 3 the separator, 4 the value.
 */
const PAIR_RE =
  /(?<![\w.$-])(\\?["']?)([A-Za-z_$][\w.$-]{0,63})\1(\s*[:=]\s*)(\\?"(?:[^"\\\n]|\\[^"\n])*\\?"|'(?:[^'\\\n]|\\.)*'|[^\s&;,"'<>()[\]{}\\]+)/g;

/** `<input name="csrf_token" value="…">`, `<meta name="csrf-token" content="…">`. */
const TAG_RE = /<(?:input|meta)\b[^>]*>/gi;
const TAG_NAME_RE = /\b(?:name|id|property|itemprop)\s*=\s*(["']?)([^"'\s>]+)\1/gi;
const TAG_VALUE_RE = /(\b(?:value|content)\s*=\s*)(["'])([^"']*)\2/gi;

function isMaskedAlready(value: string): boolean {
  return value === REDACTED || value === REDACTED_SECRET;
}

/** A pair's value with its quotes kept and what is inside them masked. */
function maskPairValue(value: string): string | null {
  let open = "";
  let inner = value;
  let close = "";
  const quoted = /^(\\?["'])([\s\S]*?)(\\?["'])$/.exec(value);
  if (quoted && value.length >= 2) [, open, inner, close] = quoted;
  if (inner === "" || isMaskedAlready(inner) || NOT_SECRETS.has(inner.toLowerCase())) return null;
  return `${open}${REDACTED_SECRET}${close}`;
}

/**
 * Masks credentials in free text: a console line, an error message, an HTML
 * page, a response body. In order:
 *
 * - every http(s)/ws(s) URL is redacted as by {@link redactUrl};
 * - JWT-shaped strings (`eyJ….….…`), `Bearer <token>` values and
 *   `Basic <base64 of user:password>` values become `[REDACTED]`;
 * - the value of `name=value`, `name: value` and `"name": "value"` pairs
 *   (also JSON-escaped inside a string) whose name is a credential name
 *   ({@link isCredentialName}) becomes `[REDACTED]`, quotes kept;
 * - in `<input>` and `<meta>` tags named like a credential
 *   (`<meta name="csrf-token" content="…">`), `value` and `content` become
 *   `[REDACTED]`.
 *
 * Ordinary text is left as it was: `Error code: 404`, `Press any key: Enter`,
 * `Bearer tokens expire`, `Basic plan`. A pair's value ends at white space,
 * so `password: two words` masks only `two`.
 *
 * @example
 * ```ts
 * import { redactText } from "@passage/connect/redact";
 * redactText("login ok, token=abc123; see https://x.test/?sid=s1");
 * // "login ok, token=[REDACTED]; see https://x.test/?sid=REDACTED"
 * redactText('{"access_token":"t0k3n","expires_in":3600}');
 * // '{"access_token":"[REDACTED]","expires_in":3600}'
 * redactText("Authorization: Bearer abc.def-123"); // "Authorization: Bearer [REDACTED]"
 * ```
 */
export function redactText(text: string): string {
  let out = redactUrlsInText(text);
  out = out.replace(JWT_RE, REDACTED_SECRET);
  out = out.replace(
    BEARER_RE,
    (all, scheme: string, space: string, token: string) =>
      looksLikeBearerToken(token) && !isMaskedAlready(token)
        ? `${scheme}${space}${REDACTED_SECRET}`
        : all,
  );
  out = out.replace(
    BASIC_RE,
    (all, scheme: string, space: string, value: string) =>
      looksLikeBasicCredentials(value) ? `${scheme}${space}${REDACTED_SECRET}` : all,
  );
  out = out.replace(TAG_RE, (tag) => {
    let named = false;
    for (const m of tag.matchAll(TAG_NAME_RE)) if (isCredentialName(m[2])) named = true;
    if (!named) return tag;
    return tag.replace(
      TAG_VALUE_RE,
      (all, head: string, quote: string, value: string) =>
        value === "" ? all : `${head}${quote}${REDACTED_SECRET}${quote}`,
    );
  });
  return redactPairs(out);
}

/**
 * Masks the values of credential-named pairs. The value of any other pair is
 * searched in turn (`next=/cb?token=…`, `href="/x?sid=…"`, `failed: pin=…`):
 * it is shorter than the text it came from, so this ends.
 */
function redactPairs(text: string): string {
  return text.replace(PAIR_RE, (all, quote: string, name: string, sep: string, value: string) => {
    const head = `${quote}${name}${quote}${sep}`;
    if (!isCredentialName(name)) {
      const inner = redactPairs(value);
      return inner === value ? all : head + inner;
    }
    const masked = maskPairValue(value);
    return masked === null ? all : head + masked;
  });
}

/** Adds every credential-looking substring of a string (JWTs, bearer tokens) to `out`. */
function shapedCredentials(s: string, out: Set<string>): void {
  for (const m of s.matchAll(JWT_RE)) out.add(m[0]);
  for (const m of s.matchAll(BEARER_RE)) if (looksLikeBearerToken(m[3])) out.add(m[3]);
  for (const m of s.matchAll(BASIC_RE)) if (looksLikeBasicCredentials(m[3])) out.add(m[3]);
}

function isSecretValue(s: string): boolean {
  return s.length >= MIN_SECRET_LENGTH && !isMaskedAlready(s) && !NOT_SECRETS.has(s.toLowerCase());
}

/**
 * The string values inside a parsed JSON value that authenticate someone, to
 * be scrubbed (with {@link redactSecrets}) wherever else they appear: the
 * strings (directly, or in an array) under keys whose name is a credential
 * name ({@link isCredentialName}: `token`, `access_token`, `sessionId`,
 * `password`, `otp`, `mfa_code`, … but not `postalCode`, `countryCode`,
 * `token_type` or `state`), and JWT-shaped, `Bearer …` and `Basic …` values
 * anywhere. A string that is itself JSON (a body held as text) is searched
 * too. Values shorter than {@link MIN_SECRET_LENGTH} characters and plain
 * words (`"Bearer"`, `"active"`, `"true"`) are left out: each value returned
 * is scrubbed everywhere, so a false positive destroys ordinary data.
 *
 * @example
 * ```ts
 * import { credentialValuesIn } from "@passage/connect/redact";
 * credentialValuesIn({
 *   access_token: "at-123456",
 *   token_type: "Bearer",
 *   user: { name: "Ada", postalCode: "94107", mfa_code: "918273" },
 * });
 * // ["at-123456", "918273"]
 * ```
 */
export function credentialValuesIn(value: unknown): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, depth: number): void => {
    if (depth > 100) return;
    if (typeof v === "string") {
      shapedCredentials(v, out);
      const t = v.trim();
      if (t.length > 1 && (t[0] === "{" || t[0] === "[") && depth < 20) {
        try {
          walk(JSON.parse(t), depth + 1);
        } catch {
          // not JSON after all
        }
      }
      return;
    }
    if (v === null || typeof v !== "object") return;
    if (Array.isArray(v)) {
      for (const item of v) walk(item, depth + 1);
      return;
    }
    for (const [k, item] of Object.entries(v)) {
      if (isCredentialName(k)) {
        const candidates = Array.isArray(item) ? item : [item];
        for (const c of candidates) if (typeof c === "string" && isSecretValue(c)) out.add(c);
      }
      walk(item, depth + 1);
    }
  };
  walk(value, 0);
  return [...out];
}

/**
 * Returns a copy of a JSON value in which every string under a key whose name
 * is a credential name ({@link isCredentialName}), directly or in an array,
 * is replaced with `[REDACTED]` ({@link REDACTED_SECRET}), at any depth.
 * Objects under such keys are searched, not blanked; numbers, booleans and
 * the rest are kept.
 *
 * @example
 * ```ts
 * import { redactCredentialFields } from "@passage/connect/redact";
 * redactCredentialFields({ user: "ada", auth: { refreshToken: "rt-1", expiresIn: 60 } });
 * // { user: "ada", auth: { refreshToken: "[REDACTED]", expiresIn: 60 } }
 * ```
 */
export function redactCredentialFields(value: unknown): unknown {
  const walk = (v: unknown, credential: boolean, depth: number): unknown => {
    if (typeof v === "string") return credential && v !== "" ? REDACTED_SECRET : v;
    if (v === null || typeof v !== "object" || depth > 200) return v;
    if (Array.isArray(v)) return v.map((item) => walk(item, credential, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) out[k] = walk(item, isCredentialName(k), depth + 1);
    return out;
  };
  return walk(value, false, 0);
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
