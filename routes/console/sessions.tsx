/** @jsxImportSource hono/jsx */
/**
 * `/console/sessions`: an account's sessions, and a live inspector for one:
 * the newest screenshot as it arrives, the navigation timeline, console,
 * network, the command log and who has control, over the session's SSE stream
 * (the same `streamSessionEvents` as `GET /v1/sessions/{id}/events`). An ended
 * session replays what its telemetry retention still holds. The stream ends
 * when the member signs out, is removed or their console session expires.
 */
import type { Context, Hono } from "hono";
import type { Owner } from "../../lib/api_keys.ts";
import { consoleStreamCredentials } from "../../lib/auth/console_sessions.ts";
import { getSessionId } from "../../lib/auth/get_session_id.ts";
import { PassageError } from "../../lib/errors.ts";
import type { AppEnv } from "../../lib/http.ts";
import { listSessions, readOwnedSession, type SessionRecord } from "../../lib/sessions.ts";
import { streamSessionEvents } from "../sessions.ts";
import { Badge, consolePage, ModeSwitch, ownerOf, when } from "./_layout.tsx";

/** A session of the signed-in account, whichever mode; another account's is a 404. */
async function accountSession(
  c: Context<AppEnv>,
  id: string,
): Promise<{ record: SessionRecord; owner: Owner }> {
  for (const mode of ["test", "live"] as const) {
    const owner = { accountId: c.var.account.id, mode };
    try {
      return { record: await readOwnedSession(c.var.services.kv, owner, id), owner };
    } catch (err) {
      if (!(err instanceof PassageError && err.code === "session_not_found")) throw err;
    }
  }
  throw new PassageError("session_not_found", `No session with id "${id}"`, { param: "id" });
}

/** Command names from the session's command log (never their params). */
async function loadCommands(c: Context<AppEnv>, sessionId: string) {
  const out: Array<{ seq: number; name: string }> = [];
  try {
    for (const { seq, entry } of await c.var.services.relay.log.read(sessionId, "cmd", 0, 200)) {
      out.push({ seq, name: entry.type === "command" ? entry.name : `end (${entry.reason})` });
    }
  } catch {
    // An ended session's command log is shredded: nothing to show.
  }
  return out;
}

const INSPECTOR_SCRIPT = `
(() => {
  const root = document.getElementById("inspector");
  const $ = (id) => document.getElementById(id);
  const add = (list, cells, max) => {
    const row = document.createElement(list.tagName === "TBODY" ? "tr" : "li");
    for (const text of cells) {
      const cell = document.createElement(list.tagName === "TBODY" ? "td" : "span");
      cell.textContent = text;
      row.appendChild(cell);
    }
    list.appendChild(row);
    while (list.children.length > max) list.removeChild(list.firstChild);
    const empty = list.closest("section").querySelector(".empty");
    if (empty) empty.remove();
  };
  const time = (at) => (at || "").slice(11, 19);
  const es = new EventSource(root.dataset.events);
  $("live").textContent = "Connecting…";
  es.onopen = () => { $("live").textContent = "Live"; };
  es.onerror = () => { if (es.readyState === 2) $("live").textContent = "Disconnected"; };
  // The server ends the stream with an error event when the console session or membership ends.
  es.addEventListener("error", (m) => {
    if (!m.data) return;
    es.close();
    $("live").textContent = "Stopped: " + JSON.parse(m.data).error.message;
  });
  es.addEventListener("telemetry", (m) => {
    const e = JSON.parse(m.data).event;
    $("count").textContent = String(Number($("count").textContent) + 1);
    if (e.kind === "screenshot") {
      const img = $("shot");
      img.src = "data:image/" + e.format + ";base64," + e.data;
      img.hidden = false;
      $("shot-at").textContent = "Screenshot at " + time(e.at) + (e.masked ? " (inputs masked)" : "");
    } else if (e.kind === "navigation") add($("nav"), [time(e.at), e.url], 200);
    else if (e.kind === "console") add($("console"), [time(e.at), e.level, e.text], 300);
    else if (e.kind === "response") add($("net"), [time(e.at), e.method, String(e.status), e.url, Math.round(e.durationMs) + " ms"], 300);
    else if (e.kind === "requestFailed") add($("net"), [time(e.at), "", "failed", e.url, e.errorText], 300);
    else if (e.kind === "yield") $("control").textContent = e.state === "started" ? "The user has control" : "The automation has control";
  });
  es.addEventListener("client", (m) => {
    const e = JSON.parse(m.data).event;
    add($("nav"), [time(e.at), "client: " + e.type], 200);
  });
  es.addEventListener("session", (m) => {
    const s = JSON.parse(m.data);
    $("status").textContent = s.status + ", device " + s.device + (s.reason ? " (" + s.reason + ")" : "");
    $("status-badge").textContent = s.status;
    $("status-badge").className = "badge s-" + s.status;
    if (s.status === "ended") { es.close(); $("live").textContent = "Ended: replayed what is retained"; }
  });
})();
`;

