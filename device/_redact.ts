/**
 * Masks credentials in URLs before they leave the device: the values of query
 * (and fragment) parameters whose names look like secrets, and any
 * `user:password@` part.
 *
 * @module
 */

/** What a masked value is replaced with. */
export const REDACTED = "REDACTED";

/** URLs longer than this are cut (the protocol allows 8192 characters). */
export const MAX_URL_LENGTH = 8192;

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
 * {@link MAX_URL_LENGTH} characters. Strings that are not absolute URLs are
 * returned cut but otherwise unchanged.
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

/** Replaces every http(s) URL inside free text (an error message) with its redacted form. */
export function redactUrlsInText(text: string): string {
  return text.replace(/\b(?:https?|wss?):\/\/[^\s"'<>`()]+/gi, (u) => redactUrl(u));
}
