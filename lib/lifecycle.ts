/**
 * A link's life, and the one door it moves through. A link only moves
 * forward along `NEXT`; `transitionLink` (or `stageTransition`, to join a
 * commit that writes more, such as the claim's session) is the only way its
 * status changes: it checks the move, writes the record and its indexes, and
 * enqueues what follows, in one atomic commit checked against the record as
 * read. The claim, the engine's finish, cancel and expiry all go through it.
 *
 * What a move does besides the record:
 * - leaving `pending`: the link leaves the expiry index;
 * - to `claimed`: `claimedAt` is set, the link joins the runnable index (the
 *   engine's sweep) and a `link.run` job wakes a worker where queues exist;
 * - to `complete` or `failed`: `completedAt` is set;
 * - to any end state: the link leaves the runnable index;
 * - to an end state other than `complete`: the results a run kept so far
 *   (see `prepareResults` in `links.ts`) are deleted, as they are never served.
 *
 * @module
 */
import type {
  ClientEvent,
  Link,
  LinkDevice,
  LinkError,
  LinkStatus,
  WebhookEventsOption,
} from "@passage/connect/schemas";
import { PassageError } from "./errors.ts";
import { linkKey, linkResultsKey, linksByExpiryKey, runnableLinkKey } from "./kv_keys.ts";
import type { Jobs } from "./queue.ts";
import type { Services } from "./services.ts";

/** What a move through the door uses: the store, the clock (the move's time) and the log. */
export type LifecycleServices = Pick<Services, "kv" | "clock" | "log">;

/** A link as stored in KV. */
export interface LinkRecord {
  id: string;
  /** The account that owns the link (see `accounts.ts`). */
  accountId: string;
  /** The API key that created it (it may since have been revoked; the account still owns the link). */
  ownerKeyId: string;
  livemode: boolean;
  provider: string;
  operations: Link["operations"];
  error: LinkError | null;
  completedAt: string | null;
  webhookUrl: string | null;
  metadata: Record<string, string>;
  status: LinkStatus;
  /** Normalized claim code (no dash). */
  claimCode: string;
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
  claimedAt: string | null;
  /** The session that runs this link. */
  sessionId: string;
  /**
   * When the user's login on the device last succeeded, for this run or one
   * an instance before it started (a run taken over checks the device is
   * still logged in and goes on without a new login); absent: not yet.
   */
  loginAt?: string | null;
  /** The device that connected to run it (`recordDeviceClient`); absent until one did. */
  device?: LinkDevice | null;
  /** The developer's app name for the claim page; null or absent: the server's default. */
  appName?: string | null;
  /** Client events, oldest first, at most `MAX_LINK_EVENTS` (`client_events.ts`); absent: none. */
  events?: ClientEvent[];
  /** Extra webhooks the link asked for (`["client"]`); absent: none. */
  webhookEvents?: WebhookEventsOption[];
}

/** The queue job that starts a link's run (the engine handles it). */
export const RUN_LINK_JOB = "link.run";

/** Allowed moves; anything else is a 409 `invalid_status_transition`. */
export const NEXT: Readonly<Record<LinkStatus, readonly LinkStatus[]>> = {
  pending: ["claimed", "expired", "cancelled"],
  claimed: ["running", "failed", "expired", "cancelled"],
  running: ["complete", "failed", "cancelled"],
  complete: [],
  failed: [],
  expired: [],
  cancelled: [],
};

/** Whether a link may move from `from` to `to`. */
export function canTransition(from: LinkStatus, to: LinkStatus): boolean {
  return NEXT[from].includes(to);
}

/** What a move asks for besides its target. */
export interface TransitionOptions {
  /** Fields to change with the status (not `status` itself). */
  patch?: Partial<Omit<LinkRecord, "status" | "id">>;
  /** Where the `link.run` job of a claim is enqueued (absent: the sweep finds the link). */
  jobs?: Jobs;
}

