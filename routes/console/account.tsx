/** @jsxImportSource hono/jsx */
/** `/console/account`: the account's name, the app name and logo for claim pages, and its members. */
import type { Hono } from "hono";
import { z } from "zod";
import { accountSettingsSchema, addMember, updateAccount } from "../../lib/accounts.ts";
import type { AppEnv } from "../../lib/http.ts";
import { consolePage, Csrf } from "./_layout.tsx";
import { readForm } from "./_form.ts";

export function registerAccountPages(app: Hono<AppEnv>): void {
  app.get("/console/account", (c) => {
    const a = c.var.account;
    const saved = c.req.query("saved");
    return consolePage(
      c,
      { title: "Account", section: "account" },
      (
        <>
          <h1>Account</h1>
          {saved ? <div class="notice" role="status">Saved.</div> : null}
          <p class="muted">
            Id <code>{a.id}</code>: webhooks are signed with it as <code>aud</code>.
          </p>
          <div class="split">
            <section class="card" aria-labelledby="settings">
              <h2 id="settings">Settings</h2>
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
                <label for="acct-logo">Logo URL (https)</label>
                <input
                  id="acct-logo"
                  name="logoUrl"
                  type="url"
                  maxlength={500}
                  value={a.logoUrl ?? ""}
                />
                <p>
                  <button type="submit">Save</button>
                </p>
              </form>
            </section>
            <section class="card" aria-labelledby="members">
              <h2 id="members">Members</h2>
              <ul>
                {a.members.map((m) => <li key={m}>{m}</li>)}
              </ul>
              <form method="post" action="/console/account/members" class="row">
                <Csrf c={c} />
                <div>
                  <label for="member-email">Email</label>
                  <input id="member-email" name="email" type="email" required />
                </div>
                <button type="submit">Add member</button>
              </form>
              <p class="muted">They sign in with that email, verified by the identity provider.</p>
            </section>
          </div>
        </>
      ),
    );
  });

  app.post("/console/account", async (c) => {
    await updateAccount(c.var.kv, c.var.account.id, await readForm(c, accountSettingsSchema));
    return c.redirect("/console/account?saved=1", 303);
  });

  app.post("/console/account/members", async (c) => {
    const { email } = await readForm(c, z.strictObject({ email: z.string().max(320) }));
    await addMember(c.var.kv, c.var.account.id, email);
    return c.redirect("/console/account?saved=1", 303);
  });
}
