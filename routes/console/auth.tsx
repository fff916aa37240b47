/** @jsxImportSource hono/jsx */
/**
 * Thin routes over `lib/auth/`: the sign-in page, the start of a sign-in with
 * one provider, the provider's callback, the dev sign-in link and sign-out.
 */
import type { Hono } from "hono";
import { handleCallback } from "../../lib/auth/handle_callback.ts";
import { redeemDevSignIn } from "../../lib/auth/dev_sign_in.ts";
import { signIn } from "../../lib/auth/sign_in.ts";
import { signOut } from "../../lib/auth/sign_out.ts";
import { PassageError } from "../../lib/errors.ts";
import type { AppEnv } from "../../lib/http.ts";
import { ConsoleLayout, newNonce, sendConsolePage } from "./_layout.tsx";

function provider(c: { var: AppEnv["Variables"] }, id: string) {
  const found = c.var.services.config.signIn.providers.find((p) => p.id === id);
  if (!found) {
    throw new PassageError("not_found", `No sign-in provider "${id}" is configured`);
  }
  return found;
}

export function registerConsoleAuth(app: Hono<AppEnv>): void {
  app.get("/console/sign-in", (c) => {
    const { providers, devSignIn } = c.var.services.config.signIn;
    const nonce = newNonce();
    return sendConsolePage(
      c,
      nonce,
      <ConsoleLayout title="Sign in" nonce={nonce}>
        <h1>Sign in to the Passage console</h1>
        <div class="card">
          {providers.length
            ? (
              <ul class="timeline">
                {providers.map((p) => (
                  <li>
                    <a
                      class="button"
                      href={`/console/sign-in/${p.id}`}
                    >
                      Sign in with {p.label}
                    </a>
                  </li>
                ))}
              </ul>
            )
            : null}
          {devSignIn
            ? (
              <p>
                Development server: open the one-time sign-in link <code>deno task dev</code>{" "}
                printed in its terminal.
              </p>
            )
            : null}
          {!providers.length && !devSignIn
            ? (
              <p>
                No sign-in is configured. Set <code>PASSAGE_OIDC_ISSUER</code>,{" "}
                <code>PASSAGE_OIDC_CLIENT_ID</code> and <code>PASSAGE_OIDC_CLIENT_SECRET</code> (or
                {" "}
                <code>PASSAGE_GITHUB_CLIENT_ID</code> and{" "}
                <code>PASSAGE_GITHUB_CLIENT_SECRET</code>) and restart the server.
              </p>
            )
            : null}
        </div>
      </ConsoleLayout>,
    );
  });

  app.get(
    "/console/sign-in/:provider",
    (c) => signIn(c.var.services.kv, provider(c, c.req.param("provider")), c.var.services.config),
  );

  app.get("/console/callback/:provider", async (c) => {
    const { response } = await handleCallback(
      c.var.services.kv,
      c.req.raw,
      provider(c, c.req.param("provider")),
      {
        publicUrl: c.var.services.config.publicUrl,
        sessionSeconds: c.var.services.config.signIn.sessionSeconds,
      },
    );
    return response;
  });

  app.get(
    "/console/dev-sign-in",
    (c) => redeemDevSignIn(c.var.services.kv, c.req.query("token"), c.var.services.config),
  );

  app.post(
    "/console/sign-out",
    (c) => signOut(c.var.services.kv, c.req.raw, c.var.services.config),
  );
}
