/** @jsxImportSource hono/jsx */
/** What a console page answers when something is wrong: the message and its stable code, as HTML. */
import type { Context } from "hono";
import type { PassageError } from "../../lib/errors.ts";
import { ConsoleLayout, newNonce, sendConsolePage } from "./_layout.tsx";

/** Whether a request is for the console's HTML (its errors are pages, not JSON). */
export function isConsoleRequest(c: Context): boolean {
  return new URL(c.req.url).pathname.startsWith("/console");
}

/** The error page for `err`, with its status. */
export function consoleErrorPage(c: Context, err: PassageError): Response {
  const nonce = newNonce();
  const back = c.req.method === "POST" ? formPage(c) : null;
  return sendConsolePage(
    c,
    nonce,
    <ConsoleLayout title="Something is wrong" nonce={nonce}>
      <h1>
        {err.status === 404
          ? "Not found"
          : err.status === 403
          ? "Not allowed"
          : "That did not work"}
      </h1>
      <div class="error" role="alert">
        <p>{err.message}</p>
        <p class="muted">
          Code <code>{err.code}</code>
        </p>
      </div>
      <p>
        {back ? <a href={back}>Back to the form</a> : <a href="/console">Back to the console</a>}
      </p>
    </ConsoleLayout>,
    err.status as 400,
  );
}

/** The console page a refused form was posted from (its same-origin Referer), or null. */
function formPage(c: Context): string | null {
  try {
    const from = new URL(c.req.header("referer") ?? "");
    if (from.origin !== new URL(c.req.url).origin || !from.pathname.startsWith("/console")) {
      return null;
    }
    return from.pathname + from.search;
  } catch {
    return null;
  }
}
