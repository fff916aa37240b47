/** @jsxImportSource hono/jsx */
/**
 * `/console/links`: an account's links with filters (status, provider, date),
 * and one link: its status timeline, client events, operations, results,
 * error, and its webhook events with every attempt and a Redeliver button.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { Link } from "@passage/connect/schemas";
import type { Owner } from "../../lib/api_keys.ts";
import { PassageError } from "../../lib/errors.ts";
import type { AppEnv } from "../../lib/http.ts";
import { getLink, listLinks } from "../../lib/links.ts";
import { redeliverLatestWebhook } from "../../lib/webhook_delivery.ts";
import { listLinkWebhooks, type WebhookEventView } from "../../lib/webhooks.ts";
import { Badge, consolePage, Csrf, ModeSwitch, ownerOf, when } from "./_layout.tsx";

const STATUSES = ["pending", "claimed", "running", "complete", "failed", "expired", "cancelled"];

const filterSchema = z.object({
  status: z.enum(STATUSES as [string, ...string[]]).optional().catch(undefined),
  provider: z.string().max(40).optional().catch(undefined),
  from: z.iso.date().optional().catch(undefined),
  to: z.iso.date().optional().catch(undefined),
  cursor: z.string().max(200).optional(),
  mode: z.enum(["test", "live"]).optional().catch(undefined),
});

type Filters = z.output<typeof filterSchema>;

function matches(link: Link, f: Filters): boolean {
  if (f.status && link.status !== f.status) return false;
  if (f.provider && link.provider !== f.provider) return false;
  const day = link.createdAt.slice(0, 10);
  if (f.from && day < f.from) return false;
  if (f.to && day > f.to) return false;
  return true;
}

async function loadLinks(c: Context<AppEnv>) {
  const filters = filterSchema.parse(c.req.query());
  const page = await listLinks(c.var.services, ownerOf(c), {
    limit: 100,
    cursor: filters.cursor || undefined,
  });
  return { filters, links: page.data.filter((l) => matches(l, filters)), next: page.nextCursor };
}

function FilterForm(props: { f: Filters }) {
  return (
    <form method="get" action="/console/links" class="card row" aria-label="Filter links">
      {props.f.mode === "live" ? <input type="hidden" name="mode" value="live" /> : null}
      <div>
        <label for="f-status">Status</label>
        <select id="f-status" name="status">
          <option value="">Any</option>
          {STATUSES.map((s) => (
            <option key={s} value={s} selected={props.f.status === s}>{s}</option>
          ))}
        </select>
      </div>
      <div>
        <label for="f-provider">Provider</label>
        <input
          id="f-provider"
          name="provider"
          value={props.f.provider ?? ""}
          placeholder="tmobile"
        />
      </div>
      <div>
        <label for="f-from">Created from</label>
        <input id="f-from" type="date" name="from" value={props.f.from ?? ""} />
      </div>
      <div>
        <label for="f-to">to</label>
        <input id="f-to" type="date" name="to" value={props.f.to ?? ""} />
      </div>
      <button type="submit">Filter</button>
    </form>
  );
}

/** A link of the signed-in account, whichever mode it is in; another account's is a 404. */
export async function accountLink(
  c: Context<AppEnv>,
  id: string,
): Promise<{ link: Link; owner: Owner }> {
  for (const mode of ["test", "live"] as const) {
    const owner = { accountId: c.var.account.id, mode };
    try {
      return { link: await getLink(c.var.services, owner, id), owner };
    } catch (err) {
      if (!(err instanceof PassageError && err.code === "link_not_found")) throw err;
    }
  }
  throw new PassageError("link_not_found", `No link with id "${id}"`, { param: "id" });
}

