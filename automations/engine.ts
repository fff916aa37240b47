/**
 * The automation engine: runs a claimed link's operations, in order, after the
 * user's single login, on the session's device, through the same `Browser` the
 * SDK gives developers. The link's final state, its results and its webhook
 * event land in one atomic commit.
 *
 * Who runs a link: whichever instance holds its lease in KV. A run is started
 * the moment the device connects (the fast path, which needs no queue), by a
 * queue message where queues exist, and by the minute sweep otherwise or after
 * a crash (a lease not renewed expires and another instance takes over).
 *
 * A run keeps its progress as it goes: the login's success (`loginAt`, with
 * `login_succeeded`) and each completed operation's validated result (in the
 * link's results key, with the operation's progress and its
 * `operation_completed`). A run that takes over a `running` link whose login
 * succeeded asks the device whether its browser is still logged in: if so it
 * skips the login and the operations already done (`run_resumed`); if not, it
 * logs in again and runs every operation, since a new login may be another
 * account.
 */
import { Browser } from "@passage/connect";
import type { LinkError, OperationStatus, OperationType } from "@passage/connect/schemas";
import { resultSchemas } from "@passage/connect/results";
import { type ClientEventInput, recordClientEvent } from "../lib/client_events.ts";
import {
  linkKey,
  linkRunKey,
  runnableLinkKey,
  runnableLinkPrefix,
  sessionKey,
} from "../lib/kv_keys.ts";
import { type LinkRecord, prepareResults, readKeptResults } from "../lib/links.ts";
import { logTransition, planTransition, RUN_LINK_JOB, transitionLink } from "../lib/lifecycle.ts";
import { PassageError } from "../lib/errors.ts";
import { fixedClock, type Services, type SessionLogService } from "../lib/services.ts";
import { endSession, type SessionRecord } from "../lib/sessions.ts";
import { addWebhookEvent, type LinkOutcome } from "../lib/webhooks.ts";
import { LocalTransport } from "../relay/local_transport.ts";
import type { Relay } from "../relay/relay.ts";
import { automationBaseUrl, getAutomation } from "./registry.ts";
import { DEFAULT_LOGIN_ATTEMPTS } from "./_login.ts";
import { AutomationError, toAutomationError } from "./types.ts";

/** Failures that mean the user (or their device) left before the link finished: `user_exited`. */
const EXIT_CODES = new Set(["user_abandoned", "mfa_timeout", "device_lost"]);

/** Who holds a link's run, and until when (ms since epoch). */
export interface LinkRun {
  holder: string;
  expiresAt: number;
}

export { RUN_LINK_JOB };

/**
 * A run's lease: short, renewed by its holder every third of it, so another
 * instance takes over a dead instance's run within seconds (the frequent
 * check in `main.ts` kicks runnable links).
 */
export const LEASE_MS = 6_000;

/** What the engine runs on: the services, the relay and its session log. */
export type EngineDeps = Services & SessionLogService & { readonly relay: Relay };

export class Engine {
  readonly #deps: EngineDeps;
  readonly #holder = crypto.randomUUID();
  readonly #runs = new Map<string, Promise<void>>();
  readonly #transports = new Set<LocalTransport>();
  #closed = false;

  constructor(deps: EngineDeps) {
    this.#deps = deps;
    // Every path (queue, device connection, sweep) goes through kick, so one
    // instance never runs a link twice at once; the lease covers instances.
    deps.jobs.on(RUN_LINK_JOB, async (linkId) => {
      this.kick(linkId);
      await this.#runs.get(linkId);
    });
  }

