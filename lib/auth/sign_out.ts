/** `signOut`: ends the console session behind the request's cookie and clears it. */
import { deleteConsoleSession } from "./console_sessions.ts";
import { cookiePolicy, serializeCookie } from "./cookies.ts";
import { getSessionId } from "./get_session_id.ts";

/** Answers the redirect to `to` that signs the browser out. */
export async function signOut(
  kv: Deno.Kv,
  request: Request,
  options: { publicUrl: string; to?: string },
): Promise<Response> {
  await deleteConsoleSession(kv, getSessionId(request, options));
  const policy = cookiePolicy(options.publicUrl);
  return new Response(null, {
    status: 303,
    headers: {
      location: options.to ?? "/console/sign-in",
      "set-cookie": serializeCookie(policy, policy.session, "", 0),
      "cache-control": "no-store",
    },
  });
}
