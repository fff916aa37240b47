/** @jsxImportSource hono/jsx */
/** `/extension`: how to install the Passage browser extension, over the one layout. */
import { Layout } from "./_layout.tsx";

/** The extension page; `zipBuilt` says whether the zip can be downloaded here. */
export function ExtensionPage(props: { nonce: string; zipBuilt: boolean }) {
  return (
    <Layout title="The Passage browser extension" nonce={props.nonce}>
      <h1>The Passage browser extension</h1>
      <p class="lead">
        With the extension, a Passage link opened on a computer can continue right in this browser.
        It works only on this Passage server's own pages, and your passwords, one-time codes and
        cookies stay in your browser.
      </p>
      <section class="card" aria-labelledby="get">
        <h2 id="get">Get it</h2>
        {props.zipBuilt
          ? (
            <p>
              <a href="/extension/passage-extension.zip" download>
                Download passage-extension.zip
              </a>{" "}
              and unzip it.
            </p>
          )
          : (
            <p class="warn">
              The extension has not been built on this server yet, so there is nothing to download.
              Ask the people who run this server, or continue on a phone for now.
            </p>
          )}
      </section>
      <section class="card" aria-labelledby="install">
        <h2 id="install">Install it (Chrome, Edge, Brave)</h2>
        <ol class="steps">
          <li>
            Open <code>chrome://extensions</code> (in Edge, <code>edge://extensions</code>).
          </li>
          <li>Turn on Developer mode.</li>
          <li>Choose Load unpacked, and select the unzipped folder.</li>
          <li>Go back to your link and reload it: a Continue in this browser button appears.</li>
        </ol>
      </section>
    </Layout>
  );
}