  /** Starts running a link here unless it already runs here; the lease settles races. */
  kick(linkId: string): void {
    if (this.#closed || this.#runs.has(linkId)) return;
    const run = this.#run(linkId)
      .catch((err) => console.error(`link ${linkId} run failed:`, err))
      .finally(() => this.#runs.delete(linkId));
    this.#runs.set(linkId, run);
  }

  /** Kicks every link waiting for a run (or whose run's lease lapsed). */
  async sweep(): Promise<number> {
    let kicked = 0;
    for await (const { value } of this.#deps.kv.list<string>({ prefix: runnableLinkPrefix() })) {
      this.kick(value);
      kicked++;
    }
    return kicked;
  }

  /** Stops every run without finishing its link (another instance resumes it). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#transports].map((t) => t.close()));
    await Promise.allSettled([...this.#runs.values()]);
  }

  /** Runs a link to its end, if this instance can take its lease. */
  async #run(linkId: string): Promise<void> {
    // A run that found no device yet gives its lease back and looks again: a
    // device that connected meanwhile had its kick dropped here (this run was
    // registered) or refused elsewhere (this lease was held), and must not
    // wait for the sweep.
    while (await this.#runOnce(linkId) === "no_device") {
      const link = (await this.#deps.kv.get<LinkRecord>(linkKey(linkId))).value;
      const session = link &&
        (await this.#deps.kv.get<SessionRecord>(sessionKey(link.sessionId))).value;
      if (this.#closed || session?.device !== "connected") return;
    }
  }

  /** One attempt at running a link; "no_device" when its device is not there yet. */
  async #runOnce(linkId: string): Promise<"no_device" | void> {
    const { kv } = this.#deps;
    if (!(await this.#acquire(linkId))) return;
    const renew = setInterval(() => void this.#acquire(linkId), LEASE_MS / 3);
    let transport: LocalTransport | null = null;
    try {
      let link = (await kv.get<LinkRecord>(linkKey(linkId))).value;
      if (!link || (link.status !== "claimed" && link.status !== "running")) {
        await kv.delete(runnableLinkKey(linkId));
        return;
      }
      // A link runs once its device is there: `running` means the automation
      // is at work on the device. A session that ended without one still runs,
      // so the link fails with the reason instead of waiting forever.
      const session = (await kv.get<SessionRecord>(sessionKey(link.sessionId))).value;
      if (session?.status === "active" && session.device !== "connected") return "no_device";
      // A link already `running` was another run's, on an instance that stopped.
      const takenOver = link.status === "running";
      if (link.status === "claimed") link = await transitionLink(this.#deps, linkId, "running");
      transport = await LocalTransport.open(this.#deps, link.sessionId);
      this.#transports.add(transport);
      const outcome = await this.#execute(link, new Browser(transport), takenOver);
      if (this.#closed) return;
      const finished = await this.#finish(link.id, outcome);
      if (finished) {
        await endSession(
          this.#deps,
          link.sessionId,
          outcome.status === "complete" ? "completed" : "failed",
        );
      }
    } finally {
      clearInterval(renew);
      if (transport) {
        this.#transports.delete(transport);
        await transport.close();
      }
      await this.#release(linkId);
    }
  }

  async #execute(
    link: LinkRecord,
    browser: Browser,
    takenOver: boolean,
  ): Promise<LinkOutcome & { operations: LinkRecord["operations"] }> {
    const operations = link.operations.map((op) => ({
      ...op,
      status: "pending" as OperationStatus,
    }));
    const fail = async (
      error: LinkError,
      at = -1,
    ): Promise<LinkOutcome & { operations: LinkRecord["operations"] }> => {
      error = await this.#neverConnected(link.id, error);
      operations.forEach((op, i) =>
        op.status = i === at ? "failed" : i < at ? op.status : "skipped"
      );
      if (at >= 0) await this.#operationEvent(link.id, operations, operations[at].type, "failed");
      return { status: "failed", error, operations };
    };
    const automation = getAutomation(link.provider);
    if (!automation) {
      return await fail({
        code: "provider_unavailable",
        message: `No automation for ${link.provider}`,
      });
    }
    const ctx = {
      browser,
      baseUrl: automationBaseUrl(automation, link, this.#deps.config.publicUrl),
      loginTimeoutMs: this.#deps.config.loginTimeoutMs,
      loginAttempts: automation.loginAttempts ?? DEFAULT_LOGIN_ATTEMPTS,
      onEvent: (event: ClientEventInput) =>
        this.#event(
          link.id,
          event,
          // the login's success is kept with its event, for a run that takes over
          event.type === "login_succeeded"
            ? (l) =>
              l.status === "running"
                ? { patch: { loginAt: new Date(this.#deps.clock.now()).toISOString() } }
                : null
            : undefined,
        ),
    };
    let results: Record<string, unknown> | null = null;
    try {
      if (takenOver && link.loginAt && await automation.stillLoggedIn?.(ctx)) {
        results = await this.#kept(link, operations);
      }
    } catch (err) {
      return await fail(toLinkError(err, "checking the login"));
    }
    if (results) {
      await this.#event(link.id, { type: "run_resumed" });
    } else {
      results = {};
      try {
        await automation.login(ctx);
      } catch (err) {
        return await fail(toLinkError(err, "logging in"));
      }
    }
    const retentionMs = this.#deps.config.resultRetentionSeconds * 1000;
    for (const [i, op] of operations.entries()) {
      if (op.status === "complete") continue; // done before this run took over
      const run = automation.operations[op.type];
      if (!run) {
        return await fail(
          { code: "provider_unavailable", message: `${link.provider} cannot ${op.type}` },
          i,
        );
      }
      op.status = "running";
      await this.#operationEvent(link.id, operations, op.type);
      try {
        const parsed = resultSchemas[op.type].safeParse(await run(ctx));
        if (!parsed.success) {
          // Never delivered as complete: what the site gave does not fit the schema.
          return await fail({
            code: "site_changed",
            message: `${op.type}: the site's data no longer matches the expected shape`,
          }, i);
        }
        results[op.type] = parsed.data;
        op.status = "complete";
        // Kept as it completes, where the finish keeps them all (never served before).
        const keep = await prepareResults(this.#deps, link.id, results, retentionMs);
        await this.#operationEvent(link.id, operations, op.type, "complete", keep);
      } catch (err) {
        return await fail(toLinkError(err, `running ${op.type}`), i);
      }
    }
    return { status: "complete", results, operations };
  }

  /**
   * What a run that took over, the device still logged in, keeps: the results
   * of the operations the link's record has complete (each checked again with
   * its schema; one missing or off runs again), marked complete in
   * `operations`.
   */
  async #kept(
    link: LinkRecord,
    operations: LinkRecord["operations"],
  ): Promise<Record<string, unknown>> {
    const kept = await readKeptResults(this.#deps, link.id).catch(() => null) ?? {};
    const results: Record<string, unknown> = {};
    for (const [i, op] of operations.entries()) {
      if (link.operations[i].status !== "complete" || !(op.type in kept)) continue;
      const parsed = resultSchemas[op.type].safeParse(kept[op.type]);
      if (!parsed.success) continue;
      results[op.type] = parsed.data;
      op.status = "complete";
    }
    return results;
  }

  /**
   * Writes the link's final state, its results and its webhook event in one
   * commit checked against the link as read. False if the link moved on (it was
   * cancelled while running).
   */
  async #finish(
    linkId: string,
    outcome: LinkOutcome & { operations: LinkRecord["operations"] },
  ): Promise<boolean> {
    const { config } = this.#deps;
    const keep = outcome.results
      ? await prepareResults(
        this.#deps,
        linkId,
        outcome.results,
        config.resultRetentionSeconds * 1000,
      )
      : null;
    const patch = { operations: outcome.operations, error: outcome.error ?? null };
    // One time for the move and its webhook event.
    const now = new Date(this.#deps.clock.now());
    const svc = { ...this.#deps, clock: fixedClock(now) };
    const alongside = (op: Deno.AtomicOperation, next: LinkRecord) => {
      keep?.(op);
      addWebhookEvent(svc, op, next, {
        status: outcome.status,
        results: outcome.results,
        error: outcome.error,
      });
    };
    const exitCode = outcome.error?.code;
    if (exitCode !== undefined && EXIT_CODES.has(exitCode)) {
      // The user left: `user_exited` lands in the commit that fails the link,
      // the move planned by the lifecycle's door.
      const stored = await recordClientEvent(
        this.#deps,
        linkId,
        { type: "user_exited", reason: exitCode },
        (link) => {
          if (link.status !== "running") return null;
          const { next, effects } = planTransition(svc, link, outcome.status, { patch });
          return {
            patch: next,
            extra: (op, stored) => {
              effects(op);
              alongside(op, stored);
            },
          };
        },
      );
      if (stored) logTransition(svc, { ...stored, status: "running" }, stored);
      return stored !== null;
    }
    try {
      await transitionLink(svc, linkId, outcome.status, {
        from: ["running"],
        patch,
        extra: alongside,
      });
      return true;
    } catch (err) {
      // cancelled while running (or gone): the cancel stands
      if (err instanceof PassageError && err.code === "invalid_status_transition") return false;
      throw err;
    }
  }

  /** Records a client event; a failure to record is logged, never fails the link. */
  async #event(
    linkId: string,
    event: ClientEventInput,
    change?: Parameters<typeof recordClientEvent>[3],
  ): Promise<void> {
    try {
      await recordClientEvent(this.#deps, linkId, event, change);
    } catch (err) {
      console.error(`link ${linkId}: could not record its ${event.type} event:`, err);
    }
  }

  /**
   * `operation_started` (no `status`) or `operation_completed`, committed with
   * the operations' progress (and `keep`, the results so far), so
   * `GET /v1/links/{id}` shows it as it happens and a run that takes over
   * knows what is done.
   */
  #operationEvent(
    linkId: string,
    operations: LinkRecord["operations"],
    operation: OperationType,
    status?: "complete" | "failed",
    keep?: (op: Deno.AtomicOperation) => void,
  ): Promise<void> {
    const progress = operations.map((op) => ({ ...op }));
    return this.#event(
      linkId,
      status
        ? { type: "operation_completed", operation, status }
        : { type: "operation_started", operation },
      (link) => link.status === "running" ? { patch: { operations: progress }, extra: keep } : null,
    );
  }

  /**
   * A lost device that never connected to the link is `device_never_connected`:
   * the user never opened it on a device, rather than leaving part way.
   */
  async #neverConnected(linkId: string, error: LinkError): Promise<LinkError> {
    if (error.code !== "device_lost") return error;
    const link = (await this.#deps.kv.get<LinkRecord>(linkKey(linkId))).value;
    if (link?.device) return error;
    return {
      code: "device_never_connected",
      message: "No device connected to the link before its session ended",
    };
  }

  async #acquire(linkId: string): Promise<boolean> {
    const { kv } = this.#deps;
    const entry = await kv.get<LinkRun>(linkRunKey(linkId));
    const now = this.#deps.clock.now();
    if (entry.value && entry.value.holder !== this.#holder && entry.value.expiresAt > now) {
      return false;
    }
    const lease: LinkRun = { holder: this.#holder, expiresAt: now + LEASE_MS };
    const res = await kv.atomic().check(entry).set(entry.key, lease, { expireIn: LEASE_MS * 2 })
      .commit();
    return res.ok;
  }

  async #release(linkId: string): Promise<void> {
    const { kv } = this.#deps;
    const entry = await kv.get<LinkRun>(linkRunKey(linkId));
    if (entry.value?.holder === this.#holder) {
      await kv.atomic().check(entry).delete(entry.key).commit();
    }
  }
}

/** What an automation threw, as the typed error the developer sees. */
function toLinkError(err: unknown, doing: string): LinkError {
  const { code, message } = toAutomationError(err, doing);
  if (code === "operation_failed" && !(err instanceof AutomationError)) {
    console.error(`automation failed unexpectedly while ${doing}:`, err);
  }
  return { code, message };
}