function Timeline(props: { link: Link }) {
  const l = props.link;
  const steps: Array<[string, string | null]> = [
    ["created", l.createdAt],
    ["claimed", l.claimedAt],
    ...(l.events ?? []).map((e) => [e.type.replaceAll("_", " "), e.at] as [string, string]),
    [
      l.status,
      ["complete", "failed", "expired", "cancelled"].includes(l.status) ? l.updatedAt : null,
    ],
  ];
  return (
    <section class="card" aria-labelledby="timeline">
      <h2 id="timeline">Timeline and client events</h2>
      <ol class="timeline">
        {steps.filter(([, at]) => at).map(([label, at]) => (
          <li>
            <time datetime={at!}>{when(at)}</time>
            <span>{label}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

function Deliveries(props: { c: Context<AppEnv>; link: Link; events: WebhookEventView[] }) {
  return (
    <section class="card" aria-labelledby="deliveries">
      <h2 id="deliveries">Webhook events</h2>
      {props.link.webhookUrl
        ? (
          <p>
            To <code>{props.link.webhookUrl}</code>
          </p>
        )
        : <p class="muted">This link has no webhookUrl.</p>}
      {props.events.map((e) => (
        <div>
          <h3>
            <code>{e.id}</code> {e.type} <Badge status={e.status} />
          </h3>
          <table>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">At</th>
                <th scope="col">Answer</th>
                <th scope="col">Error</th>
                <th scope="col">Time</th>
                <th scope="col">Trigger</th>
              </tr>
            </thead>
            <tbody>
              {e.attempts.map((a) => (
                <tr class="attempt">
                  <td>{a.number}</td>
                  <td>{when(a.at)}</td>
                  <td>{a.statusCode ?? "—"}</td>
                  <td>{a.error ?? "—"}</td>
                  <td class="nowrap">{a.durationMs} ms</td>
                  <td>{a.trigger}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {e.attempts.length ? null : <p class="muted">No attempt yet.</p>}
          {e.nextAttemptAt ? <p class="muted">Next attempt {when(e.nextAttemptAt)}</p> : null}
        </div>
      ))}
      {props.events.some((e) => e.type !== "link.event")
        ? (
          <form method="post" action={`/console/links/${props.link.id}/redeliver`}>
            <Csrf c={props.c} />
            <button type="submit">Redeliver the latest event</button>
          </form>
        )
        : null}
    </section>
  );
}

export function registerLinkPages(app: Hono<AppEnv>): void {
  app.get("/console/links", async (c) => {
    const { filters, links, next } = await loadLinks(c);
    const owner = ownerOf(c);
    const query = new URLSearchParams(
      Object.entries(filters).filter(([k, v]) => v && k !== "cursor") as [string, string][],
    );
    return consolePage(
      c,
      { title: "Links", section: "links" },
      (
        <>
          <h1>Links</h1>
          <ModeSwitch path="/console/links" owner={owner} />
          <FilterForm f={filters} />
          <section class="card" aria-labelledby="list">
            <h2 id="list">{links.length} link{links.length === 1 ? "" : "s"}</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Link</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {links.map((l) => (
                  <tr>
                    <td>
                      <a href={`/console/links/${l.id}`} class="mono">{l.id}</a>
                    </td>
                    <td>{l.provider}</td>
                    <td>
                      <Badge status={l.status} />
                    </td>
                    <td>{when(l.createdAt)}</td>
                    <td>{l.error ? <code>{l.error.code}</code> : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {next
              ? (
                <p>
                  <a href={`/console/links?${query}&cursor=${encodeURIComponent(next)}`}>
                    Older links
                  </a>
                </p>
              )
              : null}
          </section>
        </>
      ),
    );
  });

  app.get("/console/links/:id", async (c) => {
    const { link, owner } = await accountLink(c, c.req.param("id"));
    const events = (await listLinkWebhooks(c.var.services.kv, owner, link.id)).data;
    const notice = c.req.query("redelivered");
    return consolePage(
      c,
      { title: `Link ${link.id}`, section: "links" },
      (
        <>
          <h1>
            Link <code>{link.id}</code> <Badge status={link.status} />
          </h1>
          {notice
            ? <div class="notice" role="status">Redelivered: the receiver answered {notice}.</div>
            : null}
          <p class="muted">
            {link.provider} · {link.livemode ? "live" : "test"} · session{" "}
            <a href={`/console/sessions/${link.sessionId}`}>{link.sessionId}</a>
            {link.appClipUrl
              ? (
                <>
                  {" · "}
                  <a href={link.appClipUrl}>claim page</a>
                </>
              )
              : null}
          </p>
          <div class="split">
            <div>
              <Timeline link={link} />
              <section class="card" aria-labelledby="ops">
                <h2 id="ops">Operations</h2>
                <ul class="timeline">
                  {link.operations.map((op) => (
                    <li>
                      <code>{op.type}</code> <Badge status={op.status} />
                    </li>
                  ))}
                </ul>
                {link.error
                  ? (
                    <div class="error">
                      <code>{link.error.code}</code>: {link.error.message}
                    </div>
                  )
                  : null}
              </section>
              <section class="card" aria-labelledby="results">
                <h2 id="results">Results</h2>
                {link.results
                  ? (
                    <pre tabindex={0} aria-label="Results as JSON">
                    {JSON.stringify(link.results, null, 2)}
                    </pre>
                  )
                  : <p class="muted">None (not complete, or past their retention).</p>}
              </section>
            </div>
            <Deliveries c={c} link={link} events={events} />
          </div>
        </>
      ),
    );
  });

  app.post("/console/links/:id/redeliver", async (c) => {
    const { link, owner } = await accountLink(c, c.req.param("id"));
    const { attempt } = await redeliverLatestWebhook(c.var.services, owner, link.id);
    const answer = attempt.statusCode ? String(attempt.statusCode) : attempt.error ?? "nothing";
    return c.redirect(`/console/links/${link.id}?redelivered=${encodeURIComponent(answer)}`, 303);
  });
}
