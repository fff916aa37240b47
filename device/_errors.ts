/**
 * How a command fails: {@link CommandFailure} carries a protocol error code,
 * and {@link toCommandError} turns anything thrown by puppeteer into one.
 *
 * @module
 */
import type { CommandError, CommandErrorCode } from "@passage/connect/protocol";
import { maskUrlsInText } from "./_mask.ts";

/** The protocol's limit on an error message. */
const MAX_MESSAGE = 2000;

/** A command failed with a stable protocol code. */
export class CommandFailure extends Error {
  readonly code: CommandErrorCode;
  constructor(code: CommandErrorCode, message: string) {
    super(message);
    this.name = "CommandFailure";
    this.code = code;
  }
}

/** Quotes a selector (or other user-supplied text) for an error message, cut to 200 characters. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

/**
 * Whether an error is puppeteer's `TimeoutError`, by name: the device core
 * runs over puppeteer's Node build and its browser build (the extension),
 * whose classes differ.
 */
export function isTimeout(error: unknown): boolean {
  return (error as Error | null)?.name === "TimeoutError";
}

/** Whether an error from puppeteer means the selector itself is malformed. */
export function isInvalidSelectorError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /is not a valid selector|invalid selector|unknown selector|Unknown query handler|SyntaxError/i
    .test(message);
}

/** The first line of an error's message, with URLs in it redacted. */
export function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return maskUrlsInText(message.split("\n")[0]);
}

/**
 * Turns anything thrown while running `command` into a protocol error.
 * `what` names the command's target (a quoted selector or a URL).
 */
export function toCommandError(error: unknown, command: string, what?: string): CommandError {
  let code: CommandErrorCode;
  let message: string;
  if (error instanceof CommandFailure) {
    code = error.code;
    message = error.message;
  } else if (isTimeout(error) || (error as Error)?.name === "AbortError") {
    code = "timeout";
    message = `Command ${command}${what ? ` on ${what}` : ""} did not finish in time`;
  } else {
    code = "device_error";
    message = `Command ${command}${what ? ` on ${what}` : ""} failed: ${describe(error)}`;
  }
  return { code, message: message.length > MAX_MESSAGE ? message.slice(0, MAX_MESSAGE) : message };
}
