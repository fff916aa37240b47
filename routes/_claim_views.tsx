/** @jsxImportSource hono/jsx */
/**
 * The claim page in every state, over one {@link Layout}: who asks and for
 * what, where the session may go, what is never shared, when the code expires,
 * and how to continue (this browser with the extension, a phone by QR code, or
 * the code typed into an app), under the asking account's logo when it has
 * one. Live states carry an `aria-live` status the page's script keeps current.
 */
import { renderSVG } from "uqr";
import { appSubject, type ClaimView } from "../lib/claim_view.ts";
import { Layout } from "./_layout.tsx";
import { CLAIM_SCRIPT } from "./_claim_script.ts";

/** Which phones can open the link here (from configuration). */
export interface PhoneSupport {
  iphone: boolean;
  android: boolean;
}

const OP_WORDS: Record<string, string> = {
  pending: "Waiting",
  running: "Reading",
  complete: "Done",
  failed: "Failed",
  skipped: "Skipped",
};

/** The expiry as the server writes it (UTC); the script shows it in local time. */
function utcText(iso: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZone: "UTC",
  }).format(new Date(iso)) + " UTC";
}

function Where(props: { origins: string[] | null; who: string }) {
  if (props.origins === null) {
    return (
      <p class="warn">
        <strong>{props.who} may open any website</strong>{" "}
        in this session. Check the address in your browser before you type a password.
      </p>
    );
  }
  return (
    <>
      <p>This session may only open these websites:</p>
      <ul>
        {props.origins.map((o) => (
          <li>
            <code>{o}</code>
          </li>
        ))}
      </ul>
    </>
  );
}

function Progress(props: { view: ClaimView; badges: boolean }) {
  return (
    <ul id="progress" class="progress">
      {props.view.operations.map((op) => (
        <li>
          <span>{op.label}</span>
          {props.badges ? <span class={`badge s-${op.status}`}>{OP_WORDS[op.status]}</span> : null}
        </li>
      ))}
    </ul>
  );
}

function NeverShared(props: { view: ClaimView; link: boolean }) {
  return (
    <section class="card" aria-labelledby="never">
      <h2 id="never">Never shared</h2>
      <p>
        Your passwords, one-time codes and cookies stay on your device. {appSubject(props.view)}
        {" "}
        never sees them{props.link ? "; it receives only the data listed above." : "."}
      </p>
    </section>
  );
}

function Continue(props: { view: ClaimView; phones: PhoneSupport }) {
  const { view, phones } = props;
  const qr = renderSVG(view.claimUrl!, { border: 2 });
  const phoneText = phones.iphone && phones.android
    ? "On an iPhone, tap Open on the App Clip card; on Android, the Passage app opens it."
    : phones.iphone
    ? "On an iPhone, tap Open on the App Clip card. No Android app is set up for this server yet."
    : phones.android
    ? "On Android, the Passage app opens it. No iPhone app is set up for this server yet."
    : "No phone app is set up for this server yet: for now, use a computer with the extension.";
  const noun = view.kind === "link" ? "link" : "session";
  return (
    <section class="card continue" id="continue" aria-labelledby="continue-title" data-pending-only>
      <h2 id="continue-title">Continue</h2>
      <div id="ext-yes" hidden>
        <p>The Passage extension is installed in this browser.</p>
        <button type="button" id="continue-here">Continue in this browser</button>
      </div>
      <p id="ext-no">
        On a computer, continue in this browser with the{" "}
        <a href="/extension">Passage browser extension</a>: install it, then reload this page.
      </p>
      <p id="continue-status" role="status" aria-live="polite"></p>
      <h3>On a phone</h3>
      <div class="qr" role="img" aria-label="QR code that opens this page on a phone">
        <div dangerouslySetInnerHTML={{ __html: qr }} />
      </div>
      <p>Scan the QR code with the phone's camera. {phoneText}</p>
      <p>
        Or enter this code in the app: <span class="code">{view.claimCode}</span>
      </p>
      <p class="muted">
        This {noun} expires on <time datetime={view.expiresAt!}>{utcText(view.expiresAt!)}</time>.
      </p>
    </section>
  );
}

function PendingBody(props: { view: ClaimView; phones: PhoneSupport }) {
  const { view } = props;
  const link = view.kind === "link";
  return (
    <div class="pending">
      <div>
        <section class="card" aria-labelledby="what">
          {link
            ? (
              <>
                <h2 id="what">What {view.appMention} will read from {view.providerName}</h2>
                <Progress view={view} badges={false} />
                <p class="muted">
                  You log in to {view.providerName} yourself, on your own device.
                </p>
              </>
            )
            : (
              <>
                <h2 id="what">What {view.appMention} will do</h2>
                <p>
                  Open websites in a browser on your device and read what those pages show, while
                  you stay in control: you log in yourself.
                </p>
              </>
            )}
        </section>
        <section class="card" aria-labelledby="where">
          <h2 id="where">Where this session may go</h2>
          <Where origins={view.allowedOrigins} who={appSubject(view)} />
        </section>
        <NeverShared view={view} link={link} />
      </div>
      <Continue view={view} phones={props.phones} />
    </div>
  );
}

/** The whole claim page for `view`. */
export function ClaimPage(
  props: {
    view: ClaimView;
    nonce: string;
    phones: PhoneSupport;
    appBanner: string | null;
    statusUrl: string | null;
  },
) {
  const { view } = props;
  const live = !view.final;
  return (
    <Layout
      title={view.title}
      nonce={props.nonce}
      appBanner={view.state === "pending" ? props.appBanner : null}
      bodyClass={`state-${view.state}${view.state === "pending" ? " wide" : ""}`}
      script={live || view.claimCode ? CLAIM_SCRIPT : undefined}
    >
      <div
        data-state={view.state}
        data-final={String(view.final)}
        data-claim-code={view.claimCode ?? undefined}
        data-status-url={live ? props.statusUrl ?? undefined : undefined}
        id="view"
      >
        {view.logo
          ? (
            <img
              class="app-logo"
              src={view.logo.src}
              alt={view.logo.alt}
              width={64}
              height={64}
            />
          )
          : null}
        <h1>{view.headline}</h1>
        <p id="live" class="lead" role="status" aria-live="polite">{view.message}</p>
        {view.state === "pending"
          ? <PendingBody view={view} phones={props.phones} />
          : view.kind === "link"
          ? (
            <>
              <section class="card" aria-labelledby="progress-title">
                <h2 id="progress-title">
                  {live ? "Progress" : `What ${view.appMention} asked to read`}
                </h2>
                <Progress view={view} badges />
              </section>
              {live
                ? (
                  <noscript>
                    <p>Reload this page to see the latest status.</p>
                  </noscript>
                )
                : null}
              {live ? <NeverShared view={view} link /> : null}
            </>
          )
          : null}
        {view.state === "not_found"
          ? (
            <p class="muted">
              Codes look like <code>K7QD2-9XW4M</code>; the app that sent you here shows yours.
            </p>
          )
          : null}
      </div>
    </Layout>
  );
}
