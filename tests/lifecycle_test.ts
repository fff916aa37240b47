/**
 * The lifecycle's one door (`lib/lifecycle.ts`), over every pair of
 * statuses: an allowed move is stored with its indexes and jobs in one
 * commit; a refused one answers `invalid_status_transition` and changes
 * nothing. Links start as the API creates them and reach each status only
 * through the door.
 */
import assert from "node:assert/strict";
import { LINK_STATUSES, type LinkStatus } from "@passage/connect/schemas";
import { PassageError } from "../lib/errors.ts";
import {
  canTransition,
  type LinkRecord,
  NEXT,
  stageTransition,
  transitionLink,
} from "../lib/lifecycle.ts";
import { linkKey, linksByExpiryKey, runnableLinkKey } from "../lib/kv_keys.ts";
import { Jobs } from "../lib/queue.ts";
import { createLinkViaApi, startServer, storedLink, type TestServer } from "./_harness.ts";

/** The shortest path through the door from `pending` to each status. */
const PATH: Record<LinkStatus, LinkStatus[]> = {
  pending: [],
  claimed: ["claimed"],
  running: ["claimed", "running"],
  complete: ["claimed", "running", "complete"],
  failed: ["claimed", "running", "failed"],
  expired: ["expired"],
  cancelled: ["cancelled"],
};

async function linkIn(server: TestServer, status: LinkStatus): Promise<LinkRecord> {
  const { id } = await createLinkViaApi(server);
  for (const step of PATH[status]) await transitionLink(server.services, id, step);
  const link = await storedLink(server.kv, id);
  assert.equal(link?.status, status);
  return link!;
}

const END_STATES = LINK_STATUSES.filter((s) => NEXT[s].length === 0);

Deno.test("NEXT: links only move forward, and end states are final", () => {
  assert.deepEqual(END_STATES.toSorted(), ["cancelled", "complete", "expired", "failed"]);
  for (const from of LINK_STATUSES) {
    assert.ok(!canTransition(from, "pending"), `${from} → pending`);
    assert.ok(!canTransition(from, from), `${from} → ${from}`);
  }
});

Deno.test("the door makes every allowed move, with its indexes, and refuses every other", async (t) => {
  await using server = await startServer({ useQueues: false });
  for (const from of LINK_STATUSES) {
    for (const to of LINK_STATUSES) {
      const allowed = canTransition(from, to);
      await t.step(`${from} → ${to}: ${allowed ? "allowed" : "refused"}`, async () => {
        const before = await linkIn(server, from);
        const expiryKey = linksByExpiryKey(Date.parse(before.expiresAt), before.id);
        if (!allowed) {
          await assert.rejects(
            transitionLink(server.services, before.id, to),
            (err) => err instanceof PassageError && err.code === "invalid_status_transition",
          );
          assert.deepEqual(await storedLink(server.kv, before.id), before, "a refused move wrote");
          return;
        }
        const next = await transitionLink(server.services, before.id, to);
        assert.deepEqual(await storedLink(server.kv, before.id), next);
        assert.equal(next.status, to);
        const [expiry, runnable] = await server.kv.getMany([expiryKey, runnableLinkKey(before.id)]);
        // the expiry index holds pending links only
        assert.equal(expiry.versionstamp === null, true, "still in the expiry index");
        // the runnable index holds links waiting for or in a run
        assert.equal(runnable.versionstamp !== null, to === "claimed" || to === "running");
        if (to === "claimed") assert.ok(next.claimedAt);
        assert.equal(next.completedAt !== null, to === "complete" || to === "failed");
      });
    }
  }
});

Deno.test("a pending link is in the expiry index until it moves", async () => {
  await using server = await startServer();
  const link = await linkIn(server, "pending");
  const key = linksByExpiryKey(Date.parse(link.expiresAt), link.id);
  assert.notEqual((await server.kv.get(key)).versionstamp, null);
});

Deno.test("a claim through the door enqueues the link's run in the same commit", async () => {
  await using server = await startServer();
  const link = await linkIn(server, "pending");
  // a KV of its own, so that this test's listener is the only one on its queue
  const kv = await Deno.openKv(":memory:");
  try {
    await kv.set(linkKey(link.id), link);
    const jobs = new Jobs(kv, { useQueues: true });
    const seen = new Promise<string>((resolve) =>
      jobs.on("link.run", (id) => Promise.resolve(resolve(id)))
    );
    jobs.listen();
    const entry = await kv.get<LinkRecord>(linkKey(link.id));
    const op = kv.atomic();
    stageTransition(server.services, op, entry as Deno.KvEntry<LinkRecord>, "claimed", { jobs });
    assert.ok((await op.commit()).ok);
    assert.equal(await seen, link.id);
  } finally {
    kv.close();
  }
});

Deno.test("stageTransition checks the record as read: a stale entry does not commit", async () => {
  await using server = await startServer();
  const link = await linkIn(server, "pending");
  const stale = await server.kv.get<LinkRecord>(linkKey(link.id));
  await transitionLink(server.services, link.id, "cancelled");
  const op = server.kv.atomic();
  stageTransition(server.services, op, stale as Deno.KvEntry<LinkRecord>, "claimed");
  assert.equal((await op.commit()).ok, false);
  assert.equal((await storedLink(server.kv, link.id))?.status, "cancelled");
});

Deno.test("transitionLink with from refuses a link that moved on (a finish after a cancel)", async () => {
  await using server = await startServer();
  const link = await linkIn(server, "running");
  await transitionLink(server.services, link.id, "cancelled");
  await assert.rejects(
    transitionLink(server.services, link.id, "complete", { from: ["running"] }),
    (err) => err instanceof PassageError && err.code === "invalid_status_transition",
  );
});
