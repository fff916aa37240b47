/** @jsxImportSource hono/jsx */
/**
 * `/console/account`: the account's name, the app name and logo its claim
 * pages show, its members with their roles and the keys each made, and the
 * invitations waiting for an answer. Everyone in the account sees it; only
 * admins change it (anyone else gets the 403 page). Adding an email invites
 * it (the person joins by accepting, `invitations.tsx`); removing a member
 * also revokes the keys they made. `POST /console/switch` changes the account
 * the console shows, for a member of several.
 */
import type { Hono } from "hono";
import { z } from "zod";
import {
  accountSettingsSchema,
  dropInvitation,
  inviteMember,
  pendingInvitations,
  roleOf,
  updateAccount,
} from "../../lib/accounts.ts";
import { logoPath, removeAccountLogo, setAccountLogo } from "../../lib/account_logos.ts";
import { listAccountApiKeys } from "../../lib/api_keys.ts";
import { removeMemberAndTheirKeys } from "../../lib/member_removal.ts";
import { switchConsoleAccount } from "../../lib/auth/console_sessions.ts";
import { getSessionId } from "../../lib/auth/get_session_id.ts";
import { PassageError } from "../../lib/errors.ts";
import type { AppEnv } from "../../lib/http.ts";
import { consolePage, Csrf, when } from "./_layout.tsx";
import { readForm } from "./_form.ts";
import { requireConsoleAdmin } from "./_middleware.ts";

const NOTICES: Record<string, string> = {
  settings: "Settings saved.",
  logo: "Logo saved: claim pages show it now.",
  "logo-removed": "Logo removed.",
  invited:
    "Invitation sent: they see it when they sign in with that email, and join only if they accept.",
  member: "Role saved.",
  withdrawn: "Invitation withdrawn.",
  "member-removed": "Member removed.",
};

const emailSchema = z.strictObject({ email: z.string().max(320) });

const memberSchema = z.strictObject({
  email: z.string().max(320),
  role: z.enum(["admin", "member"]).default("member"),
});

