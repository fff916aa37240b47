/**
 * The relay: the device socket and the controller sockets of every session that
 * has one in this isolate. A controller's command is appended to the session's
 * `cmd` log and the device's socket, wherever it lives, tails that log; device
 * results and telemetry go to the `evt` log that controllers and SSE tail. KV
 * is the truth and numbers every message; once an append is committed, a tail
 * in this isolate gets the entry straight from it (no read back), and tails
 * elsewhere are woken by `BroadcastChannel`, `kv.watch` or the slow safety net
 * (`wakeups.ts`). Nothing runs per socket while it is idle: a session's clocks
 * are timers (`clocks.ts`), and a device socket looks at its presence only
 * when the presence or the session's record changed.
 *
 * A link's session belongs to the engine: its controllers may watch (telemetry
 * and session changes) but not command it, and its results never reach `evt`
 * (`log.ts`). Every controller socket and SSE stream is closed when its API
 * key is revoked (`watchApiKey`). Each session stores at most its quota of
 * telemetry events and screenshot bytes.
 */
import {
  CLOSE_CODES,
  type CommandName,
  commandParamSchemas,
  commandResultSchemas,
  type ControllerMessage,
  controllerMessageSchema,
  type DeviceMessage,
  deviceMessageSchema,
  type DeviceResult,
  PROTOCOL_VERSION,
  type ServerToController,
  type ServerToDevice,
  type TelemetryEvent,
} from "@passage/connect/protocol";
import { authenticate } from "../lib/api_keys.ts";
import { CREDENTIAL_REVOKED_CHANNEL, onCredentialRevoked } from "../lib/credentials.ts";
import { revokedCredentials } from "../lib/revoked_credentials.ts";
import type { Config } from "../lib/config.ts";
import type { Services, SessionLogService } from "../lib/services.ts";
import {
  devicePresenceKey,
  deviceSeqKey,
  pendingCommandKey,
  sessionKey,
  telemetryUsageKey,
} from "../lib/kv_keys.ts";
import { authenticateDevice } from "../lib/claims.ts";
import {
  deviceConnected,
  deviceDisconnected,
  type DevicePresence,
  enqueueCommand,
  failPendingCommands,
  type PendingCommand,
  readOwnedSession,
  recordDeviceClient,
  type SessionRecord,
  takeQueuedCommand,
} from "../lib/sessions.ts";
import { sanitizeErrorMessage, sanitizeResult, sanitizeTelemetry } from "../lib/redaction.ts";
import { BroadcastChannelBus, type Bus } from "./bus.ts";
import { SessionClocks } from "./clocks.ts";
import { type EventLogEntry, SessionLog } from "./log.ts";
import { InstanceHeartbeat } from "./presence.ts";
import { tailCommands, tailEvents } from "./tail.ts";
import { SessionWakeups } from "./wakeups.ts";

/** Largest message a device may send (a screenshot), in bytes. */
export const MAX_DEVICE_MESSAGE = 4 * 1024 * 1024;
/** Largest message a controller may send, in bytes. */
export const MAX_CONTROLLER_MESSAGE = 256 * 1024;
/** How long a socket may stay silent before its hello. */
const HELLO_TIMEOUT_MS = 10_000;
/** Default command timeout when a controller gives none. */
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/**
 * How long `close()` waits for sockets to finish their closing handshake and
 * for the work they started: a peer that never answers does not hold up a
 * shutdown (Deno Deploy kills 5 s after SIGINT).
 */
const CLOSE_DEADLINE_MS = 1_500;

/** What a socket's handlers can do. */
interface SocketContext<Out> {
  send(msg: Out): void;
  close(code: number, reason: string): void;
  /** `{type: "error"}` to the peer, without closing. */
  error(code: string, message: string, id?: string): void;
  /** Aborted when the socket goes. */
  signal: AbortSignal;
}

type MessageSchema = Parameters<typeof parseMessage>[2];