/**
 * Plans a move of `current` to `to`: the next record, and the writes besides
 * it (indexes, jobs) to add to the commit that stores it. Throws
 * `invalid_status_transition` if `NEXT` does not allow the move. For a
 * caller that stores the record in its own write (`recordClientEvent`);
 * otherwise use `stageTransition` or `transitionLink`.
 */
export function planTransition(
  svc: Pick<Services, "clock">,
  current: LinkRecord,
  to: LinkStatus,
  options: TransitionOptions = {},
): { next: LinkRecord; effects: (op: Deno.AtomicOperation) => void } {
  if (!canTransition(current.status, to)) {
    throw new PassageError(
      "invalid_status_transition",
      `Link ${current.id} is ${current.status} and cannot become ${to}`,
    );
  }
  const now = new Date(svc.clock.now()).toISOString();
  const next: LinkRecord = {
    ...current,
    ...(to === "claimed" ? { claimedAt: now } : {}),
    ...(to === "complete" || to === "failed" ? { completedAt: now } : {}),
    ...options.patch,
    status: to,
    updatedAt: now,
  };
  const effects = (op: Deno.AtomicOperation) => {
    if (current.status === "pending") {
      op.delete(linksByExpiryKey(Date.parse(current.expiresAt), current.id));
    }
    if (to === "claimed") {
      op.set(runnableLinkKey(current.id), current.id);
      options.jobs?.enqueueIn(op, { kind: RUN_LINK_JOB, id: current.id });
    }
    if (NEXT[to].length === 0) op.delete(runnableLinkKey(current.id));
    if (NEXT[to].length === 0 && to !== "complete") op.delete(linkResultsKey(current.id));
  };
  return { next, effects };
}

/**
 * Adds the move of the link `entry` holds to `op`: a check of `entry`, the
 * next record and the move's other writes. Returns the next record (stored
 * once `op` commits).
 */
export function stageTransition(
  svc: Pick<Services, "clock">,
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<LinkRecord>,
  to: LinkStatus,
  options: TransitionOptions = {},
): LinkRecord {
  const { next, effects } = planTransition(svc, entry.value, to, options);
  op.check(entry).set(linkKey(entry.value.id), next);
  effects(op);
  return next;
}

/**
 * Moves a link to `to`, in one commit checked against the version read,
 * rereading after a conflict. `extra` adds writes to that commit (results, a
 * webhook event) given the next record. A move `NEXT` refuses throws
 * `invalid_status_transition`, and so does one from a status not in `from`
 * when given (a finish that lost to a cancel).
 */
export async function transitionLink(
  svc: LifecycleServices,
  linkId: string,
  to: LinkStatus,
  options: TransitionOptions & {
    extra?: (op: Deno.AtomicOperation, next: LinkRecord) => void;
    from?: readonly LinkStatus[];
  } = {},
): Promise<LinkRecord> {
  const { kv } = svc;
  for (;;) {
    const entry = await kv.get<LinkRecord>(linkKey(linkId));
    if (!entry.value) {
      throw new PassageError("link_not_found", `No link with id "${linkId}"`);
    }
    if (options.from && !options.from.includes(entry.value.status)) {
      throw new PassageError(
        "invalid_status_transition",
        `Link ${linkId} is ${entry.value.status}, not ${options.from.join(" or ")}`,
      );
    }
    const op = kv.atomic();
    const next = stageTransition(svc, op, entry as Deno.KvEntry<LinkRecord>, to, options);
    options.extra?.(op, next);
    if ((await op.commit()).ok) {
      logTransition(svc, entry.value, next);
      return next;
    }
  }
}

/** The `link.status` log line of a committed move. */
export function logTransition(svc: Pick<Services, "log">, from: LinkRecord, to: LinkRecord): void {
  svc.log.info("link.status", {
    link_id: to.id,
    from: from.status,
    to: to.status,
    account_id: to.accountId,
  });
}
