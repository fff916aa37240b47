/**
 * `deno task device:conformance`: runs the kit and exits non-zero when a
 * check fails.
 *
 * ```sh
 * deno task device:conformance                       # the reference device, headless
 * deno task device:conformance --extension           # the browser extension, headless
 * deno task device:conformance --external            # your device: follow the instructions
 * deno task device:conformance --external --hostname 0.0.0.0 --public-host 192.168.1.20
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  checkNames,
  extensionDevice,
  externalDevice,
  referenceDevice,
  runConformance,
} from "./mod.ts";

const HELP = `Usage: deno task device:conformance [options]

Drives a Passage device through the whole relay protocol and prints
PASS / FAIL / SKIP for each check. Exits 1 when a check fails.

  --extension            Test the browser extension (extension/), built for the kit
  --external             Test your own device: the kit prints the claim URL and
                         code, and tells the person holding the device what to do
  --name NAME            What the report calls the external device
  --hostname ADDR        Where the kit's servers listen (default 127.0.0.1;
                         0.0.0.0 for a phone on the same network)
  --public-host HOST     The host the device reaches them by (default --hostname)
  --human-timeout SECS   How long the person has for one turn (default 300)
  --only TEXT[,TEXT]     Only the checks whose name contains one of these
  --window               Show the reference device's Chromium window
  --browser PATH         The reference device's Chromium
  --list                 Print the checks and exit
  --help                 This text`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    external: { type: "boolean", default: false },
    extension: { type: "boolean", default: false },
    name: { type: "string" },
    hostname: { type: "string" },
    "public-host": { type: "string" },
    "human-timeout": { type: "string" },
    only: { type: "string" },
    window: { type: "boolean", default: false },
    browser: { type: "string" },
    list: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});

if (values.help) {
  console.log(HELP);
  Deno.exit(0);
}
if (values.list) {
  for (const name of checkNames()) console.log(name);
  Deno.exit(0);
}
const humanSeconds = values["human-timeout"] === undefined ? 300 : Number(values["human-timeout"]);
if (!Number.isFinite(humanSeconds) || humanSeconds <= 0) {
  console.error(
    `--human-timeout must be a positive number of seconds, got ${values["human-timeout"]}`,
  );
  Deno.exit(2);
}
const browser = values.browser ?? Deno.env.get("PASSAGE_BROWSER");
const device = values.external
  ? externalDevice({ name: values.name, humanTimeoutMs: humanSeconds * 1000 })
  : values.extension
  ? extensionDevice({ headless: !values.window, executablePath: browser })
  : referenceDevice({
    headless: !values.window,
    executablePath: browser,
  });
const report = await runConformance({
  device,
  only: values.only?.split(",").map((s) => s.trim()).filter(Boolean),
  hostname: values.hostname,
  publicHost: values["public-host"],
  // a person needs time to open the claim
  connectTimeoutMs: values.external ? humanSeconds * 1000 : undefined,
});
Deno.exit(report.failed > 0 ? 1 : 0);
