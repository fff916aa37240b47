/** `getSessionId`: the console session cookie's value, or null (not checked against KV). */
import { cookiePolicy, readCookie } from "./cookies.ts";

export function getSessionId(request: Request, options: { publicUrl: string }): string | null {
  return readCookie(request, cookiePolicy(options.publicUrl).session);
}
