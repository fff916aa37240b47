/**
 * Reads the device CLI's arguments: a claim URL (`http://host/c/CODE`) or a
 * bare claim code, `--server URL`, `--headless`, `--browser PATH` (or
 * `PASSAGE_BROWSER`), and `--allow-private-origin URL` (repeatable: a site on
 * this machine or its network that sessions may open).
 *
 * @module
 */

/** What the CLI connects to. */
export interface CliTarget {
  server: string;
  claimCode: string;
  /** Run the browser without a window. */
  headless: boolean;
  /** The browser to run, when given (`--browser` or `PASSAGE_BROWSER`). */
  executablePath?: string;
  /** Origins on loopback or a private network the device may load. */
  allowPrivateOrigins: string[];
}

/** The usage line. */
export const USAGE = `Usage: deno task device <claim URL or code> [options]

Opens the link or session in a browser on this computer: you log in yourself,
and your passwords, codes and cookies stay here.

Options:
  --server URL                The Passage server (for a bare code; default PASSAGE_PUBLIC_URL
                              or http://localhost:8000)
  --headless                  Run the browser without a window (no one can log in then:
                              for automated tests)
  --browser PATH              The Chromium or Chrome to run (default PASSAGE_BROWSER, then the
                              first Chrome or Chromium found on this computer)
  --allow-private-origin URL  A site on this machine or its network sessions may open
                              (repeatable)
  -h, --help                  This help`;

/** Asked for the help text. */
export class HelpRequested extends Error {
  constructor() {
    super(USAGE);
    this.name = "HelpRequested";
  }
}

/**
 * Parses the arguments. A claim URL gives the server (everything before its
 * `/c/CODE`) and the code; a bare code takes the server from `--server`, then
 * `PASSAGE_PUBLIC_URL`, then `http://localhost:8000`. `--server` always wins.
 * Throws an Error with a message for the user on bad arguments.
 */
export function parseCliArgs(args: string[], env: { get(name: string): string | undefined }) {
  let server: string | undefined;
  let headless = false;
  let executablePath = env.get("PASSAGE_BROWSER") || undefined;
  const rest: string[] = [];
  const allowPrivateOrigins: string[] = [];
  const origin = (value: string | undefined) => {
    if (!value || !/^https?:\/\//i.test(value) || !URL.canParse(value)) {
      throw new Error(`--allow-private-origin needs an http(s) URL, not ${value ?? "nothing"}`);
    }
    allowPrivateOrigins.push(new URL(value).origin);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--server") {
      server = args[++i];
      if (!server) throw new Error("--server needs a URL");
    } else if (arg.startsWith("--server=")) {
      server = arg.slice("--server=".length);
    } else if (arg === "--allow-private-origin") {
      origin(args[++i]);
    } else if (arg.startsWith("--allow-private-origin=")) {
      origin(arg.slice("--allow-private-origin=".length));
    } else if (arg === "--headless") {
      headless = true;
    } else if (arg === "--browser") {
      executablePath = args[++i];
      if (!executablePath) throw new Error("--browser needs the path of a browser");
    } else if (arg.startsWith("--browser=")) {
      executablePath = arg.slice("--browser=".length);
    } else if (arg === "-h" || arg === "--help") {
      throw new HelpRequested();
    } else if (arg.startsWith("-")) {
      throw new Error(`Unknown option ${arg}\n${USAGE}`);
    } else {
      rest.push(arg);
    }
  }
  if (rest.length !== 1) {
    throw new Error(
      rest.length === 0
        ? `A claim URL or code is needed\n\n${USAGE}`
        : `One claim at a time\n\n${USAGE}`,
    );
  }
  const target = rest[0];
  let claimCode = target;
  if (/^https?:\/\//i.test(target)) {
    const url = new URL(target);
    const match = /^(.*)\/c\/([^/]+)\/?$/.exec(url.pathname);
    const segments = url.pathname.split("/").filter((s) => s !== "");
    const code = match?.[2] ?? segments.at(-1);
    if (!code) throw new Error(`No claim code in ${target}`);
    claimCode = decodeURIComponent(code);
    server ??= url.origin + (match?.[1] ?? "");
  }
  server ??= env.get("PASSAGE_PUBLIC_URL") || "http://localhost:8000";
  if (!/^https?:\/\//i.test(server)) {
    throw new Error(`The server must be an http(s) URL, not ${server}`);
  }
  return {
    server: server.replace(/\/+$/, ""),
    claimCode,
    headless,
    ...(executablePath ? { executablePath } : {}),
    allowPrivateOrigins,
  } satisfies CliTarget;
}
