/** @jsxImportSource hono/jsx */
/**
 * The console's one layout: a header with the navigation, the member's role
 * and the account shown (a switcher for a member of several), the page, and the headers every console page carries (a strict CSP with a
 * per-response nonce, as `routes/_layout.tsx` does; forms may post only here).
 */
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { newNonce, sendPage } from "../_layout.tsx";
import type { Owner } from "../../lib/api_keys.ts";
import { type MemberRole, roleOf } from "../../lib/accounts.ts";
import type { AppEnv } from "../../lib/http.ts";

export { newNonce };

const CSS = `
:root{color-scheme:light;--ink:#17191c;--muted:#4a505a;--line:#d3d7de;--bg:#f3f5f8;--card:#fff;
--accent:#0a52c4;--ok:#0b6630;--bad:#a61b0b;--warn:#7a4100}
*{box-sizing:border-box}
body{margin:0;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
.top{background:#fff;border-bottom:1px solid var(--line)}
.top .in{max-width:76rem;margin:0 auto;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center}
.brand{display:inline-flex;align-items:center;gap:.5rem;font-weight:700;color:var(--ink);text-decoration:none}
.brand b{display:inline-grid;place-items:center;width:1.8rem;height:1.8rem;border-radius:.45rem;background:var(--accent);color:#fff}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem .9rem}
nav a{color:var(--ink);text-decoration:none;padding:.2rem 0;border-bottom:2px solid transparent}
nav a[aria-current=page]{border-bottom-color:var(--accent);font-weight:600}
.who{margin-left:auto;display:flex;flex-wrap:wrap;gap:.5rem .6rem;align-items:center;color:var(--muted);font-size:.9375rem}
.who form{margin:0;display:flex;flex-wrap:wrap;gap:.4rem;align-items:center}
table+form{margin-top:.75rem}
.who label{margin:0;font-weight:600;color:var(--ink)}
.who select{min-height:2.25rem;max-width:14rem}
main{max-width:76rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}
h2{font-size:1.125rem;margin:0 0 .6rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:.6rem;padding:1rem;margin:0 0 1rem;overflow-x:auto}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr))}
table{border-collapse:collapse;width:100%;font-size:.9375rem}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted)}
code,pre,.mono{font:.875rem/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
pre{white-space:pre-wrap;background:var(--bg);padding:.6rem;border-radius:.4rem;margin:.25rem 0;max-height:24rem;overflow:auto}
.muted{color:var(--muted)}
.badge{display:inline-block;font-size:.8125rem;font-weight:600;padding:0 .5rem;border-radius:1rem;border:1px solid var(--line);background:var(--bg);color:var(--muted);white-space:nowrap}
.s-complete,.s-delivered,.s-active{color:var(--ok);border-color:var(--ok)}
.s-failed,.s-revoked,.s-disabled{color:var(--bad);border-color:var(--bad)}
.s-running,.s-claimed,.s-pending{color:var(--accent);border-color:var(--accent)}
.stat{font-size:1.75rem;font-weight:700}
button,.button{white-space:nowrap;font:inherit;font-weight:600;background:var(--accent);color:#fff;border:0;border-radius:.45rem;padding:.5rem 1rem;min-height:2.5rem;cursor:pointer;text-decoration:none;display:inline-block}
button.quiet{background:#fff;color:var(--ink);border:1px solid var(--line)}
button.danger{background:var(--bad)}
form.inline{display:inline}
label{display:block;font-weight:600;margin:.5rem 0 .2rem}
input,select{font:inherit;padding:.4rem .5rem;border:1px solid var(--muted);border-radius:.35rem;min-height:2.5rem;max-width:100%}
.row{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end}
.row label{margin:0 0 .2rem}
.row a[aria-current]{font-weight:700;text-decoration:none;color:var(--ink)}
td.nowrap{white-space:nowrap}
.notice{border-left:.3rem solid var(--ok);background:#fff;padding:.6rem .8rem;border-radius:.35rem;margin:0 0 1rem}
.invite{border-left-color:var(--accent)}
.error{border-left:.3rem solid var(--bad);background:#fff;padding:.6rem .8rem;border-radius:.35rem;margin:0 0 1rem}
.secret{font:700 1rem/1.4 ui-monospace,Menlo,monospace;background:var(--bg);border:1px dashed var(--muted);padding:.4rem .6rem;display:block;overflow-wrap:anywhere;user-select:all}
.shot{max-width:100%;border:1px solid var(--line);border-radius:.35rem;background:#fff;display:block}
.timeline{list-style:none;margin:0;padding:0}
.timeline li{padding:.3rem 0;border-bottom:1px solid var(--line);display:grid;grid-template-columns:auto minmax(0,1fr);gap:.75rem;align-items:baseline}
.timeline li>*{overflow-wrap:anywhere}
.timeline time,.timeline li>span:first-child{color:var(--muted);font-size:.875rem}
a{color:var(--accent);text-underline-offset:.15em}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.split{display:grid;gap:1rem}
@media (min-width:62rem){.split{grid-template-columns:minmax(0,3fr) minmax(0,2fr)}}
.scroll{max-height:20rem;overflow:auto}
.logo-preview{display:block;width:6rem;height:6rem;object-fit:contain;border:1px solid var(--line);border-radius:.6rem;background:#fff;margin:.25rem 0 .5rem}
dt{font-weight:600}
dd{margin:0 0 .5rem}
`;

/** The console's sections, for the navigation. */
export type Section =
  | "overview"
  | "keys"
  | "links"
  | "sessions"
  | "webhooks"
  | "account"
  | "invitations";

