/**
 * A device the kit cannot reach into, such as an App Clip on a phone: the
 * kit prints the claim, and for each step of the human a plain instruction
 * for the person holding the device; the yield's own condition tells the
 * kit when they are done.
 *
 * @module
 */
import type { DeviceUnderTest, Human } from "../_types.ts";

/** Options of {@link externalDevice}. */
export interface ExternalDeviceOptions {
  /** What the report calls it (default "external device"). */
  name?: string;
  /** Where instructions go (default `console.log`). */
  print?: (line: string) => void;
  /** How long the person has for one turn (default 5 minutes). */
  humanTimeoutMs?: number;
}

/** A device operated by a person, who follows the printed instructions. */
export function externalDevice(options: ExternalDeviceOptions = {}): DeviceUnderTest {
  const print = options.print ?? ((line: string) => console.log(line));
  const say = (line: string) => print(`>>> ${line}`);
  const human: Human = {
    type(selector, text, what) {
      say(`Type ${JSON.stringify(text)} into ${what ?? `the field ${selector}`}`);
      return Promise.resolve();
    },
    click(selector, what) {
      say(`Tap ${what ?? `the element ${selector}`}; the kit goes on once the page shows it`);
      return Promise.resolve();
    },
    waitFor(selector, what) {
      say(`Wait until ${what ?? `the element ${selector}`} shows`);
      return Promise.resolve();
    },
  };
  return {
    name: options.name ?? "external device",
    humanTimeoutMs: options.humanTimeoutMs ?? 5 * 60_000,
    start(claim) {
      print("");
      say(`Open the claim on the device under test: ${claim.url}`);
      say(`(or enter the code ${claim.code} at ${claim.server})`);
      say(
        `The device must allow these origins although they are private: ${
          claim.allowPrivateOrigins.join(", ")
        }`,
      );
      say("Then leave it to the kit; it tells you when it is your turn.");
      print("");
      return Promise.resolve({
        human,
        close() {
          say("Done: you can close the device under test.");
          return Promise.resolve();
        },
      });
    },
  };
}
