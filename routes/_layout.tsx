/** @jsxImportSource hono/jsx */
/**
 * The one layout of the user's pages (the claim page in every state, the
 * extension page): landmarks, mobile-first CSS inline, and the headers that
 * keep them private and unframeable.
 */
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { ContentfulStatusCode } from "hono/utils/http-status";

const CSS = `
:root{color-scheme:light;--ink:#17191c;--muted:#474c55;--line:#d3d7de;--bg:#f3f5f8;--card:#fff;
--accent:#0a52c4;--warn-bg:#fff3e0;--warn-ink:#5c3200;--warn-line:#b35c00;--ok:#0b6630;--bad:#a61b0b}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:var(--bg)}
header,main,footer{max-width:44rem;margin:0 auto;padding-left:1rem;padding-right:1rem}
header{padding-top:1rem;padding-bottom:.25rem}
.brand{display:inline-flex;align-items:center;gap:.5rem;font-weight:700;font-size:1.05rem;color:var(--ink);
text-decoration:none}
.brand b{display:inline-grid;place-items:center;width:1.9rem;height:1.9rem;border-radius:.5rem;
background:var(--accent);color:#fff;font-size:1.1rem}
main{padding-bottom:1.5rem}
h1{font-size:1.6rem;line-height:1.25;margin:.75rem 0 .5rem;overflow-wrap:anywhere}
h2{font-size:1.1rem;line-height:1.3;margin:0 0 .5rem}
h3{font-size:1rem;line-height:1.3;margin:1.25rem 0 .25rem}
p{margin:.5rem 0}
.lead{font-size:1.125rem;margin:0 0 1rem}
.app-logo{display:block;width:4rem;height:4rem;object-fit:contain;margin:1rem 0 0;border-radius:.75rem;
background:#fff;border:1px solid var(--line)}
.card{background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:1rem 1.1rem;
margin:0 0 1rem}
ul,ol{margin:.25rem 0;padding-left:1.3rem}
li{margin:.2rem 0}
code{font:.95em/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
.warn{background:var(--warn-bg);color:var(--warn-ink);border-left:.3rem solid var(--warn-line);
padding:.6rem .8rem;border-radius:.4rem}
.muted{color:var(--muted)}
.code{display:inline-block;font:700 1.5rem/1.2 ui-monospace,SFMono-Regular,Menlo,monospace;
letter-spacing:.08em;background:var(--bg);border:1px dashed var(--muted);border-radius:.4rem;
padding:.3rem .6rem;margin:.25rem 0;user-select:all}
.qr{width:12rem;max-width:100%;margin:.5rem 0;background:#fff}
.qr svg{display:block;width:100%;height:auto}
.steps li{margin:.4rem 0}
.progress{list-style:none;padding:0}
.progress li{display:flex;justify-content:space-between;gap:.75rem;align-items:baseline;
padding:.45rem 0;border-bottom:1px solid var(--line)}
.progress li:last-child{border-bottom:0}
.progress li>span:first-child::first-letter{text-transform:uppercase}
.badge{flex:none;font-size:.875rem;font-weight:600;padding:.1rem .55rem;border-radius:1rem;
background:var(--bg);color:var(--muted);border:1px solid var(--line)}
.badge.s-complete{color:var(--ok);border-color:var(--ok)}
.badge.s-failed{color:var(--bad);border-color:var(--bad)}
.badge.s-running{color:var(--accent);border-color:var(--accent)}
.state-failed .lead,.state-expired .lead,.state-cancelled .lead{border-left:.3rem solid var(--bad);
padding-left:.75rem}
.state-complete .lead{border-left:.3rem solid var(--ok);padding-left:.75rem}
button{font:inherit;font-weight:600;background:var(--accent);color:#fff;border:0;border-radius:.6rem;
padding:.75rem 1.25rem;min-height:3rem;width:100%;cursor:pointer}
button:disabled{background:var(--muted);cursor:default}
a{color:var(--accent);text-underline-offset:.15em}
:focus-visible{outline:3px solid var(--accent);outline-offset:3px;border-radius:.2rem}
button:focus-visible{outline-color:var(--ink)}
[hidden]{display:none!important}
footer{color:var(--muted);font-size:.9375rem;padding-bottom:2rem}
footer p{border-top:1px solid var(--line);padding-top:1rem;margin:0}
@media (min-width:48rem){
 h1{font-size:2rem;margin-top:1.25rem}
 .card{padding:1.25rem 1.5rem}
}
@media (min-width:62rem){
 .wide header,.wide main,.wide footer{max-width:68rem}
 .pending{display:grid;grid-template-columns:minmax(0,1fr) 22rem;gap:0 1.5rem;align-items:start}
 .continue{position:sticky;top:1rem}
}
`;

/** Props of {@link Layout}. */
export interface LayoutProps {
  title: string;
  /** The per-response nonce that lets the inline style and script run. */
  nonce: string;
  /** The Smart App Banner's `content`, or null for none. */
  appBanner?: string | null;
  /** A class on `<body>`, such as `state-failed`. */
  bodyClass?: string;
  /** The page's own inline script (static text: data goes in `data-*` attributes). */
  script?: string;
  children?: Child;
}

/** The page shell: header, main and footer landmarks around `children`. */
export function Layout(props: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <meta name="referrer" content="no-referrer" />
        {props.appBanner ? <meta name="apple-itunes-app" content={props.appBanner} /> : null}
        <title>{`${props.title} · Passage`}</title>
        <style nonce={props.nonce} dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body class={props.bodyClass}>
        <header>
          <span class="brand">
            <b aria-hidden="true">P</b>Passage
          </span>
        </header>
        <main id="main">{props.children}</main>
        <footer>
          <p>
            Passage connects accounts on your own device. Your passwords, one-time codes and cookies
            never leave it.
          </p>
        </footer>
        {props.script
          ? <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: props.script }} />
          : null}
      </body>
    </html>
  );
}

/** A fresh nonce for one response's inline style and script. */
export function newNonce(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(18))));
}

/**
 * The CSP of every page: inline code only with `nonce`, nothing framed, and
 * forms posting only where `formAction` says (`'none'`, or `'self'` for the
 * console).
 */
export function pageCsp(nonce: string, formAction: "'none'" | "'self'" = "'none'"): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    `form-action ${formAction}`,
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * Answers an HTML page with the headers every page carries: a strict CSP
 * (inline code only with `nonce`), no caching, no framing; user pages send no
 * referrer, console pages (`policy`) post forms to this origin.
 */
export function sendPage(
  c: Context,
  nonce: string,
  page: unknown,
  status: ContentfulStatusCode = 200,
  policy: { formAction: "'none'" | "'self'"; referrer: "no-referrer" | "same-origin" } = {
    formAction: "'none'",
    referrer: "no-referrer",
  },
): Response {
  c.header("Content-Security-Policy", pageCsp(nonce, policy.formAction));
  c.header("Referrer-Policy", policy.referrer);
  c.header("Cache-Control", "no-store");
  c.header("X-Frame-Options", "DENY");
  c.header("X-Content-Type-Options", "nosniff");
  return c.html(`<!doctype html>${String(page)}`, status);
}