export function registerAccountPages(app: Hono<AppEnv>): void {
  app.get("/console/account", async (c) => {
    const a = c.var.account;
    const admin = roleOf(a, c.var.consoleSession.email) === "admin";
    const notice = NOTICES[c.req.query("saved") ?? ""];
    // A count only: nothing from the URL is echoed into the page.
    const revokedKeys = Number(/^\d{1,4}$/.exec(c.req.query("revoked") ?? "")?.[0] ?? 0);
    const keysBy = new Map<string, string[]>();
    for (const k of await listAccountApiKeys(c.var.services.kv, a.id)) {
      if (k.revokedAt || !k.createdBy) continue;
      keysBy.set(k.createdBy, [...keysBy.get(k.createdBy) ?? [], `${k.name} (${k.mode})`]);
    }
    const invitations = pendingInvitations(a);
    const appName = a.appName ?? a.name;
    return consolePage(
      c,
      { title: "Account", section: "account" },
      (
        <>
          <h1>Account</h1>
          {notice
            ? (
              <div class="notice" role="status">
                {notice}
                {revokedKeys
                  ? ` ${revokedKeys} API key${revokedKeys === 1 ? "" : "s"} they made ${
                    revokedKeys === 1 ? "was" : "were"
                  } revoked.`
                  : null}
              </div>
            )
            : null}
          <p class="muted">
            Id <code>{a.id}</code>: webhooks are signed with it as <code>aud</code>.
          </p>
          {admin ? null : (
            <p class="notice" role="note">
              You are a member of this account: only its admins change these settings.
            </p>
          )}
          <div class="split">
            <section class="card" aria-labelledby="settings">
              <h2 id="settings">Settings</h2>
              {admin
                ? (
                  <form method="post" action="/console/account">
                    <Csrf c={c} />
                    <label for="acct-name">Account name</label>
                    <input id="acct-name" name="name" required maxlength={80} value={a.name} />
                    <label for="acct-app">App name on claim pages</label>
                    <input
                      id="acct-app"
                      name="appName"
                      maxlength={80}
                      value={a.appName ?? ""}
                      placeholder="Acme Budget"
                    />
                    <p>
                      <button type="submit">Save</button>
                    </p>
                  </form>
                )
                : (
                  <dl>
                    <dt>Account name</dt>
                    <dd>{a.name}</dd>
                    <dt>App name on claim pages</dt>
                    <dd>{a.appName ?? "—"}</dd>
                  </dl>
                )}
            </section>
            <section class="card" aria-labelledby="logo">
              <h2 id="logo">Logo on claim pages</h2>
              {a.logo
                ? (
                  <img
                    class="logo-preview"
                    src={logoPath(a.logo)}
                    alt={appName}
                    width={96}
                    height={96}
                  />
                )
                : <p class="muted">No logo: claim pages show the app name alone.</p>}
              {admin
                ? (
                  <>
                    <form
                      method="post"
                      action="/console/account/logo"
                      enctype="multipart/form-data"
                    >
                      <Csrf c={c} />
                      <label for="acct-logo">Image (PNG, JPEG or WebP, at most 256 KB)</label>
                      <input
                        id="acct-logo"
                        name="logo"
                        type="file"
                        required
                        accept="image/png,image/jpeg,image/webp"
                      />
                      <p>
                        <button type="submit">Upload logo</button>
                      </p>
                    </form>
                    {a.logo
                      ? (
                        <form method="post" action="/console/account/logo/remove">
                          <Csrf c={c} />
                          <button class="quiet" type="submit">Remove logo</button>
                        </form>
                      )
                      : null}
                  </>
                )
                : null}
              <p class="muted">
                Served from this server, so claim pages load nothing from elsewhere. A square image
                of at least 128 pixels looks best.
              </p>
            </section>
          </div>
          <section class="card" aria-labelledby="members">
            <h2 id="members">Members</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Keys they made</th>
                  {admin ? <th scope="col">Remove</th> : null}
                </tr>
              </thead>
              <tbody>
                {a.members.map((m) => (
                  <tr key={m}>
                    <td>{m}</td>
                    <td>
                      <span class="badge">{roleOf(a, m)}</span>
                    </td>
                    <td>{keysBy.get(m)?.join(", ") ?? "—"}</td>
                    {admin
                      ? (
                        <td>
                          <form method="post" action="/console/account/members/remove">
                            <Csrf c={c} />
                            <input type="hidden" name="email" value={m} />
                            <button
                              class="quiet"
                              type="submit"
                              aria-label={keysBy.has(m)
                                ? `Remove and revoke keys of ${m}`
                                : `Remove ${m}`}
                            >
                              {keysBy.has(m) ? "Remove and revoke keys" : "Remove"}
                            </button>
                          </form>
                        </td>
                      )
                      : null}
                  </tr>
                ))}
              </tbody>
            </table>
            {invitations.length
              ? (
                <>
                  <h3 id="invitations">Invitations waiting for an answer</h3>
                  <table aria-labelledby="invitations">
                    <thead>
                      <tr>
                        <th scope="col">Email</th>
                        <th scope="col">Role offered</th>
                        <th scope="col">Invited by</th>
                        <th scope="col">Expires</th>
                        {admin ? <th scope="col">Withdraw</th> : null}
                      </tr>
                    </thead>
                    <tbody>
                      {invitations.map((i) => (
                        <tr key={i.email}>
                          <td>{i.email}</td>
                          <td>
                            <span class="badge">{i.role}</span>
                          </td>
                          <td>{i.invitedBy}</td>
                          <td>{when(i.expiresAt)}</td>
                          {admin
                            ? (
                              <td>
                                <form method="post" action="/console/account/invitations/withdraw">
                                  <Csrf c={c} />
                                  <input type="hidden" name="email" value={i.email} />
                                  <button
                                    class="quiet"
                                    type="submit"
                                    aria-label={`Withdraw the invitation of ${i.email}`}
                                  >
                                    Withdraw
                                  </button>
                                </form>
                              </td>
                            )
                            : null}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </>
              )
              : null}
            {admin
              ? (
                <form method="post" action="/console/account/members" class="row">
                  <Csrf c={c} />
                  <div>
                    <label for="member-email">Email</label>
                    <input id="member-email" name="email" type="email" required />
                  </div>
                  <div>
                    <label for="member-role">Role</label>
                    <select id="member-role" name="role">
                      <option value="member">Member</option>
                      <option value="admin">Admin</option>
                    </select>
                  </div>
                  <button type="submit">Invite</button>
                </form>
              )
              : null}
            <p class="muted">
              An invited person joins when they sign in with that email, verified by the identity
              provider, and accept; inviting a member changes their role. Removing a member revokes
              the API keys they made. Admins manage members, the logo, webhook signing keys and live
              keys.
            </p>
          </section>
        </>
      ),
    );
  });

  app.post("/console/account", async (c) => {
    requireConsoleAdmin(c, "change the account's settings");
    await updateAccount(
      c.var.services.kv,
      c.var.account.id,
      await readForm(c, accountSettingsSchema),
    );
    return c.redirect("/console/account?saved=settings", 303);
  });

  app.post("/console/account/logo", async (c) => {
    requireConsoleAdmin(c, "change the logo");
    const file = (await c.req.parseBody())["logo"];
    // The guard caps the form at 1 MB; `setAccountLogo` checks size and type before any write.
    if (!(file instanceof File) || file.size === 0) {
      throw new PassageError("invalid_request", "Choose an image file to upload as the logo", {
        param: "logo",
      });
    }
    await setAccountLogo(
      c.var.services.kv,
      c.var.account.id,
      new Uint8Array(await file.arrayBuffer()),
    );
    return c.redirect("/console/account?saved=logo", 303);
  });

  app.post("/console/account/logo/remove", async (c) => {
    requireConsoleAdmin(c, "remove the logo");
    await removeAccountLogo(c.var.services.kv, c.var.account.id);
    return c.redirect("/console/account?saved=logo-removed", 303);
  });

  app.post("/console/account/members", async (c) => {
    requireConsoleAdmin(c, "invite members");
    const { email, role } = await readForm(c, memberSchema);
    const { invited } = await inviteMember(
      c.var.services.kv,
      c.var.account.id,
      email,
      role,
      c.var.consoleSession.email,
    );
    return c.redirect(`/console/account?saved=${invited ? "invited" : "member"}`, 303);
  });

  app.post("/console/account/invitations/withdraw", async (c) => {
    requireConsoleAdmin(c, "withdraw invitations");
    const { email } = await readForm(c, emailSchema);
    await dropInvitation(c.var.services.kv, c.var.account.id, email);
    return c.redirect("/console/account?saved=withdrawn", 303);
  });

  app.post("/console/account/members/remove", async (c) => {
    requireConsoleAdmin(c, "remove members");
    const { email } = await readForm(c, emailSchema);
    const { revoked } = await removeMemberAndTheirKeys(c.var.services.kv, c.var.account.id, email);
    return c.redirect(`/console/account?saved=member-removed&revoked=${revoked.length}`, 303);
  });

  app.post("/console/switch", async (c) => {
    const { accountId } = await readForm(c, z.strictObject({ accountId: z.string().max(64) }));
    await switchConsoleAccount(
      c.var.services.kv,
      getSessionId(c.req.raw, c.var.services.config),
      accountId,
    );
    // Every page is scoped to the account: start again from its overview.
    return c.redirect("/console", 303);
  });
}
