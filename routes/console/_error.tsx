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
        <a href="/console">Back to the console</a>
      </p>
    </ConsoleLayout>,
    err.status as 400,
  );
}
