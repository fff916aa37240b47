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

/** What a sandbox site does with a username and password. */
export function checkPassword(
  username: string,
  password: string,
): SandboxUser | "wrong" | "locked" {
  if (username === "user_locked") return "locked";
  const user = USERS[username];
  if (user === undefined || password !== SANDBOX_PASSWORD) return "wrong";
  return user;
}

/** Whether an MFA code is the sandbox's. */
export function checkMfaCode(code: string): boolean {
  return code.trim() === SANDBOX_MFA_CODE;
}
