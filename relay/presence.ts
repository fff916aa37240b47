/**
 * Device presence that survives its instance's death. Each relay instance that
 * holds device sockets beats a heartbeat record in KV (`relayInstanceKey`),
 * and every device presence names its instance (`presenceByInstanceKey`). A
 * device is present while its instance beats: when an instance dies without a
 * word (SIGKILL, eviction), its record stops being renewed, and any instance's
 * frequent check (`reapDeadInstances`) marks that instance's devices
 * disconnected as of its last beat, so the session's grace runs and it ends
 * `device_lost` (`endLostDevices`), whoever is left to notice.
 *
 * It costs one KV write per instance per beat, whatever the number of
 * sockets: nothing per session.
 */
import { fixedClock, type Services, type SessionServices } from "../lib/services.ts";
import {
  deviceAwayPrefix,
  presenceByInstanceKey,
  presenceByInstancePrefix,
  relayInstanceKey,
  relayInstancePrefix,
  sessionKey,
} from "../lib/kv_keys.ts";
import { deviceDisconnected, type SessionRecord, sweepSession } from "../lib/sessions.ts";

/** How often an instance holding devices beats. */
export const HEARTBEAT_MS = 1_000;
/** How long a beat vouches for an instance's devices: a few missed beats mean it is gone. */
export const INSTANCE_TTL_MS = 4_000;

/** A relay instance's heartbeat as stored. */
export interface RelayInstance {
  /** Last beat, ms since epoch. */
  beatAt: number;
  /** Its devices count as gone after this (the stored time decides; `expireIn` is a lower bound). */
  expiresAt: number;
}

/** The heartbeat of one relay instance: beats while it holds at least one device socket. */
export class InstanceHeartbeat {
  /** This instance's id, recorded in every presence it holds. */
  readonly id: string = crypto.randomUUID();
  readonly #kv: Deno.Kv;
  #held = 0;
  #timer: ReturnType<typeof setInterval> | null = null;
  #beating: Promise<unknown> = Promise.resolve();

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Starts vouching for one more device; resolves once a fresh beat is stored. */
  async hold(): Promise<void> {
    this.#held++;
    this.#timer ??= setInterval(() => void this.#beat(), HEARTBEAT_MS);
    await this.#beat();
  }

  /** One device fewer; with none left the beat stops (the record lapses on its own). */
  release(): void {
    this.#held = Math.max(0, this.#held - 1);
    if (this.#held === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  /**
   * Stops beating and marks the record lapsed now, so the next check anywhere
   * records whatever device this instance still held as gone, at once.
   */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#beating;
    await this.#beat(0);
  }

  #beat(ttlMs = INSTANCE_TTL_MS): Promise<unknown> {
    const now = Date.now();
    const record: RelayInstance = { beatAt: now, expiresAt: now + ttlMs };
    this.#beating = this.#kv.set(relayInstanceKey(this.id), record, {
      expireIn: INSTANCE_TTL_MS * 10,
    }).catch((err) => console.error("relay heartbeat failed:", err));
    return this.#beating;
  }
}

/**
 * Finds instances whose heartbeat lapsed and records each of their devices as
 * disconnected at the instance's last beat; then forgets the instance.
 * Returns how many devices it found gone. Cheap: one list of the instances.
 */
export async function reapDeadInstances(svc: SessionServices): Promise<number> {
  const { kv } = svc;
  const now = svc.clock.now();
  let gone = 0;
  for await (const instance of kv.list<RelayInstance>({ prefix: relayInstancePrefix() })) {
    if (instance.value.expiresAt > now) continue;
    const instanceId = instance.key[1] as string;
    for await (
      const { key, value: connectionId } of kv.list<string>({
        prefix: presenceByInstancePrefix(instanceId),
      })
    ) {
      const sessionId = key[2] as string;
      await deviceDisconnected(svc, sessionId, connectionId, new Date(instance.value.beatAt));
      // Left behind if the presence had moved on (deviceDisconnected then did nothing).
      await kv.delete(presenceByInstanceKey(instanceId, sessionId));
      gone++;
    }
    // Only if it did not beat again meanwhile (a stalled instance that lives):
    // its sockets then record themselves present again (relay.ts).
    await kv.atomic().check(instance).delete(instance.key).commit();
  }
  return gone;
}

/**
 * Ends the sessions whose device has been away longer than the grace
 * (`device_lost`), and applies their other clocks. Cheap: it lists only the
 * sessions whose device is away. Returns how many it ended.
 */
export async function endLostDevices(
  svc: SessionServices & Pick<Services, "config">,
): Promise<number> {
  const { kv, config } = svc;
  // One time for the whole check.
  const now = svc.clock.now();
  const at = { ...svc, clock: fixedClock(now) };
  let ended = 0;
  for await (const away of kv.list<number>({ prefix: deviceAwayPrefix() })) {
    if (away.value + config.deviceGraceSeconds * 1000 > now) continue;
    const sessionId = away.key[1] as string;
    const record = (await kv.get<SessionRecord>(sessionKey(sessionId))).value;
    if (!record || record.status === "ended" || record.device !== "disconnected") {
      await kv.atomic().check(away).delete(away.key).commit();
      continue;
    }
    if (await sweepSession(at, record)) ended++;
  }
  return ended;
}
