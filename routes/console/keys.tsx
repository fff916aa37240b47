/** @jsxImportSource hono/jsx */
/**
 * `/console/keys`: an account's API keys: create (the secret shown once), list
 * with who made each and its last use, revoke. Any member makes and revokes
 * test keys; live keys, which reach real users' data, are for admins.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import {
  type ApiKeyListItem,
  CLI_CREATOR,
  createApiKey,
  getAccountApiKey,
  listAccountApiKeys,
  revokeApiKey,
} from "../../lib/api_keys.ts";
import { roleOf } from "../../lib/accounts.ts";
import type { AppEnv } from "../../lib/http.ts";
import { Badge, consolePage, Csrf, when } from "./_layout.tsx";
import { readForm } from "./_form.ts";
import { requireConsoleAdmin } from "./_middleware.ts";

const createKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(80),
  mode: z.enum(["test", "live"]),
});

/** Who made a key, as the list shows it: a member (marked if no longer one), the CLI, or unknown. */
function Creator(props: { c: Context<AppEnv>; createdBy?: string }) {
  const by = props.createdBy;
  if (!by) return <span class="muted">—</span>;
  if (by === CLI_CREATOR) return <span class="muted">CLI</span>;
  return (
    <>
      {by}
      {roleOf(props.c.var.account, by) ? null : <span class="muted">(no longer a member)</span>}
    </>
  );
}

function KeyList(props: { c: Context<AppEnv>; keys: ApiKeyListItem[]; admin: boolean }) {
  return (
    <section class="card" aria-labelledby="keys">
      <h2 id="keys">Keys</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Key</th>
            <th scope="col">Mode</th>
            <th scope="col">Created by</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {props.keys.map((k) => (
            <tr>
              <td>{k.name}</td>
              <td>
                <code>{k.hint}</code>
                <br />
                <span class="muted mono">{k.id}</span>
              </td>
              <td>{k.mode}</td>
              <td>
                <Creator c={props.c} createdBy={k.createdBy} />
              </td>
              <td>{when(k.createdAt)}</td>
              <td>{when(k.lastUsedAt)}</td>
              <td>
                {k.revokedAt
                  ? <Badge status="revoked" />
                  : k.mode === "live" && !props.admin
                  ? <span class="muted">active</span>
                  : (
                    <form method="post" action={`/console/keys/${k.id}/revoke`} class="inline">
                      <Csrf c={props.c} />
                      <button class="danger" type="submit" aria-label={`Revoke ${k.name}`}>
                        Revoke
                      </button>
                    </form>
                  )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.keys.length ? null : <p class="muted">No keys yet.</p>}
    </section>
  );
}

async function keysPage(c: Context<AppEnv>, created?: { secret: string; name: string }) {
  const keys = await listAccountApiKeys(c.var.services.kv, c.var.account.id);
  const admin = roleOf(c.var.account, c.var.consoleSession.email) === "admin";
  const revoked = c.req.query("revoked");
  return consolePage(
    c,
    { title: "API keys", section: "keys", status: created ? 201 : 200 },
    (
      <>
        <h1>API keys</h1>
        {created
          ? (
            <div class="notice" role="status">
              <p>
                Created <strong>{created.name}</strong>. Copy the secret now: it is shown once.
              </p>
              <code class="secret" id="new-secret">{created.secret}</code>
            </div>
          )
          : null}
        {revoked
          ? (
            <div class="notice" role="status">
              Revoked <code>{revoked}</code>: its requests now get 401 and its sockets are closed.
            </div>
          )
          : null}
        <section class="card" aria-labelledby="create">
          <h2 id="create">Create a key</h2>
          <form method="post" action="/console/keys" class="row">
            <Csrf c={c} />
            <div>
              <label for="key-name">Name</label>
              <input id="key-name" name="name" required maxlength={80} placeholder="backend" />
            </div>
            <div>
              <label for="key-mode">Mode</label>
              <select id="key-mode" name="mode">
                <option value="test">Test (sandboxes)</option>
                {admin ? <option value="live">Live</option> : null}
              </select>
            </div>
            <button type="submit">Create key</button>
          </form>
          {admin
            ? null
            : <p class="muted">Live keys are made and revoked by the account's admins.</p>}
        </section>
        <KeyList c={c} keys={keys} admin={admin} />
      </>
    ),
  );
}

export function registerKeyPages(app: Hono<AppEnv>): void {
  app.get("/console/keys", (c) => keysPage(c));
  app.post("/console/keys", async (c) => {
    const form = await readForm(c, createKeySchema);
    if (form.mode === "live") requireConsoleAdmin(c, "create live API keys");
    const { secret } = await createApiKey(c.var.services.kv, {
      ...form,
      accountId: c.var.account.id,
      createdBy: c.var.consoleSession.email,
    });
    return keysPage(c, { secret, name: form.name });
  });
  app.post("/console/keys/:id/revoke", async (c) => {
    const key = await getAccountApiKey(c.var.services.kv, c.var.account.id, c.req.param("id"));
    if (key.mode === "live") requireConsoleAdmin(c, "revoke live API keys");
    await revokeApiKey(c.var.services.kv, key.id);
    return c.redirect(`/console/keys?revoked=${key.id}`, 303);
  });
}
