/**
 * Runs the commands the server sends: one at a time in `seq` order, each at
 * most once per id, each bounded by its `timeoutMs`. A `yieldToUser` does not
 * hold up the line: while it waits, every other command is answered at once
 * with `user_has_control`.
 *
 * @module
 */
import {
  COMMAND_NAMES,
  type CommandError,
  type CommandName,
  commandParamSchemas,
} from "@passage/connect/protocol";
import type { CommandContext, Handlers } from "./_commands.ts";
import { CommandFailure, quote, toCommandError } from "./_errors.ts";
import { maskUrl } from "./_mask.ts";

/** A command as received from the server. */
export interface IncomingCommand {
  seq: number;
  id: string;
  name: string;
  params: unknown;
  timeoutMs: number;
}

/** A command's outcome. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: CommandError };

/** Where results go: the relay connection. */
export interface ResultSink {
  /** Sends a result and returns the seq it was given. */
  sendResult(id: string, outcome: Outcome, name: string): number;
  /** Whether the message with this seq still waits for its ack. */
  isUnacked(seq: number): boolean;
  /** Sends again a message still waiting for its ack. */
  resend(seq: number): void;
}

interface Queued {
  command: IncomingCommand;
  deadline: number;
}

/**
 * Makes an outcome safe to send (the device scrubs secrets here). If it
 * throws, the command fails with `device_error` and nothing of the outcome is
 * sent.
 */
export type OutcomeFilter = (name: string, outcome: Outcome) => Promise<Outcome>;

/** Runs commands for one device. */
export class CommandRunner {
  readonly #handlers: Handlers;
  readonly #sink: ResultSink;
  readonly #log: (line: string) => void;
  /** The seq of each answered command's result, by command id. */
  readonly #answered = new Map<string, number>();
  /** Ids received and not answered yet. */
  readonly #waiting = new Set<string>();
  readonly #queue: Queued[] = [];
  #pumping: Promise<void> | null = null;
  #yield: Promise<void> | null = null;
  readonly #inFlight = new Set<AbortController>();
  #stopped = false;

  readonly #filter: OutcomeFilter;

  constructor(
    handlers: Handlers,
    sink: ResultSink,
    log: (line: string) => void,
    filter: OutcomeFilter = (_, outcome) => Promise.resolve(outcome),
  ) {
    this.#handlers = handlers;
    this.#sink = sink;
    this.#log = log;
    this.#filter = filter;
  }

  /** Takes a command from the server. Repeats of an id are never run twice. */
  receive(command: IncomingCommand): void {
    if (this.#stopped) return;
    const seq = this.#answered.get(command.id);
    if (seq !== undefined) {
      // a replay: resend the result if the server has not stored it yet
      if (this.#sink.isUnacked(seq)) this.#sink.resend(seq);
      return;
    }
    if (this.#waiting.has(command.id)) return;
    this.#waiting.add(command.id);
    const timeoutMs = Number.isFinite(command.timeoutMs) && command.timeoutMs > 0
      ? command.timeoutMs
      : 30_000;
    const item = { command, deadline: performance.now() + timeoutMs };
    // keep the queue in seq order, should the server ever send out of order
    const at = this.#queue.findIndex((q) => q.command.seq > command.seq);
    if (at < 0) this.#queue.push(item);
    else this.#queue.splice(at, 0, item);
    this.#pumping ??= this.#pump().finally(() => this.#pumping = null);
  }

  /** Stops taking commands and aborts those running; resolves once they have all settled. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#queue.length = 0;
    for (const controller of this.#inFlight) {
      controller.abort(new CommandFailure("session_ended", "The device is closing"));
    }
    await Promise.allSettled([this.#pumping, this.#yield]);
  }

  async #pump(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stopped) {
      const next = this.#queue.shift()!;
      await this.#run(next);
    }
  }

  async #run({ command, deadline }: Queued): Promise<void> {
    const { id, name } = command;
    if (!(COMMAND_NAMES as readonly string[]).includes(name)) {
      return this.#answer(command, fail("unknown_command", `Unknown command ${quote(name)}`));
    }
    const known = name as CommandName;
    const parsed = commandParamSchemas[known].safeParse(command.params ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map((i) => `${i.path.length ? i.path.join(".") : "params"}: ${i.message}`)
        .join("; ");
      return this.#answer(
        command,
        fail("invalid_command", `Invalid params for ${name}: ${issues}`),
      );
    }
    if (this.#yield !== null) {
      return this.#answer(
        command,
        fail("user_has_control", `The user has control (yieldToUser is waiting): ${name} not run`),
      );
    }
    if (deadline - performance.now() <= 0) {
      return this.#answer(command, fail("timeout", `Command ${name} expired before it could run`));
    }
    this.#log(`command ${command.seq} ${name} (${id})`);
    const running = this.#execute(known, parsed.data, deadline)
      .then((outcome) => this.#answer(command, outcome));
    if (known === "yieldToUser") {
      // the line moves on: later commands are refused until the yield ends
      this.#yield = running.finally(() => this.#yield = null);
      return;
    }
    await running;
  }

  async #execute(name: CommandName, params: unknown, deadline: number): Promise<Outcome> {
    const controller = new AbortController();
    this.#inFlight.add(controller);
    const ctx: CommandContext = { signal: controller.signal, deadline };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => {
        const on = targetOf(params);
        const message = `Command ${name}${on ? ` on ${on}` : ""} did not finish in time`;
        controller.abort(new CommandFailure("timeout", message));
        resolve(fail("timeout", message));
      }, Math.max(0, deadline - performance.now()));
    });
    const handler = this.#handlers[name] as (p: unknown, c: CommandContext) => Promise<unknown>;
    const work = (async (): Promise<Outcome> => {
      try {
        return { ok: true, value: await handler(params, ctx) };
      } catch (error) {
        return { ok: false, error: toCommandError(error, name, targetOf(params)) };
      }
    })();
    try {
      return await Promise.race([work, timedOut]);
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(controller);
    }
  }

  async #answer(command: IncomingCommand, raw: Outcome): Promise<void> {
    if (this.#stopped) return;
    let outcome: Outcome;
    try {
      outcome = await this.#filter(command.name, raw);
    } catch (error) {
      this.#log(`result ${command.seq} ${command.name}: could not be made safe to send`);
      outcome = fail(
        "device_error",
        `The result of ${command.name} could not be checked for secrets: ${(error as Error).name}`,
      );
    }
    if (this.#stopped) return;
    this.#waiting.delete(command.id);
    const seq = this.#sink.sendResult(command.id, outcome, command.name);
    this.#answered.set(command.id, seq);
    this.#log(
      `result ${command.seq} ${command.name}: ${outcome.ok ? "ok" : outcome.error.code}`,
    );
  }
}

function fail(code: CommandError["code"], message: string): Outcome {
  return { ok: false, error: { code, message } };
}

/** What a command acts on, for messages: its quoted selector or its (redacted) URL. */
function targetOf(params: unknown): string | undefined {
  const p = params as { selector?: unknown; url?: unknown } | null;
  if (typeof p?.selector === "string") return quote(p.selector);
  if (typeof p?.url === "string") return maskUrl(p.url);
  return undefined;
}
