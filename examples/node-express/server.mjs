// A tiny Express backend for Passage: POST /links creates a link with the SDK,
// POST /passage/webhook verifies the signed webhook with verifyWebhook over
// express.raw() (the exact bytes: a re-serialised JSON body does not verify).
//
//   PASSAGE_API_KEY=sk_test_… PASSAGE_URL=http://localhost:8000 node server.mjs
import express from "express";
import WebSocket from "ws";
import {
  Passage,
  PassageApiError,
  verifyWebhook,
  WebhookVerificationError,
} from "@passage/connect";

const baseUrl = process.env.PASSAGE_URL ?? "http://localhost:8000";
// Node 20 has no global WebSocket: pass ws's for sessions (Node 22+ may omit it).
const passage = new Passage({ apiKey: process.env.PASSAGE_API_KEY, baseUrl, WebSocket });

const app = express();

app.post("/links", express.json(), async (req, res) => {
  try {
    // Where Passage reaches this server: PUBLIC_URL, or the address it was called at.
    const publicUrl = process.env.PUBLIC_URL ?? `${req.protocol}://${req.get("host")}`;
    const link = await passage.links.create({
      provider: req.body?.provider ?? "tmobile",
      operations: [{ type: "mobileBillingStatement:read" }],
      webhookUrl: `${publicUrl}/passage/webhook`,
    });
    // Hand the claim code or URL to your user.
    res.status(201).json({ id: link.id, claimCode: link.claimCode, appClipUrl: link.appClipUrl });
  } catch (err) {
    if (err instanceof PassageApiError) {
      res.status(err.status).json({ code: err.code, message: err.message });
    } else throw err;
  }
});

app.post("/passage/webhook", express.raw({ type: "*/*" }), async (req, res) => {
  try {
    const event = await verifyWebhook({ body: req.body, headers: req.headers }, {
      baseUrl, // the keys: your account's key set on this Passage server
      audience: process.env.PASSAGE_ACCOUNT_ID, // acct_…: only your events (optional)
    });
    if (event.type === "link.completed") {
      const bill = event.results?.["mobileBillingStatement:read"];
      console.log(
        JSON.stringify({ verified: event.type, linkId: event.linkId, amountDue: bill?.amountDue }),
      );
    } else {
      console.log(JSON.stringify({ verified: event.type, id: event.id }));
    }
    res.sendStatus(204);
  } catch (err) {
    if (err instanceof WebhookVerificationError) {
      console.log(JSON.stringify({ refused: err.code }));
      res.status(400).json({ code: err.code });
    } else throw err;
  }
});

const server = app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
