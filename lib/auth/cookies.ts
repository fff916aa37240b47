/**
 * The console's cookies: `__Host-` names (no Domain, Path=/, Secure), HttpOnly,
 * SameSite=Lax. Secure is set when the server is served over https, and on
 * loopback, which browsers treat as a secure context; a plain-http server on
 * another host (a LAN dev setup) gets unprefixed names without Secure, since
 * browsers refuse `__Host-` cookies without it.
 */
import { isLoopback } from "./providers.ts";

/** The two cookies and their attributes for a server at `publicUrl`. */
export interface CookiePolicy {
  session: string;
  oauth: string;
  secure: boolean;
}

/** The cookie names and Secure flag for a server whose public URL is `publicUrl`. */
export function cookiePolicy(publicUrl: string): CookiePolicy {
  const url = new URL(publicUrl);
  const secure = url.protocol === "https:" || isLoopback(url.hostname);
  const prefix = secure ? "__Host-" : "";
  return { session: `${prefix}passage_console`, oauth: `${prefix}passage_oauth`, secure };
}

/** A `Set-Cookie` value with the console's attributes. */
export function serializeCookie(
  policy: CookiePolicy,
  name: string,
  value: string,
  maxAgeSeconds: number,
): string {
  return [
    `${name}=${value}`,
    "Path=/",
    `Max-Age=${maxAgeSeconds}`,
    "HttpOnly",
    "SameSite=Lax",
    ...(policy.secure ? ["Secure"] : []),
  ].join("; ");
}

/** The value of cookie `name` in `request`, or null. */
export function readCookie(request: Request, name: string): string | null {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
