/**
 * What every sandbox site shares: the login page, the wrong-password,
 * locked-account and MFA paths, the cookie session, the page layout in the
 * provider's colours, and the 401 that every API answers without a session.
 * A provider's module only describes its pages and data.
 *
 * Sessions are stateless signed cookies, so any instance of a multi-instance
 * deployment accepts a cookie another issued, and the public login form never
 * writes to KV. The signing key is not a secret (sandbox data is public and its
 * credentials are documented); the signature only makes a hand-edited or
 * malformed cookie count as no session, as on a real site.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { deleteCookie, generateSignedCookie, getSignedCookie } from "hono/cookie";
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { randomHex } from "../../lib/ids.ts";
import { checkMfaCode, checkPassword, type SandboxUser } from "./_users.ts";

export type { SandboxUser };

/** HTML as `hono/html` builds it. */
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The pieces a provider's site is made of. */
export interface SandboxSiteSpec {
  /** The provider id, also the path: `/sandbox/<id>`. */
  id: string;
  /** The provider's name, shown on every page. */
  name: string;
  /** The provider's colour, for the header and buttons. */
  color: string;
  /** Links of the signed-in navigation: `[path, label]`. */
  nav: Array<[string, string]>;
  /** What `GET /api/account` answers for each user (the login's success signal). */
  account(user: SandboxUser): unknown;
  /** Adds the site's pages and APIs. */
  routes(site: SiteBuilder): void;
}

/** What a provider folder's `sandbox.ts` exports: a site whose id and name come from the provider. */
export type SandboxSite = Omit<SandboxSiteSpec, "id" | "name">;

/** Adds signed-in pages and APIs to a sandbox site. */
export interface SiteBuilder {
  /** The site's base path: `/sandbox/tmobile`. */
  readonly base: string;
  /** A JSON API; 401 without a session. */
  api(path: string, answer: (user: SandboxUser) => unknown): void;
  /** A server-rendered page; a redirect to the login without a session. */
  page(path: string, title: string, body: (user: SandboxUser) => Html): void;
  /** A page that loads `apiPath` with a tiny script and renders what it gets. */
  jsonPage(path: string, title: string, apiPath: string): void;
}

/** Not a secret: see the module documentation. */
const COOKIE_KEY = "passage-sandbox-session-v1";
const MFA_STEP_MS = 10 * 60_000;
const SESSION_MS = 30 * 60_000;

/** What a sandbox session cookie holds. */
interface SessionState {
  stage: "mfa" | "session";
  user: SandboxUser;
  expiresAt: number;
}

/** Security headers of every sandbox answer: nothing external can load. */
const HEADERS: Record<string, string> = {
  "Cache-Control": "no-store",
  "Content-Security-Policy":
    "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "X-Robots-Tag": "noindex",
  "Referrer-Policy": "same-origin",
};

