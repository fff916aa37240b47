/**
 * The dev sign-in: for `deno task dev` with no identity provider, a one-time
 * link printed in the terminal (single use, 10 minutes) that signs in as
 * `dev@localhost`. It exists only when the server was started with `--dev`
 * and is not on Deno Deploy (`devSignInAllowed`); otherwise creating or using
 * a link is refused with `dev_sign_in_disabled`.
 */
import { PassageError } from "../errors.ts";
import { randomHex, sha256Hex } from "../ids.ts";
import { devSignInTokenKey } from "../kv_keys.ts";
import { startConsoleSession } from "./console_sessions.ts";
import { cookiePolicy, serializeCookie } from "./cookies.ts";

/** Who the dev sign-in signs in as. */
export const DEV_EMAIL = "dev@localhost";
/** How long a printed link stays usable. */
export const DEV_LINK_TTL_SECONDS = 600;

interface DevSignInToken {
  expiresAt: string;
}

/** Whether a server started with `args` in `env` may offer the dev sign-in: `--dev`, and not on Deno Deploy. */
export function devSignInAllowed(
  args: readonly string[],
  env: Record<string, string | undefined>,
): boolean {
  return args.includes("--dev") && !env.DENO_DEPLOYMENT_ID;
}

function refuse(): PassageError {
  return new PassageError(
    "dev_sign_in_disabled",
    "The dev sign-in exists only for `deno task dev` (--dev, not on Deno Deploy)",
  );
}

function enabled(config: { signIn: { devSignIn: boolean } }): boolean {
  // Checked again against the environment: no config object reaches it on Deploy.
  return config.signIn.devSignIn && !Deno.env.get("DENO_DEPLOYMENT_ID");
}

/** A fresh one-time sign-in URL; throws `dev_sign_in_disabled` when not in dev. */
export async function createDevSignInLink(
  kv: Deno.Kv,
  config: { publicUrl: string; signIn: { devSignIn: boolean } },
): Promise<string> {
  if (!enabled(config)) throw refuse();
  const token = `dev_${randomHex(32)}`;
  const record: DevSignInToken = {
    expiresAt: new Date(Date.now() + DEV_LINK_TTL_SECONDS * 1000).toISOString(),
  };
  await kv.set(devSignInTokenKey(await sha256Hex(token)), record, {
    expireIn: DEV_LINK_TTL_SECONDS * 1000,
  });
  return `${config.publicUrl}/console/dev-sign-in?token=${token}`;
}

/** Uses a printed link once: the response signs in as `DEV_EMAIL` and goes to the console. */
export async function redeemDevSignIn(
  kv: Deno.Kv,
  token: string | undefined,
  config: { publicUrl: string; signIn: { devSignIn: boolean; sessionSeconds: number } },
): Promise<Response> {
  if (!enabled(config)) throw refuse();
  if (!token || !/^dev_[0-9a-f]{64}$/.test(token)) {
    throw new PassageError("sign_in_failed", "This dev sign-in link is malformed");
  }
  const entry = await kv.get<DevSignInToken>(devSignInTokenKey(await sha256Hex(token)));
  if (!entry.value || Date.parse(entry.value.expiresAt) <= Date.now()) {
    throw new PassageError(
      "sign_in_failed",
      "This dev sign-in link has expired or was already used; restart `deno task dev` for a new one",
    );
  }
  if (!(await kv.atomic().check(entry).delete(entry.key).commit()).ok) {
    throw new PassageError("sign_in_failed", "This dev sign-in link was already used");
  }
  const { id } = await startConsoleSession(kv, {
    email: DEV_EMAIL,
    via: "dev",
    ttlSeconds: config.signIn.sessionSeconds,
  });
  const policy = cookiePolicy(config.publicUrl);
  return new Response(null, {
    status: 303,
    headers: {
      location: "/console",
      "set-cookie": serializeCookie(policy, policy.session, id, config.signIn.sessionSeconds),
      "cache-control": "no-store",
    },
  });
}
