/** @jsxImportSource hono/jsx */
/** `GET /console`: recent links by status, recent failures, webhook health. */
import type { Context, Hono } from "hono";
import type { Link } from "@passage/connect/schemas";
import type { AppEnv } from "../../lib/http.ts";
import { listLinks } from "../../lib/links.ts";
import { type AccountWebhookEvent, listAccountWebhooks } from "../../lib/webhooks.ts";
import { Badge, consolePage, ModeSwitch, ownerOf, when } from "./_layout.tsx";

interface OverviewData {
  links: Link[];
  events: AccountWebhookEvent[];
}

async function loadOverview(c: Context<AppEnv>): Promise<OverviewData> {
  const owner = ownerOf(c);
  const { data } = await listLinks(c.var.services, owner, { limit: 50 });
  const events = (await listAccountWebhooks(c.var.services.kv, owner.accountId, 50))
    .filter((e) => e.livemode === (owner.mode === "live"));
  return { links: data, events };
}

function LinksByStatus(props: { links: Link[] }) {
  const counts = new Map<string, number>();
  for (const link of props.links) counts.set(link.status, (counts.get(link.status) ?? 0) + 1);
  return (
    <section class="card" aria-labelledby="by-status">
      <h2 id="by-status">Recent links by status</h2>
      {props.links.length
        ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Links (of the last {props.links.length})</th>
              </tr>
            </thead>
            <tbody>
              {[...counts].map(([status, n]) => (
                <tr>
                  <td>
                    <a href={`/console/links?status=${status}`}>
                      <Badge status={status} />
                    </a>
                  </td>
                  <td class="stat">{n}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
        : <p class="muted">No links yet. Create one with an API key.</p>}
    </section>
  );
}

function Failures(props: { links: Link[] }) {
  const failed = props.links.filter((l) => l.status === "failed").slice(0, 5);
  return (
    <section class="card" aria-labelledby="failures">
      <h2 id="failures">Recent failures</h2>
      {failed.length
        ? (
          <ul class="timeline">
            {failed.map((l) => (
              <li>
                <time>{when(l.updatedAt)}</time>
                <a href={`/console/links/${l.id}`} class="mono">{l.id}</a>
                <code>{l.error?.code}</code>
              </li>
            ))}
          </ul>
        )
        : <p class="muted">No failed links.</p>}
    </section>
  );
}

function WebhookHealth(props: { events: AccountWebhookEvent[] }) {
  const by = (s: string) => props.events.filter((e) => e.status === s).length;
  return (
    <section class="card" aria-labelledby="health">
      <h2 id="health">Webhook health</h2>
      {props.events.length
        ? (
          <p>
            Of the last {props.events.length} events: <strong>{by("delivered")}</strong> delivered,
            {" "}
            <strong>{by("pending")}</strong> retrying, <strong>{by("failed")}</strong> failed,{" "}
            <strong>{by("disabled")}</strong> stopped (410).{" "}
            <a href="/console/webhooks">See deliveries</a>
          </p>
        )
        : <p class="muted">No webhook events yet.</p>}
    </section>
  );
}

export function registerOverview(app: Hono<AppEnv>): void {
  app.get("/console", async (c) => {
    const data = await loadOverview(c);
    return consolePage(
      c,
      { title: "Overview", section: "overview" },
      (
        <>
          <h1>Overview</h1>
          <p class="muted">
            Account <code>{c.var.account.id}</code>: webhooks are signed with this id as{" "}
            <code>aud</code>.
          </p>
          <ModeSwitch path="/console" owner={ownerOf(c)} />
          <div class="grid">
            <LinksByStatus links={data.links} />
            <Failures links={data.links} />
            <WebhookHealth events={data.events} />
          </div>
        </>
      ),
    );
  });
}