/** How much telemetry a session has stored, against its quotas. */
export interface TelemetryUsage {
  events: number;
  screenshotBytes: number;
  /** The quotas already reached (each is noticed once). */
  reached: Array<"telemetry_quota_reached" | "screenshot_quota_reached">;
}

/** What a device connection last stored, so its next message commits without reading first. */
interface DeviceState {
  seq: Deno.KvEntryMaybe<number>;
  usage: Deno.KvEntryMaybe<TelemetryUsage>;
}

/** How the relay follows sessions across isolates. */
export interface RelayOptions {
  /** Wake-ups through `kv.watch` (on by default; off only to show what else delivers). */
  watch?: boolean;
}

/** One socket this relay holds, and the chain its messages are handled on. */
interface Connection {
  socket: WebSocket;
  stop: AbortController;
  queue: Promise<void>;
}

export class Relay {
  readonly log: SessionLog;
  /** The services it was built with, and its own session log. */
  readonly #svc: Pick<Services, "kv" | "config" | "clock"> & SessionLogService;
  readonly #kv: Deno.Kv;
  readonly #config: Readonly<Config>;
  readonly #bus: SessionWakeups;
  readonly #clocks: SessionClocks;
  readonly #connections = new Set<Connection>();
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #deviceListeners = new Set<(session: SessionRecord) => void>();
  /** What to close when a key is revoked, by key id. */
  readonly #keyWatchers = new Map<string, Set<() => void>>();
  #revocationTimer: ReturnType<typeof setInterval> | null = null;
  #checkingRevocations = false;
  #closed = false;
  readonly #revocationChannel: BroadcastChannel;
  readonly #stopRevocationListener: () => void;
  /** Vouches in KV for the devices this instance holds (`presence.ts`). */
  readonly #heartbeat: InstanceHeartbeat;
  /** Aborted when the relay closes: SSE streams end on it. */
  readonly #closing = new AbortController();