function Inspector(
  props: { record: SessionRecord; commands: Array<{ seq: number; name: string }> },
) {
  const r = props.record;
  return (
    <div id="inspector" data-events={`/console/sessions/${r.id}/events`}>
      <p class="row">
        <span>
          Stream: <strong id="live" role="status">Loading…</strong>
        </span>
        <span>
          Session: <strong id="status">{r.status}, device {r.device}</strong>
        </span>
        <span>
          Control: <strong id="control">The automation has control</strong>
        </span>
        <span>
          Telemetry events: <strong id="count">0</strong>
        </span>
      </p>
      <div class="split">
        <section class="card" aria-labelledby="screen">
          <h2 id="screen">Screen</h2>
          <p id="shot-at" class="muted">No screenshot yet.</p>
          <img id="shot" class="shot" alt="The newest screenshot of the device's page" hidden />
        </section>
        <section class="card scroll" tabindex={0} aria-labelledby="navs">
          <h2 id="navs">Navigation and client events</h2>
          <p class="empty muted">Nothing yet.</p>
          <ol id="nav" class="timeline"></ol>
        </section>
      </div>
      <section class="card scroll" tabindex={0} aria-labelledby="net-h">
        <h2 id="net-h">Network</h2>
        <p class="empty muted">No requests yet.</p>
        <table>
          <thead>
            <tr>
              <th scope="col">At</th>
              <th scope="col">Method</th>
              <th scope="col">Status</th>
              <th scope="col">URL</th>
              <th scope="col">Time</th>
            </tr>
          </thead>
          <tbody id="net"></tbody>
        </table>
      </section>
      <div class="split">
        <section class="card scroll" tabindex={0} aria-labelledby="console-h">
          <h2 id="console-h">Console</h2>
          <p class="empty muted">No console output yet.</p>
          <table>
            <thead>
              <tr>
                <th scope="col">At</th>
                <th scope="col">Level</th>
                <th scope="col">Text</th>
              </tr>
            </thead>
            <tbody id="console"></tbody>
          </table>
        </section>
        <section class="card scroll" tabindex={0} aria-labelledby="cmds">
          <h2 id="cmds">Command log</h2>
          {props.commands.length
            ? (
              <ol class="timeline">
                {props.commands.map((cmd) => (
                  <li>
                    <span class="muted">#{cmd.seq}</span> <code>{cmd.name}</code>
                  </li>
                ))}
              </ol>
            )
            : (
              <p class="muted">
                No commands (or the session ended and its command log was shredded).
              </p>
            )}
          <p class="muted">As of loading this page; parameters are never shown.</p>
        </section>
      </div>
    </div>
  );
}

export function registerSessionPages(app: Hono<AppEnv>): void {
  app.get("/console/sessions", async (c) => {
    const owner = ownerOf(c);
    const { data } = await listSessions(c.var.services, owner, { limit: 100 });
    return consolePage(
      c,
      { title: "Sessions", section: "sessions" },
      (
        <>
          <h1>Sessions</h1>
          <ModeSwitch path="/console/sessions" owner={owner} />
          <section class="card" aria-labelledby="list">
            <h2 id="list">{data.length} session{data.length === 1 ? "" : "s"}</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Session</th>
                  <th scope="col">Status</th>
                  <th scope="col">Device</th>
                  <th scope="col">Link</th>
                  <th scope="col">Created</th>
                  <th scope="col">Ended</th>
                </tr>
              </thead>
              <tbody>
                {data.map((s) => (
                  <tr>
                    <td>
                      <a href={`/console/sessions/${s.id}`} class="mono">{s.id}</a>
                    </td>
                    <td>
                      <Badge status={s.status} />
                    </td>
                    <td>{s.device}</td>
                    <td>
                      {s.linkId
                        ? <a href={`/console/links/${s.linkId}`} class="mono">{s.linkId}</a>
                        : "—"}
                    </td>
                    <td>{when(s.createdAt)}</td>
                    <td>{s.endedAt ? `${when(s.endedAt)} (${s.endReason})` : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      ),
    );
  });

  app.get("/console/sessions/:id", async (c) => {
    const { record } = await accountSession(c, c.req.param("id"));
    const commands = await loadCommands(c, record.id);
    return consolePage(
      c,
      { title: `Session ${record.id}`, section: "sessions", script: INSPECTOR_SCRIPT },
      (
        <>
          <h1>
            Session <code>{record.id}</code>{" "}
            <span id="status-badge" class={`badge s-${record.status}`}>{record.status}</span>
          </h1>
          <p class="muted">
            {record.livemode ? "live" : "test"} · created {when(record.createdAt)}
            {record.linkId
              ? (
                <>
                  {" · link "}
                  <a href={`/console/links/${record.linkId}`}>{record.linkId}</a>
                </>
              )
              : null}
            {record.allowedOrigins
              ? ` · may open ${record.allowedOrigins.join(", ")}`
              : " · may open any public site"}
          </p>
          <Inspector record={record} commands={commands} />
        </>
      ),
    );
  });

  app.get("/console/sessions/:id/events", async (c) => {
    const { record } = await accountSession(c, c.req.param("id"));
    // Held to the console session and the membership, as an API stream is to its key.
    const credentials = await consoleStreamCredentials(
      getSessionId(c.req.raw, c.var.services.config),
      c.var.consoleSession,
      c.var.account.id,
    );
    return streamSessionEvents(c, record.id, credentials);
  });
}