/** Builds one provider's sandbox site, to be mounted at `base`. */
export function createSandboxSite(spec: SandboxSiteSpec, base: string): Hono {
  const site = new Hono();
  const cookieName = `${spec.id}_sid`;

  site.use(async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(HEADERS)) c.header(name, value);
  });

  const readState = async (c: Context): Promise<SessionState | null> => {
    const value = await getSignedCookie(c, COOKIE_KEY, cookieName);
    if (!value) return null;
    const [stage, user, expires] = value.split(":");
    const expiresAt = Number(expires);
    if (
      (stage !== "mfa" && stage !== "session") || (user !== "good" && user !== "changed") ||
      !(expiresAt > Date.now())
    ) {
      return null;
    }
    return { stage, user, expiresAt };
  };

  /** Sets the session cookie; returns its value as the browser keeps it (the session token). */
  const writeState = async (c: Context, state: SessionState): Promise<string> => {
    const header = await generateSignedCookie(
      cookieName,
      `${state.stage}:${state.user}:${state.expiresAt}:${randomHex(12)}`,
      COOKIE_KEY,
      {
        path: base,
        httpOnly: true,
        sameSite: "Lax",
        secure: new URL(c.req.url).protocol === "https:",
        maxAge: Math.ceil((state.expiresAt - Date.now()) / 1000),
      },
    );
    c.header("set-cookie", header, { append: true });
    return header.slice(cookieName.length + 1, header.indexOf(";"));
  };

  const signedIn = async (c: Context): Promise<SandboxUser | null> => {
    const state = await readState(c);
    return state?.stage === "session" ? state.user : null;
  };

  const layout = (title: string, body: Html, signedInNav: boolean) =>
    html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="robots" content="noindex">
    <title>${title} · ${spec.name} (Passage sandbox)</title>
    <style>
      :root { --brand: ${raw(spec.color)}; }
      body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #f6f6f8; }
      header { background: var(--brand); color: #fff; padding: .75rem 1rem; display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
      header .brand { font-size: 1.25rem; font-weight: 700; }
      header .badge { font-size: .75rem; border: 1px solid #fff; border-radius: 1rem; padding: 0 .5rem; }
      header nav a { color: #fff; margin-right: .75rem; }
      main { max-width: 40rem; margin: 1.5rem auto; padding: 0 1rem; }
      form { display: grid; gap: .75rem; background: #fff; padding: 1rem; border-radius: .5rem; }
      input { font: inherit; padding: .5rem; border: 1px solid #bbb; border-radius: .25rem; }
      button { font: inherit; padding: .6rem; border: 0; border-radius: .25rem; background: var(--brand); color: #fff; }
      .alert { background: #fde8e8; border-left: 4px solid #c00; padding: .75rem; }
      table { border-collapse: collapse; width: 100%; background: #fff; }
      td, th { border-bottom: 1px solid #ddd; padding: .4rem; text-align: left; }
      dl { display: grid; grid-template-columns: minmax(0, max-content) minmax(0, 1fr); gap: .25rem 1rem; margin: 0; }
      dt { font-weight: 600; overflow-wrap: anywhere; }
      dd { margin: 0; overflow-wrap: anywhere; }
      ol { margin: 0; padding-left: 1.25rem; }
      li + li { margin-top: .5rem; }
      #data > dl { background: #fff; padding: 1rem; border-radius: .5rem; }
      dd dl { display: block; }
      dd dl dt, dd dl dd { display: inline; }
      dd dl dt::after { content: ": "; }
      dd dl dd::after { content: ""; display: block; }
      footer { color: #666; font-size: .8rem; text-align: center; margin: 2rem 1rem; }
    </style>
  </head>
  <body data-provider="${spec.id}">
    <header>
      <span class="brand">${spec.name}</span><span class="badge">Sandbox</span>
      ${
      signedInNav
        ? html`<nav><a href="${base}">Account</a>${
          spec.nav.map(([path, label]) => html`<a href="${base}${path}">${label}</a>`)
        }<a href="${base}/logout">Log out</a></nav>`
        : ""
    }
    </header>
    <main id="main">
      <h1>${title}</h1>
      ${body}
    </main>
    <footer>Passage sandbox for ${spec.name}: test data only. Log in with user_good / pass_good, then code 1234.</footer>
  </body>
</html>`;

  const loginForm = (alert: Html | "" = "", username = "") =>
    html`
      <p>Log in to your ${spec.name} account.</p>
      ${alert}
      <form method="post" action="${base}/login" id="login-form">
        <label>Username <input id="username" name="username" autocomplete="username" value="${username}" required></label>
        <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
        <button id="submit" type="submit">Log in</button>
      </form>
    `;

  const mfaForm = (alert: Html | "" = "") =>
    html`
      <p>We sent a 4-digit verification code to the phone on your ${spec.name} account.</p>
      ${alert}
      <form method="post" action="${base}/mfa" id="mfa-form">
        <input type="hidden" name="continue" value="welcome">
        <label>Verification code <input id="mfa-code" name="code" inputmode="numeric" autocomplete="one-time-code" required></label>
        <button id="mfa-submit" type="submit">Verify</button>
      </form>
    `;

  site.get("/login", (c) => c.html(layout(`Log in to ${spec.name}`, loginForm(), false)));

  site.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const username = typeof form.username === "string" ? form.username.trim() : "";
    const password = typeof form.password === "string" ? form.password : "";
    const outcome = checkPassword(username, password);
    if (outcome === "locked") {
      deleteCookie(c, cookieName, { path: base });
      return c.html(
        layout(
          "Account locked",
          html`<div id="account-locked" class="alert" role="alert">
            Your ${spec.name} account is locked after too many attempts. Call us to unlock it.
          </div>`,
          false,
        ),
        403,
      );
    }
    if (outcome === "wrong") {
      return c.html(
        layout(
          `Log in to ${spec.name}`,
          loginForm(
            html`<p id="login-error" class="alert" role="alert">The username or password is incorrect.</p>`,
            username,
          ),
          false,
        ),
        401,
      );
    }
    await writeState(c, { stage: "mfa", user: outcome, expiresAt: Date.now() + MFA_STEP_MS });
    return c.redirect(`${base}/mfa`, 303);
  });

  site.get("/mfa", async (c) => {
    const state = await readState(c);
    if (state?.stage !== "mfa") return c.redirect(`${base}/login`, 303);
    return c.html(layout("Verify it's you", mfaForm(), false));
  });

  site.post("/mfa", async (c) => {
    const state = await readState(c);
    if (state?.stage !== "mfa") return c.redirect(`${base}/login`, 303);
    const form = await c.req.parseBody();
    if (!checkMfaCode(typeof form.code === "string" ? form.code : "")) {
      return c.html(
        layout(
          "Verify it's you",
          mfaForm(
            html`<p id="mfa-error" class="alert" role="alert">That code is not right. Check it and try again.</p>`,
          ),
          false,
        ),
        401,
      );
    }
    const token = await writeState(c, {
      stage: "session",
      user: state.user,
      expiresAt: Date.now() + SESSION_MS,
    });
    // The browser's form hands the new session token over in a URL, as many
    // real sign-ins do (a leak path the device must mask); plain posts go home.
    if (form.continue === "welcome") {
      return c.redirect(`${base}/welcome?session=${token}`, 303);
    }
    return c.redirect(base, 303);
  });

  site.get("/welcome", async (c) => {
    return c.redirect(await signedIn(c) ? base : `${base}/login`, 303);
  });

  site.get("/logout", (c) => {
    deleteCookie(c, cookieName, { path: base });
    return c.redirect(`${base}/login`, 303);
  });

  const builder: SiteBuilder = {
    base,
    api(path, answer) {
      site.get(path, async (c) => {
        const user = await signedIn(c);
        if (!user) return c.json({ error: "unauthorized", message: "Log in first" }, 401);
        return c.json(answer(user) as object);
      });
    },
    page(path, title, body) {
      site.get(path, async (c) => {
        const user = await signedIn(c);
        if (!user) return c.redirect(`${base}/login`, 303);
        return c.html(layout(title, body(user), true));
      });
    },
    jsonPage(path, title, apiPath) {
      builder.page(path, title, () =>
        html`
          <div id="data" aria-live="polite">Loading…</div>
          <script>${raw(renderScript(`${base}${apiPath}`, `${base}/login`))}</script>
        `);
    },
  };

  builder.api("/api/account", spec.account);
  // the account home is the base path itself (`/sandbox/tmobile`)
  builder.jsonPage("/", "Your account", "/api/account");
  spec.routes(builder);
  return site;
}

/**
 * The inline script of a JSON page: fetch the API, render the JSON as nested
 * lists, mark `#data` loaded. Strings are set as text, never as HTML.
 */
function renderScript(api: string, login: string): string {
  const s = (v: string) => JSON.stringify(v).replaceAll("<", "\\u003c");
  return `
(async () => {
  const out = document.getElementById("data");
  const res = await fetch(${
    s(api)
  }, { credentials: "same-origin", headers: { accept: "application/json" } });
  if (res.status === 401) { location.href = ${s(login)}; return; }
  const render = (value) => {
    if (value === null || typeof value !== "object") {
      const span = document.createElement("span");
      span.textContent = String(value);
      return span;
    }
    const list = document.createElement(Array.isArray(value) ? "ol" : "dl");
    for (const [key, item] of Object.entries(value)) {
      if (!Array.isArray(value)) list.append(Object.assign(document.createElement("dt"), { textContent: key }));
      const cell = document.createElement(Array.isArray(value) ? "li" : "dd");
      cell.append(render(item));
      list.append(cell);
    }
    return list;
  };
  out.replaceChildren(render(await res.json()));
  out.dataset.loaded = "true";
})();`;
}