const NAV: Array<[Section, string, string]> = [
  ["overview", "Overview", "/console"],
  ["keys", "API keys", "/console/keys"],
  ["links", "Links", "/console/links"],
  ["sessions", "Sessions", "/console/sessions"],
  ["webhooks", "Webhooks", "/console/webhooks"],
  ["account", "Account", "/console/account"],
];

/** Props of {@link ConsoleLayout}. */
export interface ConsoleLayoutProps {
  title: string;
  nonce: string;
  /** Absent on pages outside the signed-in console (sign-in, errors). */
  section?: Section;
  /** The signed-in member: email, role, the account shown, their accounts, the CSRF token. */
  who?: {
    email: string;
    role: MemberRole;
    accountId: string;
    accountName: string;
    accounts: Array<{ id: string; name: string }>;
    csrfToken: string;
    /** Invitations to other accounts waiting for an answer: a notice on every page but theirs. */
    invitations: number;
  };
  script?: string;
  children?: Child;
}

/** The page shell of every console page. */
export function ConsoleLayout(props: ConsoleLayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{`${props.title} · Passage console`}</title>
        <style nonce={props.nonce} dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body>
        <header class="top">
          <div class="in">
            <a class="brand" href={props.who ? "/console" : "/"}>
              <b aria-hidden="true">P</b>Passage
            </a>
            {props.who
              ? (
                <nav aria-label="Console">
                  <ul>
                    {NAV.map(([id, label, href]) => (
                      <li>
                        <a href={href} aria-current={props.section === id ? "page" : undefined}>
                          {label}
                        </a>
                      </li>
                    ))}
                    <li>
                      <a href="/docs">API reference</a>
                    </li>
                  </ul>
                </nav>
              )
              : null}
            {props.who
              ? (
                <div class="who">
                  <span>{props.who.email}</span>
                  {props.who.accounts.length > 1
                    ? (
                      <form method="post" action="/console/switch">
                        <input type="hidden" name="_csrf" value={props.who.csrfToken} />
                        <label for="account-switch">Account</label>
                        <select id="account-switch" name="accountId">
                          {props.who.accounts.map((a) => (
                            <option value={a.id} selected={a.id === props.who!.accountId}>
                              {a.name}
                            </option>
                          ))}
                        </select>
                        <button class="quiet" type="submit">Switch</button>
                      </form>
                    )
                    : <span>{props.who.accountName}</span>}
                  <span class="badge" id="role">{props.who.role}</span>
                  <form method="post" action="/console/sign-out">
                    <input type="hidden" name="_csrf" value={props.who.csrfToken} />
                    <button class="quiet" type="submit">Sign out</button>
                  </form>
                </div>
              )
              : null}
          </div>
        </header>
        <main id="main">
          {props.who?.invitations && props.section !== "invitations"
            ? (
              <p class="notice invite" role="status">
                {props.who.invitations === 1
                  ? "An invitation to join another account is waiting for your answer."
                  : `${props.who.invitations} invitations to join other accounts are waiting for your answer.`}
                {" "}
                <a href="/console/invitations">Review invitations</a>
              </p>
            )
            : null}
          {props.children}
        </main>
        {props.script
          ? <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: props.script }} />
          : null}
      </body>
    </html>
  );
}

/** Answers a console page with its security headers: forms post only to this origin. */
export function sendConsolePage(
  c: Context,
  nonce: string,
  page: unknown,
  status: ContentfulStatusCode = 200,
): Response {
  return sendPage(c, nonce, page, status, { formAction: "'self'", referrer: "same-origin" });
}

/** A short, readable time. */
export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/:\d\dZ$/, "Z");
}

/** A status badge. */
export function Badge(props: { status: string }) {
  return <span class={`badge s-${props.status}`}>{props.status}</span>;
}

/** Renders a signed-in console page (`c.var.consoleSession` and `c.var.account` are set by the guard). */
export function consolePage(
  c: Context<AppEnv>,
  props: { title: string; section: Section; script?: string; status?: ContentfulStatusCode },
  children: Child,
): Response {
  const nonce = newNonce();
  const { email, csrfToken } = c.var.consoleSession;
  const who = {
    email,
    role: roleOf(c.var.account, email) ?? "member",
    accountId: c.var.account.id,
    accountName: c.var.account.name,
    accounts: c.var.memberAccounts.map(({ id, name }) => ({ id, name })),
    csrfToken,
    invitations: c.var.pendingInvitations,
  };
  return sendConsolePage(
    c,
    nonce,
    <ConsoleLayout
      title={props.title}
      nonce={nonce}
      section={props.section}
      who={who}
      script={props.script}
    >
      {children}
    </ConsoleLayout>,
    props.status,
  );
}

/** The hidden CSRF field every console form carries. */
export function Csrf(props: { c: Context<AppEnv> }) {
  return <input type="hidden" name="_csrf" value={props.c.var.consoleSession.csrfToken} />;
}

/** Which half of the account a page shows: `?mode=live`, else test. */
export function ownerOf(c: Context<AppEnv>): Owner {
  return { accountId: c.var.account.id, mode: c.req.query("mode") === "live" ? "live" : "test" };
}

/** A test/live switch for list pages. */
export function ModeSwitch(props: { path: string; owner: Owner }) {
  return (
    <p class="row">
      <span class="muted">Mode:</span>
      <a href={props.path} aria-current={props.owner.mode === "test" ? "true" : undefined}>
        Test
      </a>
      <a
        href={`${props.path}?mode=live`}
        aria-current={props.owner.mode === "live" ? "true" : undefined}
      >
        Live
      </a>
    </p>
  );
}
