/**
 * The services every domain function draws on, built once at start
 * (`createServices`) and passed as one object instead of five positional
 * parameters: the KV store, the configuration (frozen: nothing changes it
 * after load), the JSON log, the job dispatcher and the clock.
 *
 * A function takes `svc: Pick<Services, …>` with only what it uses, so a test
 * passes no more than that (and a fixed clock, `fixedClock`, for a time of its
 * choosing); one that needs only the store keeps taking `kv`. Functions of
 * sessions also take the relay's session log (`sessionLog`, the encrypted
 * per-session stream; not `log`, the server's JSON lines): `SessionServices`.
 * Routes reach all of it, with the relay, as `c.var.services`.
 *
 * ```ts
 * const svc = createServices(kv, loadConfig());
 * await expireDueLinks(svc);
 * ```
 *
 * @module
 */
import { type Config, freezeConfig } from "./config.ts";
import { type Log, log } from "./log.ts";
import { Jobs } from "./queue.ts";
import type { SessionLog } from "../relay/log.ts";

/** Where domain functions read the time, so a test can fix it. */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
}

/** The real time. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock stopped at `at` (tests). */
export function fixedClock(at: number | Date | string): Clock {
  const ms = typeof at === "number" ? at : new Date(at).getTime();
  return { now: () => ms };
}

/** What the domain functions share; see the module doc. */
export interface Services {
  readonly kv: Deno.Kv;
  readonly config: Readonly<Config>;
  /** The server's JSON log (`lib/log.ts`). */
  readonly log: Log;
  readonly jobs: Jobs;
  readonly clock: Clock;
}

/** The relay's session log, for the functions that write a session's streams. */
export interface SessionLogService {
  readonly sessionLog: SessionLog;
}

/** What the functions of sessions take: the store, the clock and the session log. */
export type SessionServices = Pick<Services, "kv" | "clock"> & SessionLogService;

/**
 * Builds the services over an open KV store. The configuration is frozen
 * here (a copy: the caller's object stays its own), so it must be complete,
 * `publicUrl` included, before the app is built.
 */
export function createServices(
  kv: Deno.Kv,
  config: Config | Readonly<Config>,
  options: { clock?: Clock } = {},
): Services {
  const frozen = freezeConfig(config);
  return Object.freeze({
    kv,
    config: frozen,
    log,
    jobs: new Jobs(kv, { useQueues: frozen.useQueues }),
    clock: options.clock ?? systemClock,
  });
}
