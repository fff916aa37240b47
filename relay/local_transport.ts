/**
 * A `BrowserTransport` for code running inside Passage (the automation engine):
 * it queues commands on the session's `cmd` log and reads results from the
 * `evt` log directly, the same path a controller socket takes, minus the socket.
 * A link's session keeps its results in `eng` instead (never in `evt`, which
 * developers can watch), so this follows both.
 * Connect is built on Sessions: automations get the very `Browser` the SDK gives
 * developers.
 */
import { BrowserCommandError, type BrowserTransport } from "@passage/connect";
import {
  type CommandName,
  commandParamSchemas,
  type Commands,
  type TelemetryEvent,
} from "@passage/connect/protocol";
import type { Services, SessionLogService } from "../lib/services.ts";
import { enqueueCommand } from "../lib/sessions.ts";
import type { EventLogEntry } from "./log.ts";
import type { Relay } from "./relay.ts";
import { tailEvents } from "./tail.ts";

interface Pending {
  name: CommandName;
  resolve: (value: never) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** What the engine's transport runs on: the services, the relay and its session log. */
export type LocalTransportServices =
  & Pick<Services, "kv" | "config" | "clock">
  & SessionLogService
  & { readonly relay: Relay };

export class LocalTransport implements BrowserTransport {
  readonly #svc: LocalTransportServices;
  readonly #sessionId: string;
  readonly #pending = new Map<string, Pending>();
  readonly #listeners = new Set<(event: TelemetryEvent) => void>();
  readonly #stop = new AbortController();
  #ended: string | null = null;
  #tails: Promise<unknown> | null = null;

  private constructor(svc: LocalTransportServices, sessionId: string) {
    this.#svc = svc;
    this.#sessionId = sessionId;
  }

  /** Starts following the session's events from now on. */
  static async open(svc: LocalTransportServices, sessionId: string): Promise<LocalTransport> {
    const { relay } = svc;
    const t = new LocalTransport(svc, sessionId);
    const onEntry = (_seq: number, entry: EventLogEntry) => {
      if (entry.type === "result") {
        const p = t.#pending.get(entry.id);
        if (!p) return;
        t.#settle(entry.id);
        if (entry.ok) p.resolve(entry.value as never);
        else p.reject(new BrowserCommandError(p.name, entry.error.code, entry.error.message));
      } else if (entry.type === "telemetry") {
        for (const listener of t.#listeners) listener(entry.event);
      } else if (entry.type === "session" && entry.status === "ended") {
        t.#ended = entry.reason ?? "ended";
        for (const [id, p] of t.#pending) {
          t.#settle(id);
          p.reject(
            new BrowserCommandError(p.name, "session_ended", `the session ended (${t.#ended})`),
          );
        }
      }
    };
    const [evtHead, engHead] = await Promise.all([
      relay.log.head(sessionId, "evt"),
      relay.log.head(sessionId, "eng"),
    ]);
    const base = {
      log: relay.log,
      bus: relay.bus,
      sessionId,
      signal: t.#stop.signal,
      onEntry,
    };
    t.#tails = Promise.all([
      tailEvents({ ...base, after: evtHead }),
      tailEvents({ ...base, stream: "eng", after: engHead }),
    ]);
    return t;
  }

  #settle(id: string): void {
    const p = this.#pending.get(id);
    if (p) clearTimeout(p.timer);
    this.#pending.delete(id);
  }

  run<K extends CommandName>(
    name: K,
    params: Commands[K]["params"],
    timeoutMs: number,
  ): Promise<Commands[K]["result"]> {
    if (this.#ended || this.#stop.signal.aborted) {
      return Promise.reject(
        new BrowserCommandError(
          name,
          "session_ended",
          `the session ended (${this.#ended ?? "closed"})`,
        ),
      );
    }
    const checked = commandParamSchemas[name].safeParse(params);
    if (!checked.success) {
      return Promise.reject(
        new BrowserCommandError(name, "invalid_command", checked.error.issues[0].message),
      );
    }
    const id = `eng_${crypto.randomUUID()}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle(id);
        reject(new BrowserCommandError(name, "timeout", `no result within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { name, resolve: resolve as (v: never) => void, reject, timer });
      enqueueCommand(this.#svc, this.#sessionId, {
        id,
        name,
        params: checked.data,
        timeoutMs,
      })
        .then((queued) => {
          if (!queued && this.#pending.has(id)) {
            this.#settle(id);
            reject(
              new BrowserCommandError(name, "session_ended", "the session is no longer active"),
            );
          }
        }, (err) => {
          this.#settle(id);
          reject(err);
        });
    });
  }

  onTelemetry(listener: (event: TelemetryEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#stop.abort();
    for (const [id, p] of this.#pending) {
      this.#settle(id);
      p.reject(new BrowserCommandError(p.name, "connection_lost", "the engine stopped"));
    }
    await this.#tails;
  }
}
