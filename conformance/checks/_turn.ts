/**
 * One turn of the human: the controller yields, the kit waits for the
 * device to announce it (`yield` telemetry, `state: "started"`), runs what
 * the controller tries meanwhile, lets the human act, and returns the
 * yield's answer.
 *
 * @module
 */
import type { Commands } from "@passage/connect/protocol";
import { fail } from "../_check.ts";
import type { Kit } from "../_kit.ts";
import type { Human } from "../_types.ts";

/** How long a device has to announce a yield it received. */
const ANNOUNCE_MS = 20_000;

/** What one turn does. */
export interface Turn {
  conditions: Commands["yieldToUser"]["params"]["conditions"];
  /** What the device shows the human. */
  status?: { heading?: string; subheading?: string };
  /** The yield's timeout (default: the human's). */
  timeout?: number;
  /** What the controller tries once the yield is announced, before the human acts. */
  during?: () => Promise<void>;
  /** What the human does. */
  act?: (human: Human) => Promise<void>;
}

/** Runs a turn; resolves with the yield's result, or rejects with its error. */
export async function humanTurn(
  kit: Kit,
  turn: Turn,
): Promise<Commands["yieldToUser"]["result"]> {
  const from = kit.telemetry.length;
  const yielded = kit.browser.yieldToUser({
    status: turn.status,
    conditions: turn.conditions,
    timeout: turn.timeout ?? kit.humanTimeoutMs,
  });
  // settled below, whatever happens first
  yielded.catch(() => {});
  const stop = new AbortController();
  const announced = await Promise.race([
    kit.nextTelemetry((e) => e.kind === "yield" && e.state === "started", {
      from,
      ms: ANNOUNCE_MS,
      what: "yield started",
      signal: stop.signal,
    }).then(() => "announced" as const, () => "silent" as const),
    yielded.then(() => "over" as const, () => "over" as const),
  ]);
  stop.abort();
  let failure: unknown = null;
  if (announced !== "over") {
    try {
      if (announced === "announced") await turn.during?.();
    } catch (error) {
      failure = error;
    }
    try {
      // a silent device may still hand over control: the human tries anyway
      await turn.act?.(kit.human());
    } catch (error) {
      failure ??= error;
    }
  }
  // the yield is over before the next check sends anything
  const settled = await yielded.then(
    (value) => ({ value }),
    (error) => ({ error }),
  );
  if (failure !== null) throw failure;
  if (announced === "silent") {
    fail(`the device did not send yield telemetry (state "started") within ${ANNOUNCE_MS} ms`);
  }
  if ("error" in settled) throw settled.error;
  const result = settled.value;
  return result;
}
