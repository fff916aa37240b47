/**
 * The magic credentials, the same on every sandbox site (see README.md).
 *
 * @module
 */

/** Who is signed in: the usual account, or the one whose data changed shape. */
export type SandboxUser = "good" | "changed";

/** The password of `user_good` and `user_changed`. */
export const SANDBOX_PASSWORD = "pass_good";
/** The MFA code every sandbox accepts. */
export const SANDBOX_MFA_CODE = "1234";

const USERS: Record<string, SandboxUser> = {
  user_good: "good",
  user_changed: "changed",
};

/**
 * What a sandbox site does with a username and password. Besides
 * `pass_good`, `user_good` accepts any `pass_good_<anything>`, so a test can
 * log in with a password nobody else uses (a canary) and look for it.
 */
export function checkPassword(
  username: string,
  password: string,
): SandboxUser | "wrong" | "locked" {
  if (username === "user_locked") return "locked";
  const user = USERS[username];
  if (user === undefined) return "wrong";
  const canary = user === "good" && password.startsWith(`${SANDBOX_PASSWORD}_`) &&
    password.length > SANDBOX_PASSWORD.length + 1;
  if (password !== SANDBOX_PASSWORD && !canary) return "wrong";
  return user;
}

/**
 * Whether an MFA code is the sandbox's: `1234`, or any six digits starting
 * with `1234` (`123487`), a canary code for tests.
 */
export function checkMfaCode(code: string): boolean {
  const trimmed = code.trim();
  return trimmed === SANDBOX_MFA_CODE || new RegExp(`^${SANDBOX_MFA_CODE}\\d{2}$`).test(trimmed);
}
