/** @jsxImportSource hono/jsx */
/**
 * `/console/webhooks`: the account's signing keys (an admin rotates them, the
 * same `rotateWebhookKey` as `deno task webhook-keys rotate --account`; other
 * accounts' keys are untouched), its key set URL, a "send test
 * webhook" form (the same `sendTestWebhook` as `POST /v1/webhooks/test`), and
 * the account's recent events across its links with every attempt.
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../../lib/http.ts";
import { sendTestWebhook } from "../../lib/webhook_delivery.ts";
import { roleOf } from "../../lib/accounts.ts";
import { listAccountWebhookKeys, rotateWebhookKey } from "../../lib/webhook_keys.ts";
import { listAccountWebhooks } from "../../lib/webhooks.ts";
import { testWebhookBodySchema } from "../webhooks.ts";
import { Badge, consolePage, Csrf, when } from "./_layout.tsx";
import { readForm } from "./_form.ts";
import { requireConsoleAdmin } from "./_middleware.ts";

const testFormSchema = testWebhookBodySchema.extend({ mode: z.enum(["test", "live"]) });

/** A console rotation leaves at most this many of the account's own keys in its key set. */
const MAX_SERVABLE_KEYS = 5;

const unix = (s: number | null) => (s === null ? null : new Date(s * 1000).toISOString());

export function registerWebhookPages(app: Hono<AppEnv>): void {
  app.get("/console/webhooks", async (c) => {
    const keys = await listAccountWebhookKeys(c.var.services.kv, c.var.account.id);
    const jwksUrl = new URL(
      `/v1/accounts/${c.var.account.id}/jwks.json`,
      c.var.services.config.publicUrl,
    );
    const events = await listAccountWebhooks(c.var.services.kv, c.var.account.id, 50);
    const sent = c.req.query("sent");
    const rotated = c.req.query("rotated");
    const admin = roleOf(c.var.account, c.var.consoleSession.email) === "admin";
    const overlap = c.var.services.config.webhookKeyOverlapSeconds;
    return consolePage(
      c,
      { title: "Webhooks", section: "webhooks" },
      (
        <>
          <h1>Webhooks</h1>
          {sent ? <div class="notice" role="status">Test webhook sent: {sent}</div> : null}
          {rotated
            ? (
              <div class="notice" role="status">
                New webhooks are signed with{" "}
                <code>{rotated}</code>; the previous key still verifies for{" "}
                {Math.round(overlap / 3600)} h.
              </div>
            )
            : null}
          <div class="split">
            <section class="card" aria-labelledby="test">
              <h2 id="test">Send a test webhook</h2>
              <p class="muted">
                One signed <code>webhook.test</code> event, with <code>aud</code>{" "}
                <code>{c.var.account.id}</code>; not stored, not retried. The API:{" "}
                <code>POST /v1/webhooks/test</code>.
              </p>
              <form method="post" action="/console/webhooks/test" class="row">
                <Csrf c={c} />
                <div>
                  <label for="wh-url">URL</label>
                  <input
                    id="wh-url"
                    name="url"
                    type="url"
                    required
                    size={40}
                    placeholder="https://api.example.com/passage/webhook"
                  />
                </div>
                <div>
                  <label for="wh-mode">Mode</label>
                  <select id="wh-mode" name="mode">
                    <option value="test">Test</option>
                    <option value="live">Live</option>
                  </select>
                </div>
                <button type="submit">Send</button>
              </form>
            </section>
            <section class="card" aria-labelledby="keys">
              <h2 id="keys">Signing keys</h2>
              <table>
                <thead>
                  <tr>
                    <th scope="col">kid</th>
                    <th scope="col">Created</th>
                    <th scope="col">Expires</th>
                  </tr>
                </thead>
                <tbody>
                  {keys.map((k) => (
                    <tr>
                      <td class="mono">
                        {k.kid}
                        {k.accountId ? null : <span class="muted">(server-wide)</span>}
                      </td>
                      <td>{when(unix(k.createdAt))}</td>
                      <td>
                        {k.expiredAt === null ? <Badge status="active" /> : when(unix(k.expiredAt))}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {keys.length ? null : <p class="muted">None yet: the first webhook creates one.</p>}
              <p class="muted">
                Your receivers verify against this account's key set, <code>{jwksUrl.href}</code>
                {" "}
                (<code>verifyWebhook</code> with <code>audience</code>{" "}
                <code>{c.var.account.id}</code>{" "}
                finds it). Rotating makes a new key sign this account's webhooks from now on, and no
                other account's; the previous one stays in the key set for{" "}
                {Math.round(overlap / 3600)} h, so webhooks already sent still verify.
                {keys.some((k) => !k.accountId)
                  ? " The server-wide key signs for this account until its first rotation: a receiver that fetches /.well-known/jwks.json must move to the URL above before then."
                  : null}
              </p>
              {admin
                ? (
                  <form method="post" action="/console/webhooks/rotate">
                    <Csrf c={c} />
                    <button class="quiet" type="submit">Rotate signing key</button>
                  </form>
                )
                : <p class="muted">Only an admin of this account can rotate the signing key.</p>}
            </section>
          </div>
          <section class="card" aria-labelledby="recent">
            <h2 id="recent">Recent events</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Link</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last answer</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {events.map((e) => {
                  const last = e.attempts.at(-1);
                  return (
                    <tr>
                      <td class="mono">
                        {e.id}
                        <br />
                        <span class="muted">{e.type}</span>
                      </td>
                      <td>
                        <a href={`/console/links/${e.linkId}`} class="mono">{e.linkId}</a>
                      </td>
                      <td>
                        <Badge status={e.status} />
                      </td>
                      <td>{e.attempts.length}</td>
                      <td>{last ? (last.statusCode ?? last.error) : "—"}</td>
                      <td>{when(e.createdAt)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {events.length ? null : <p class="muted">No webhook events yet.</p>}
          </section>
        </>
      ),
    );
  });

  app.post("/console/webhooks/rotate", async (c) => {
    requireConsoleAdmin(c, "rotate webhook signing keys");
    const { current } = await rotateWebhookKey(c.var.services.kv, {
      accountId: c.var.account.id,
      overlapSeconds: c.var.services.config.webhookKeyOverlapSeconds,
      maxServable: MAX_SERVABLE_KEYS,
    });
    return c.redirect(`/console/webhooks?rotated=${current.kid}`, 303);
  });

  app.post("/console/webhooks/test", async (c) => {
    const form = await readForm(c, testFormSchema);
    const result = await sendTestWebhook(
      c.var.services,
      { accountId: c.var.account.id, mode: form.mode },
      form.url,
    );
    const said = result.error
      ? `${result.error}${result.statusCode ? ` (${result.statusCode})` : ""}`
      : `${result.statusCode} in ${result.durationMs} ms`;
    return c.redirect(`/console/webhooks?sent=${encodeURIComponent(said)}`, 303);
  });
}