  constructor(
    svc: Pick<Services, "kv" | "config" | "clock">,
    bus: Bus = new BroadcastChannelBus(),
    options: RelayOptions = {},
  ) {
    const { kv, config } = svc;
    this.#kv = kv;
    this.#config = config;
    this.#bus = new SessionWakeups(kv, bus, { pollMs: config.relayPollMs, watch: options.watch });
    this.#heartbeat = new InstanceHeartbeat(kv);
    // A revocation in this isolate, or another isolate of this process, closes at once.
    this.#stopRevocationListener = onCredentialRevoked((id) => this.#revoked(id));
    this.#revocationChannel = new BroadcastChannel(CREDENTIAL_REVOKED_CHANNEL);
    this.#revocationChannel.onmessage = (e: MessageEvent) => {
      if (e.data?.kind === "credential_revoked" && typeof e.data.credential === "string") {
        this.#revoked(e.data.credential);
      }
    };
    this.log = new SessionLog(
      kv,
      this.#bus,
      config.telemetryRetentionSeconds * 1000,
      config.captureRetentionSeconds * 1000,
    );
    this.#svc = { kv, config, clock: svc.clock, sessionLog: this.log };
    this.#clocks = new SessionClocks(this.#svc, this.#bus, (p) => this.#track(p));
  }

  /** Calls `listener` each time a device connects to a session in this isolate. */
  onDeviceConnected(listener: (session: SessionRecord) => void): () => void {
    this.#deviceListeners.add(listener);
    return () => this.#deviceListeners.delete(listener);
  }

  /** Aborted when the relay starts closing: long-lived streams (SSE) end on it. */
  get closing(): AbortSignal {
    return this.#closing.signal;
  }

  /** The bus (with `kv.watch` and the safety net behind it), for SSE streams and tests. */
  get bus(): Bus {
    return this.#bus;
  }

  /**
   * Calls `onRevoked` once if API key `keyId` is revoked while the returned
   * function has not been called. In this process a revocation is heard at
   * once; in others, by one periodic check (`revocationCheckMs`) over the
   * distinct keys of every live watcher, in batched KV reads.
   */
  watchApiKey(keyId: string, onRevoked: () => void): () => void {
    return this.watchCredential(keyId, onRevoked);
  }

  /**
   * `watchApiKey` for any credential (`lib/credentials.ts`): a key's id, a
   * console session, a member's place in an account.
   */
  watchCredential(keyId: string, onRevoked: () => void): () => void {
    let set = this.#keyWatchers.get(keyId);
    if (!set) this.#keyWatchers.set(keyId, set = new Set());
    set.add(onRevoked);
    if (!this.#revocationTimer && !this.#closed) {
      this.#revocationTimer = setInterval(
        () => this.#track(this.#checkRevocations()),
        Math.max(10, this.#config.revocationCheckMs),
      );
    }
    return () => {
      set.delete(onRevoked);
      if (set.size === 0 && this.#keyWatchers.get(keyId) === set) this.#keyWatchers.delete(keyId);
      this.#stopRevocationTimerIfIdle();
    };
  }

  #stopRevocationTimerIfIdle(): void {
    if (this.#keyWatchers.size === 0 && this.#revocationTimer) {
      clearInterval(this.#revocationTimer);
      this.#revocationTimer = null;
    }
  }

  async #checkRevocations(): Promise<void> {
    if (this.#checkingRevocations || this.#keyWatchers.size === 0) return;
    this.#checkingRevocations = true;
    try {
      for (const keyId of await revokedCredentials(this.#kv, this.#keyWatchers.keys())) {
        this.#revoked(keyId);
      }
    } finally {
      this.#checkingRevocations = false;
    }
  }

  #revoked(keyId: string): void {
    const set = this.#keyWatchers.get(keyId);
    if (!set) return;
    this.#keyWatchers.delete(keyId);
    for (const onRevoked of set) onRevoked();
    this.#stopRevocationTimerIfIdle();
  }

  /**
   * Closes every socket (1001: reconnect elsewhere and resume), waits for
   * their handlers within a deadline, marks this instance's devices as gone
   * for the other instances, and closes the bus.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    this.#stopRevocationListener();
    this.#revocationChannel.close();
    if (this.#revocationTimer) clearInterval(this.#revocationTimer);
    this.#revocationTimer = null;
    const connections = [...this.#connections];
    const closing = connections.map(({ socket, stop }) => {
      stop.abort();
      if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
      const closed = new Promise((resolve) =>
        socket.addEventListener("close", resolve, { once: true })
      );
      safeClose(socket, 1001, "server shutting down");
      return closed;
    });
    const deadline = Date.now() + CLOSE_DEADLINE_MS;
    const inTime = (work: Promise<unknown>) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const left = Math.max(0, deadline - Date.now());
      return Promise.race([
        work.finally(() => clearTimeout(timer)),
        new Promise((resolve) => timer = setTimeout(resolve, left)),
      ]);
    };
    await inTime(Promise.all(closing));
    // Messages already received finish before the KV store and the bus go.
    await inTime(Promise.allSettled(connections.map((c) => c.queue)));
    await inTime((async () => {
      while (this.#tasks.size) await Promise.allSettled([...this.#tasks]);
    })());
    // Whatever device is still recorded here is seen as gone by the next check anywhere.
    await this.#heartbeat.close();
    this.#clocks.close();
    this.#bus.close();
  }

  #track<T>(promise: Promise<T>): void {
    const p = promise.catch((err) => console.error("relay task failed:", err)).finally(() =>
      this.#tasks.delete(p)
    );
    this.#tasks.add(p);
  }

  /**
   * The part every socket shares: registration (so `close()` reaches it), the
   * hello deadline, messages handled one at a time in arrival order, size and
   * schema checks, "hello first, and only once", and a clean teardown.
   * `onHello` answers the hello and returns false to refuse the socket.
   */
  #serve<M extends { type: string }, Out>(
    socket: WebSocket,
    options: {
      maxBytes: number;
      schema: MessageSchema;
      onHello: (hello: M, socket: SocketContext<Out>) => Promise<boolean>;
      onMessage: (message: M, raw: unknown, socket: SocketContext<Out>) => Promise<void>;
      onClose?: () => Promise<void> | void;
    },
  ): void {
    const conn: Connection = { socket, stop: new AbortController(), queue: Promise.resolve() };
    this.#connections.add(conn);
    let greeted = false;
    const close = (code: number, reason: string) => {
      clearTimeout(helloTimer);
      conn.stop.abort();
      safeClose(socket, code, reason);
    };
    const helloTimer = setTimeout(
      () => close(CLOSE_CODES.helloTimeout, "no hello"),
      HELLO_TIMEOUT_MS,
    );
    const ctx: SocketContext<Out> = {
      send: (msg) => safeSend(socket, msg),
      close,
      signal: conn.stop.signal,
      error: (code, message, id) => safeSend(socket, { type: "error", code, message, id }),
    };
    socket.onmessage = (e) => {
      conn.queue = conn.queue.then(async () => {
        const msg = parseMessage(e.data, options.maxBytes, options.schema);
        if ("tooBig" in msg) return close(CLOSE_CODES.tooBig, "message too big");
        if ("error" in msg) {
          if (!greeted) return close(CLOSE_CODES.protocolError, msg.error);
          return ctx.error("invalid_message", msg.error, msg.id);
        }
        const m = msg.value as M;
        if (!greeted) {
          if (m.type !== "hello") {
            return close(CLOSE_CODES.protocolError, "first message must be hello");
          }
          clearTimeout(helloTimer);
          greeted = await options.onHello(m, ctx);
          return;
        }
        if (m.type === "hello") return ctx.error("invalid_message", "hello was already received");
        await options.onMessage(m, msg.raw, ctx);
      }).catch((err) => {
        console.error("relay message failed:", err);
        close(1011, "internal error");
      });
    };
    socket.onclose = () => {
      clearTimeout(helloTimer);
      conn.stop.abort();
      this.#connections.delete(conn);
      if (options.onClose) this.#track(conn.queue.then(options.onClose));
    };
    socket.onerror = () => {};
  }

  /** Takes over a freshly upgraded device socket. */
  acceptDevice(socket: WebSocket): void {
    const connectionId = crypto.randomUUID();
    let session: SessionRecord | null = null;
    /** Whether this socket counts on the heartbeat. */
    let held = false;
    let releaseClocks = () => {};
    const state: { known: DeviceState | null } = { known: null };
    this.#serve<DeviceMessage, ServerToDevice>(socket, {
      maxBytes: MAX_DEVICE_MESSAGE,
      schema: deviceMessageSchema,
      onHello: async (m, ctx) => {
        const { send, close } = ctx;
        if (m.type !== "hello") return false;
        session = await authenticateDevice(this.#svc, m.token);
        if (!session) {
          close(CLOSE_CODES.unauthorized, "invalid or expired device token");
          return false;
        }
        if (session.status !== "active") {
          send({ type: "end", reason: session.endReason ?? "ended" });
          close(CLOSE_CODES.sessionEnded, "session ended");
          return false;
        }
        // The heartbeat is stored before the presence that names it.
        await this.#heartbeat.hold();
        held = true;
        if (
          !(await deviceConnected(this.#svc, session.id, connectionId, this.#heartbeat.id))
        ) {
          const ended = (await this.#kv.get<SessionRecord>(sessionKey(session.id))).value;
          send({ type: "end", reason: ended?.endReason ?? "ended" });
          close(CLOSE_CODES.sessionEnded, "session ended");
          return false;
        }
        // what the device says it is (unverified), for the link and its webhook
        await recordDeviceClient(this.#kv, session.id, m.client);
        const lastDeviceSeq = (await this.#kv.get<number>(deviceSeqKey(session.id))).value ?? 0;
        send({ type: "welcome", v: PROTOCOL_VERSION, sessionId: session.id, lastDeviceSeq });
        for (const listener of this.#deviceListeners) listener(session);
        releaseClocks = this.#clocks.hold(session.id);
        this.#track(
          this.#pumpCommands(session.id, m.lastCommandSeq, connectionId, ctx),
        );
        return true;
      },
      onMessage: async (m, raw, { send, error }) => {
        if (m.type === "hello") return;
        const stored = await this.#storeDeviceMessage(session!.id, m, raw, state);
        if (stored === "gap") {
          return error("out_of_order", `expected seq after the last stored one, got ${m.seq}`);
        }
        send({ type: "ack", seq: m.seq });
      },
      onClose: async () => {
        releaseClocks();
        try {
          if (session) await deviceDisconnected(this.#svc, session.id, connectionId);
        } finally {
          if (held) this.#heartbeat.release();
        }
      },
    });
  }

  /** What every tail this relay runs shares: its log and bus. */
  #tailBase(sessionId: string, after: number, signal: AbortSignal) {
    return { log: this.log, bus: this.#bus, sessionId, after, signal };
  }

  /** Sends the device every command after `after`, until the session ends or the socket goes. */
  async #pumpCommands(
    sessionId: string,
    after: number,
    connectionId: string,
    { send, close, signal }: SocketContext<ServerToDevice>,
  ): Promise<void> {
    await tailCommands({
      ...this.#tailBase(sessionId, after, signal),
      onEntry: async (seq, entry) => {
        if (entry.type === "end") {
          send({ type: "end", reason: entry.reason });
          return close(CLOSE_CODES.sessionEnded, "session ended");
        }
        const remaining = entry.deadline - Date.now();
        if (remaining <= 0) {
          await failPendingCommands(this.#svc, sessionId, (p) => p.id === entry.id, {
            code: "timeout",
            message: "its timeout passed before the device received it",
          });
          return;
        }
        send({
          type: "command",
          seq,
          id: entry.id,
          name: entry.name,
          params: entry.params,
          timeoutMs: remaining,
        });
      },
      // Replaced, ended or reaped elsewhere: looked at only when the presence or record changed.
      onState: async () => {
        const [presence, record] = await this.#kv.getMany<[DevicePresence, SessionRecord]>([
          devicePresenceKey(sessionId),
          sessionKey(sessionId),
        ]);
        if (presence.value?.connectionId === connectionId) return;
        if (!record.value || record.value.status === "ended") {
          // Ended on another instance: its `end` may not be read here yet.
          send({ type: "end", reason: record.value?.endReason ?? "ended" });
          return close(CLOSE_CODES.sessionEnded, "session ended");
        }
        if (presence.value) {
          send({
            type: "error",
            code: "replaced",
            message: "another device connected to this session",
          });
          return close(CLOSE_CODES.replaced, "replaced by another device");
        }
        if (signal.aborted) return;
        // Recorded gone while still here (this instance's heartbeat stalled past
        // its expiry and another instance reaped it): present again.
        await deviceConnected(this.#svc, sessionId, connectionId, this.#heartbeat.id);
      },
    });
  }

  /**
   * Stores one device message exactly once: its seq must follow the last one
   * stored (a resend of an older one is acknowledged and dropped). A result is
   * checked against its command's result schema and settles the pending command
   * in the same commit.
   */
  async #storeDeviceMessage(
    sessionId: string,
    m: Exclude<DeviceMessage, { type: "hello" }>,
    raw: unknown,
    state: { known: DeviceState | null },
  ): Promise<"stored" | "duplicate" | "gap"> {
    for (;;) {
      // The seq and the telemetry usage as this connection last stored them,
      // and for a result its pending command as this isolate queued it (the
      // commit checks none of them moved), else one read for them.
      const known = state.known;
      state.known = null;
      let seqEntry: Deno.KvEntryMaybe<number>;
      let usageEntry: Deno.KvEntryMaybe<TelemetryUsage>;
      let pending: Deno.KvEntryMaybe<PendingCommand> | null = m.type === "result"
        ? takeQueuedCommand(this.#kv, sessionId, m.id)
        : null;
      if (known && (m.type !== "result" || pending)) {
        ({ seq: seqEntry, usage: usageEntry } = known);
      } else {
        const keys: Deno.KvKey[] = [deviceSeqKey(sessionId), telemetryUsageKey(sessionId)];
        if (m.type === "result") keys.push(pendingCommandKey(sessionId, m.id));
        [seqEntry, usageEntry, pending = null] = (await this.#kv.getMany(keys)) as [
          Deno.KvEntryMaybe<number>,
          Deno.KvEntryMaybe<TelemetryUsage>,
          Deno.KvEntryMaybe<PendingCommand>?,
        ];
      }
      const last = seqEntry.value ?? 0;
      if (m.seq <= last) {
        state.known = { seq: seqEntry, usage: usageEntry };
        return "duplicate";
      }
      if (m.seq !== last + 1) {
        state.known = { seq: seqEntry, usage: usageEntry };
        return "gap";
      }
      const advanceOnly = async () => {
        const res = await this.#kv.atomic().check(seqEntry, usageEntry).set(seqEntry.key, m.seq)
          .commit();
        if (res.ok) {
          state.known = {
            seq: { key: seqEntry.key, value: m.seq, versionstamp: res.versionstamp },
            usage: usageEntry,
          };
        }
        return res.ok;
      };
      if (pending && !pending.value) {
        // Its command already failed (timeout, session ended): just move on.
        if (await advanceOnly()) return "stored";
        continue;
      }
      let entry: EventLogEntry;
      let usage: TelemetryUsage | null = null;
      if (m.type === "telemetry") {
        const metered = this.#meter(usageEntry.value, m.event);
        if (metered === "drop") {
          // Over a quota already noticed: not stored, not relayed.
          if (await advanceOnly()) return "stored";
          continue;
        }
        usage = metered.usage;
        // The server's own redaction, whatever the device did (lib/redaction.ts).
        entry = metered.notice ? { type: "telemetry", event: metered.notice } : {
          type: "telemetry",
          event: sanitizeTelemetry(m.event, (raw as { event?: unknown }).event),
        };
      } else {
        entry = checkResult(m, pending!.value!.name as CommandName);
      }
      // The first attempt commits against what was just read; a retry (the
      // commit lost a race) reads again.
      let alreadyRead: Deno.KvEntryMaybe<unknown>[] | null = [
        seqEntry,
        usageEntry,
        ...(pending ? [pending] : []),
      ];
      const retentionMs = this.#config.telemetryRetentionSeconds * 1000;
      const appended = await this.log.appendEntry(sessionId, "evt", entry, async () => {
        const [s, u, p] = alreadyRead ??
          await this.#kv.getMany([seqEntry.key, usageEntry.key, ...(pending ? [pending.key] : [])]);
        alreadyRead = null;
        if (s.versionstamp !== seqEntry.versionstamp) return null;
        if (u.versionstamp !== usageEntry.versionstamp) return null;
        if (pending && !p.versionstamp) return null;
        return (op) => {
          op.check(s, u).set(s.key, m.seq);
          if (usage) op.set(u.key, usage, { expireIn: retentionMs });
          if (pending) op.check(p).delete(p.key);
        };
      });
      if (appended) {
        const versionstamp = appended.versionstamp;
        state.known = {
          seq: { key: seqEntry.key, value: m.seq, versionstamp },
          usage: usage ? { key: usageEntry.key, value: usage, versionstamp } : usageEntry,
        };
        return "stored";
      }
      // Not stored: either the state moved on (read again) or the session's
      // key is shredded (it has ended): then the message is dropped.
      const [again] = await this.#kv.getMany([seqEntry.key]);
      if (again.versionstamp === seqEntry.versionstamp) {
        const still = await this.#kv.get<SessionRecord>(sessionKey(sessionId));
        if (still.value?.status === "ended") return (await advanceOnly()) ? "stored" : "duplicate";
      }
    }
  }

  /**
   * What a telemetry event does to the session's quotas: counted (with the
   * usage after it), replaced by the one notice that a quota was reached, or
   * dropped (a quota already reached).
   */
  #meter(
    current: TelemetryUsage | null,
    event: TelemetryEvent,
  ): "drop" | { usage: TelemetryUsage; notice?: TelemetryEvent } {
    const usage = current ?? { events: 0, screenshotBytes: 0, reached: [] };
    const shot = event.kind === "screenshot" ? event.data.length : 0;
    const { sessionTelemetryQuotaEvents: maxEvents, sessionScreenshotQuotaBytes: maxShots } =
      this.#config;
    const reached = usage.events >= maxEvents
      ? "telemetry_quota_reached" as const
      : shot > 0 && usage.screenshotBytes + shot > maxShots
      ? "screenshot_quota_reached" as const
      : null;
    if (!reached) {
      return {
        usage: {
          ...usage,
          events: usage.events + 1,
          screenshotBytes: usage.screenshotBytes + shot,
        },
      };
    }
    if (usage.reached.includes(reached)) return "drop";
    const message = reached === "telemetry_quota_reached"
      ? `This session stored its ${maxEvents} telemetry events; later ones are dropped`
      : `This session stored ${maxShots} bytes of screenshots; later ones are dropped`;
    return {
      usage: { ...usage, reached: [...usage.reached, reached] },
      notice: { kind: "notice", at: new Date().toISOString(), code: reached, message },
    };
  }

  /** Takes over a freshly upgraded controller socket for `sessionId`. */
  acceptController(socket: WebSocket, sessionId: string): void {
    /** The link that owns the session, if any: its controllers may only watch. */
    let linkId: string | null = null;
    this.#serve<ControllerMessage, ServerToController>(socket, {
      maxBytes: MAX_CONTROLLER_MESSAGE,
      schema: controllerMessageSchema,
      onHello: async (m, ctx) => {
        const { send, close } = ctx;
        if (m.type !== "hello") return false;
        const owner = await authenticate(this.#kv, m.apiKey).catch(() => null);
        if (!owner) {
          close(CLOSE_CODES.unauthorized, "invalid API key");
          return false;
        }
        // the account's session, in the key's mode: any key of the account may control it
        const session = await readOwnedSession(this.#kv, owner, sessionId).catch(() => null);
        if (!session) {
          close(CLOSE_CODES.notFound, "no such session");
          return false;
        }
        const unwatch = this.watchApiKey(
          owner.id,
          () => close(CLOSE_CODES.keyRevoked, "API key revoked"),
        );
        ctx.signal.addEventListener("abort", unwatch, { once: true });
        ctx.signal.addEventListener("abort", this.#clocks.hold(sessionId), { once: true });
        linkId = session.linkId;
        send({ type: "welcome", v: PROTOCOL_VERSION, sessionId, status: session.status });
        const after = m.after ?? await this.log.head(sessionId, "evt");
        this.#track(this.#pumpEvents(sessionId, after, Boolean(linkId), ctx));
        return true;
      },
      onMessage: async (m, _raw, { send, error }) => {
        if (m.type !== "command") return;
        if (linkId) {
          // Never appended: the engine alone drives a link's session.
          return error(
            "session_owned_by_link",
            `${m.name}: this session belongs to link ${linkId}; Passage drives it and a controller can only watch its telemetry`,
            m.id,
          );
        }
        const params = commandParamSchemas[m.name].safeParse(m.params);
        if (!params.success) {
          const issue = params.error.issues[0];
          const where = issue.path.length ? ` "${issue.path.join(".")}"` : "";
          return error(
            "invalid_command",
            `${m.name}: invalid params${where}: ${issue.message}`,
            m.id,
          );
        }
        const timeoutMs = m.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
        const queued = await enqueueCommand(this.#svc, sessionId, {
          id: m.id,
          name: m.name,
          params: params.data,
          timeoutMs,
        });
        if (queued) this.#clocks.deadline(sessionId, this.#svc.clock.now() + timeoutMs);
        else {
          // Not queued: a resend of a command already queued (accepted again), or the session is over.
          const session = (await this.#kv.get<SessionRecord>(sessionKey(sessionId))).value;
          if (!session || session.status === "ended") {
            return error("session_ended", `${m.name}: the session has ended`, m.id);
          }
        }
        send({ type: "accepted", id: m.id });
      },
    });
  }

  async #pumpEvents(
    sessionId: string,
    after: number,
    ownedByLink: boolean,
    { send, close, signal }: SocketContext<ServerToController>,
  ): Promise<void> {
    await tailEvents({
      ...this.#tailBase(sessionId, after, signal),
      onEntry: (seq, entry) => {
        // A link's results are kept out of `evt` when stored (log.ts); this
        // only covers logs written before that was so.
        if (ownedByLink && entry.type === "result") return;
        send({ ...entry, seq } as ServerToController);
        if (entry.type === "session" && entry.status === "ended") {
          close(CLOSE_CODES.sessionEnded, "session ended");
        }
      },
    });
  }
}

