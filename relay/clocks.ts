/**
 * A session's clocks, kept by timers instead of by polling: while a session
 * has a socket in this isolate, one timer waits for the first of its due
 * times (claim expiry, maximum length, idle timeout, the device's grace, the
 * deadline of a command accepted here) and then applies them
 * (`sweepSession`). A change of the session's record (its device went away,
 * it ended elsewhere) sets the timer again. Nothing runs per message, and an
 * idle session costs one sleeping timer. The minute sweep and the frequent
 * `quickSweep` (`main.ts`) still cover the sessions nobody here holds.
 */
import type { Config } from "../lib/config.ts";
import { sessionActivityKey, sessionKey } from "../lib/kv_keys.ts";
import { type SessionRecord, sweepSession } from "../lib/sessions.ts";
import type { Bus } from "./bus.ts";
import { fixedClock, type Services, type SessionServices } from "../lib/services.ts";

/** A timer never waits longer than this before looking again (setTimeout's limit is ~24 days). */
const MAX_WAIT_MS = 60 * 60 * 1000;

interface Clock {
  holders: number;
  timer: ReturnType<typeof setTimeout> | null;
  /** When the timer fires, ms since epoch. */
  at: number;
  /** Deadlines of commands accepted here, not yet past. */
  deadlines: number[];
  unsubscribe: () => void;
  running: Promise<void> | null;
}

export class SessionClocks {
  readonly #svc: SessionServices & Pick<Services, "config">;
  readonly #bus: Bus;
  readonly #clocks = new Map<string, Clock>();
  readonly #track: (work: Promise<unknown>) => void;

  constructor(
    svc: SessionServices & Pick<Services, "config">,
    bus: Bus,
    track: (work: Promise<unknown>) => void,
  ) {
    this.#svc = svc;
    this.#bus = bus;
    this.#track = track;
  }

  /** Keeps `sessionId`'s clocks here until the returned function is called. */
  hold(sessionId: string): () => void {
    let clock = this.#clocks.get(sessionId);
    if (!clock) {
      const created: Clock = {
        holders: 0,
        timer: null,
        at: Infinity,
        deadlines: [],
        unsubscribe: () => {},
        running: null,
      };
      created.unsubscribe = this.#bus.subscribe(sessionId, (signal) => {
        if (signal.kind === "state") this.#check(sessionId, created);
      });
      this.#clocks.set(sessionId, clock = created);
      this.#check(sessionId, created);
    }
    clock.holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--clock.holders > 0) return;
      this.#stop(sessionId, clock);
    };
  }

  /** A command accepted here must fail with `timeout` at `deadline` if still pending. */
  deadline(sessionId: string, deadline: number): void {
    const clock = this.#clocks.get(sessionId);
    if (!clock) return;
    clock.deadlines.push(deadline);
    this.#arm(sessionId, clock, deadline);
  }

  close(): void {
    for (const [sessionId, clock] of this.#clocks) this.#stop(sessionId, clock);
  }

  #stop(sessionId: string, clock: Clock): void {
    if (clock.timer) clearTimeout(clock.timer);
    clock.timer = null;
    clock.unsubscribe();
    if (this.#clocks.get(sessionId) === clock) this.#clocks.delete(sessionId);
  }

  #arm(sessionId: string, clock: Clock, at: number): void {
    if (at >= clock.at && clock.timer) return;
    if (clock.timer) clearTimeout(clock.timer);
    clock.at = at;
    const wait = Math.min(MAX_WAIT_MS, Math.max(0, at - this.#svc.clock.now()));
    clock.timer = setTimeout(() => {
      clock.timer = null;
      clock.at = Infinity;
      this.#check(sessionId, clock, true);
    }, wait);
  }

  /** Reads the session, applies what is due (when `due`), and sets the timer for what is next. */
  #check(sessionId: string, clock: Clock, due = false): void {
    if (clock.running) {
      // One at a time; the one running reads the state as it is when it starts.
      clock.running = clock.running.then(() => this.#run(sessionId, clock, due));
    } else clock.running = this.#run(sessionId, clock, due);
    const mine = clock.running;
    this.#track(mine.finally(() => {
      if (clock.running === mine) clock.running = null;
    }));
  }

  async #run(sessionId: string, clock: Clock, due: boolean): Promise<void> {
    if (this.#clocks.get(sessionId) !== clock) return;
    const now = this.#svc.clock.now();
    const [record, activity] = await this.#svc.kv.getMany<[SessionRecord, number]>([
      sessionKey(sessionId),
      sessionActivityKey(sessionId),
    ]);
    if (!record.value || record.value.status === "ended") return;
    if (due && await sweepSession({ ...this.#svc, clock: fixedClock(now) }, record.value)) return;
    clock.deadlines = clock.deadlines.filter((d) => d > now);
    const next = Math.min(
      nextDue(record.value, activity.value, this.#svc.config, now),
      ...clock.deadlines,
    );
    if (this.#clocks.get(sessionId) === clock && next < Infinity) this.#arm(sessionId, clock, next);
  }
}

/** The first time one of a session's clocks runs out (what `sweepSession` checks), ms since epoch. */
function nextDue(
  record: SessionRecord,
  activity: number | null,
  config: Pick<Config, "deviceGraceSeconds">,
  now: number,
): number {
  if (record.status === "pending") return Date.parse(record.expiresAt);
  const claimedAt = Date.parse(record.claimedAt!);
  const times = [
    claimedAt + record.maxDurationMs,
    (activity ?? claimedAt) + record.idleTimeoutMs,
  ];
  if (record.device === "disconnected") {
    times.push(Date.parse(record.deviceChangedAt!) + config.deviceGraceSeconds * 1000);
  }
  // A clock read a moment early looks again a little later, not in a loop.
  return Math.max(now + 10, Math.min(...times));
}
