/**
 * A Deno backend on Passage in one file: `POST /connect` creates a link with
 * the SDK and answers the URL to send your user to; `POST /hook` receives the
 * link's webhook and verifies it with `verifyWebhook` before acting on it.
 *
 * ```sh
 * PASSAGE_URL=http://localhost:8000 PASSAGE_API_KEY=sk_test_… \
 *   deno run --allow-net --allow-env examples/deno/main.ts
 * curl -X POST http://127.0.0.1:3000/connect
 * ```
 *
 * @module
 */
import { Passage, verifyWebhook, WebhookVerificationError } from "@passage/connect";

const env = (name: string, fallback?: string): string => {
  const value = Deno.env.get(name) || fallback;
  if (value === undefined) throw new Error(`Set ${name}`);
  return value;
};

const passageUrl = env("PASSAGE_URL", "http://localhost:8000").replace(/\/+$/, "");
const passage = new Passage({ apiKey: env("PASSAGE_API_KEY"), baseUrl: passageUrl });
/** Your account id (`acct_…`, in the console): only events addressed to it verify. */
const accountId = Deno.env.get("PASSAGE_ACCOUNT_ID");
let publicUrl = Deno.env.get("PUBLIC_URL");

async function receiveWebhook(req: Request): Promise<Response> {
  try {
    // Pass the request untouched: the signature covers the exact body bytes.
    const event = await verifyWebhook(req, {
      // Your Passage server and account: the keys are your account's key set there.
      baseUrl: passageUrl,
      audience: accountId,
      livemode: false,
    });
    // The id is the same on every retry: use it to ignore repeats.
    console.log(`verified ${event.type} ${event.id} for ${event.linkId} (${event.status})`);
    if (event.type === "link.completed") console.log(JSON.stringify(event.results));
    return new Response(null, { status: 204 });
  } catch (err) {
    if (err instanceof WebhookVerificationError) {
      console.log(`refused a webhook: ${err.code}`);
      return new Response(err.code, { status: 400 });
    }
    throw err;
  }
}

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(env("PORT", "3000")),
  onListen({ hostname, port }) {
    publicUrl ??= `http://${hostname}:${port}`;
    console.log(`Example backend on ${publicUrl}: POST /connect makes a link`);
  },
}, async (req) => {
  const { pathname } = new URL(req.url);
  if (req.method === "POST" && pathname === "/connect") {
    const link = await passage.links.create({
      provider: "tmobile",
      operations: [{ type: "mobileBillingStatement:read" }],
      webhookUrl: `${publicUrl}/hook`,
    });
    console.log(`created ${link.id}`);
    return Response.json({ linkId: link.id, url: link.appClipUrl });
  }
  if (req.method === "POST" && pathname === "/hook") return await receiveWebhook(req);
  return new Response("Not found", { status: 404 });
});
