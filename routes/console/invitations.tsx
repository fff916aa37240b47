/** @jsxImportSource hono/jsx */
/**
 * `/console/invitations`: the invitations waiting for the signed-in person's
 * answer. An invitation is an offer: nobody joins an account by being
 * invited, only by accepting here (a CSRF-protected form, like every console
 * form), which opens the account joined; declining takes the offer back.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { acceptInvitation, dropInvitation, invitationsFor } from "../../lib/accounts.ts";
import { switchConsoleAccount } from "../../lib/auth/console_sessions.ts";
import { getSessionId } from "../../lib/auth/get_session_id.ts";
import type { AppEnv } from "../../lib/http.ts";
import { consolePage, Csrf, when } from "./_layout.tsx";
import { readForm } from "./_form.ts";

const answerSchema = z.strictObject({ accountId: z.string().max(64) });

export function registerInvitationPages(app: Hono<AppEnv>): void {
  app.get("/console/invitations", async (c) => {
    const offers = await invitationsFor(c.var.services.kv, c.var.consoleSession.email);
    const declined = c.req.query("declined") !== undefined;
    return consolePage(
      c,
      { title: "Invitations", section: "invitations" },
      (
        <>
          <h1>Invitations</h1>
          {declined ? <div class="notice" role="status">Invitation declined.</div> : null}
          {offers.length
            ? (
              <p>
                Joining an account lets its admins see everything you build there: the keys you
                make, your users' links and their results. Accept only invitations you expected.
              </p>
            )
            : <p class="muted">No invitation is waiting for you.</p>}
          {offers.map(({ accountId, accountName, invitation }) => (
            <section class="card" aria-labelledby={`inv-${accountId}`}>
              <h2 id={`inv-${accountId}`}>{accountName}</h2>
              <p>
                <strong>{invitation.invitedBy}</strong> invites you to join as{" "}
                <span class="badge">{invitation.role}</span>.
              </p>
              <p class="muted">
                Account <code>{accountId}</code> · invited {when(invitation.createdAt)} · expires
                {" "}
                {when(invitation.expiresAt)}
              </p>
              <div class="row">
                <form method="post" action="/console/invitations/accept">
                  <Csrf c={c} />
                  <input type="hidden" name="accountId" value={accountId} />
                  <button type="submit" aria-label={`Accept and open ${accountName}`}>
                    Accept and open
                  </button>
                </form>
                <form method="post" action="/console/invitations/decline">
                  <Csrf c={c} />
                  <input type="hidden" name="accountId" value={accountId} />
                  <button
                    class="quiet"
                    type="submit"
                    aria-label={`Decline the invitation to ${accountName}`}
                  >
                    Decline
                  </button>
                </form>
              </div>
            </section>
          ))}
        </>
      ),
    );
  });

  app.post("/console/invitations/accept", async (c) => {
    const { accountId } = await readForm(c, answerSchema);
    await acceptInvitation(c.var.services.kv, accountId, c.var.consoleSession.email);
    await switchConsoleAccount(
      c.var.services.kv,
      getSessionId(c.req.raw, c.var.services.config),
      accountId,
    );
    return c.redirect("/console", 303);
  });

  app.post("/console/invitations/decline", async (c) => {
    const { accountId } = await readForm(c, answerSchema);
    // Only the invited person's own invitation: the email is the session's.
    await dropInvitation(c.var.services.kv, accountId, c.var.consoleSession.email);
    return c.redirect("/console/invitations?declined", 303);
  });
}