/**
 * A device result as stored: checked against its command's result schema (one
 * that does not match becomes a `device_error`), with URLs masked.
 */
function checkResult(m: DeviceResult, name: CommandName): EventLogEntry {
  if (!m.ok) {
    const error = { ...m.error, message: sanitizeErrorMessage(m.error.message) };
    return { type: "result", id: m.id, ok: false, error };
  }
  const parsed = commandResultSchemas[name].safeParse(m.value);
  if (parsed.success) {
    return { type: "result", id: m.id, ok: true, value: sanitizeResult(name, parsed.data) };
  }
  return {
    type: "result",
    id: m.id,
    ok: false,
    error: {
      code: "device_error",
      message: `${name}: the device's result did not match the protocol`,
    },
  };
}

type Parsed = { value: unknown; raw: unknown } | { error: string; id?: string } | {
  tooBig: true;
};

function parseMessage(
  data: unknown,
  max: number,
  schema: {
    safeParse(
      v: unknown,
    ): {
      success: boolean;
      data?: unknown;
      error?: { issues: Array<{ path: PropertyKey[]; message: string }> };
    };
  },
): Parsed {
  if (typeof data !== "string") {
    const size = data instanceof ArrayBuffer
      ? data.byteLength
      : data instanceof Blob
      ? data.size
      : 0;
    if (size > max) return { tooBig: true };
    return { error: "messages must be JSON text" };
  }
  if (data.length > max) return { tooBig: true };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { error: "message is not valid JSON" };
  }
  const result = schema.safeParse(json);
  if (result.success) return { value: result.data, raw: json };
  const issue = result.error!.issues[0];
  const id = typeof (json as { id?: unknown })?.id === "string"
    ? (json as { id: string }).id
    : undefined;
  return {
    error: `invalid message${
      issue.path.length ? ` at "${issue.path.join(".")}"` : ""
    }: ${issue.message}`,
    id,
  };
}

/** Sends if the socket is open; a peer that just went away is not an error. */
function safeSend(socket: WebSocket, msg: unknown): void {
  if (socket.readyState !== WebSocket.OPEN) return;
  try {
    socket.send(JSON.stringify(msg));
  } catch { /* closed between the check and the send */ }
}

function safeClose(socket: WebSocket, code: number, reason: string): void {
  if (socket.readyState > WebSocket.OPEN) return;
  try {
    socket.close(code, reason);
  } catch { /* already closing */ }
}
