/**
 * The shapes of a session log's entries, as the relay stores and delivers
 * them: the `cmd` stream (controller → device) and the `evt` and `eng`
 * streams (device → controller, and → engine).
 */
import type {
  CommandError,
  CommandName,
  SessionStatus,
  TelemetryEvent,
} from "@passage/connect/protocol";
import type { ClientEvent } from "@passage/connect/schemas";

/** What the `cmd` stream holds. */
export type CommandLogEntry =
  | {
    type: "command";
    id: string;
    name: CommandName;
    params: unknown;
    /** Absolute deadline, ms since epoch. */
    deadline: number;
  }
  | { type: "end"; reason: string };

/** What the `evt` stream holds (and `eng`, which holds only results). */
export type EventLogEntry =
  | { type: "result"; id: string; ok: true; value: unknown }
  | { type: "result"; id: string; ok: false; error: CommandError }
  | { type: "telemetry"; event: TelemetryEvent }
  | {
    type: "session";
    status: SessionStatus;
    device: "connected" | "disconnected" | "none";
    reason?: string;
  }
  /** A link's client event (`lib/client_events.ts`), stored with the link's record. */
  | { type: "client"; event: ClientEvent };
