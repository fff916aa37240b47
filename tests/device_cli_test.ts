/**
 * The reference device's command line, as a person runs it: a real
 * subprocess (`deno run device/cli.ts`, from the repository root so
 * `deno.json` applies), against a real server. It must forgive: no display,
 * no browser or a bad argument never burn the claim code, and a person who
 * stops it ends the session.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Passage } from "@passage/connect";
import { within } from "./_evidence.ts";
import { startServer, type TestServer } from "./_harness.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The environment of a machine with no display, and Chromium where Debian puts it. */
function headlessEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "", ...extra };
  for (const name of ["HOME", "TMPDIR", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value) env[name] = value;
  }
  return env;
}

function device(args: string[], env: Record<string, string>) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "device/cli.ts", ...args],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(args: string[], env: Record<string, string>) {
  const out = await device(args, env).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** A session's claim, which must still be usable afterwards. */
async function newSession(server: TestServer) {
  const passage = new Passage({ apiKey: server.apiKey, baseUrl: server.url });
  const session = await passage.sessions.create();
  return { passage, session };
}

async function stillClaimable(server: TestServer, sessionId: string): Promise<void> {
  const res = await server.api(`/v1/sessions/${sessionId}`);
  assert.equal(res.body.status, "pending", "the session was claimed");
}

Deno.test("deno task device --help prints the options and exits 0", async () => {
  const out = await run(["--help"], headlessEnv());
  assert.equal(out.code, 0, out.stderr);
  for (const option of ["--server", "--headless", "--browser", "--allow-private-origin"]) {
    assert.ok(out.stdout.includes(option), `${option} is not in the help`);
  }
});

Deno.test("with no display and no --headless the device says so and claims nothing", async () => {
  await using server = await startServer();
  const { session } = await newSession(server);
  const out = await run([session.appClipUrl!], headlessEnv());
  assert.equal(out.code, 2, out.stdout);
  assert.match(out.stderr, /no display/i);
  assert.match(out.stderr, /Nothing was claimed/);
  await stillClaimable(server, session.id);
});

Deno.test("with no browser at the given path the device says so and claims nothing", async () => {
  await using server = await startServer();
  const { session } = await newSession(server);
  const out = await run(
    [session.appClipUrl!, "--headless", "--browser", "/nonexistent/chrome"],
    headlessEnv(),
  );
  assert.equal(out.code, 1, out.stdout);
  assert.match(out.stderr, /There is no browser at \/nonexistent\/chrome/);
  assert.match(out.stderr, /Nothing was claimed/);
  await stillClaimable(server, session.id);
  // PASSAGE_BROWSER is read the same way
  const viaEnv = await run(
    [session.appClipUrl!, "--headless"],
    headlessEnv({ PASSAGE_BROWSER: "/nonexistent/chromium" }),
  );
  assert.equal(viaEnv.code, 1);
  assert.match(viaEnv.stderr, /There is no browser at \/nonexistent\/chromium/);
  await stillClaimable(server, session.id);
});

Deno.test("a person who stops the device (Ctrl-C) ends its part: the session sees it go", async () => {
  await using server = await startServer({ deviceGraceSeconds: 1 });
  const { session } = await newSession(server);
  const child = device([session.appClipUrl!, "--headless"], headlessEnv()).spawn();
  const lines: string[] = [];
  const connected = Promise.withResolvers<void>();
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      lines.push(chunk);
      if (lines.join("").includes("Connected.")) connected.resolve();
    }
  })();
  const errors = new Response(child.stderr).text();
  try {
    await within(connected.promise, 30_000, "the device's connection");
    const browser = await session.connect();
    try {
      assert.equal(await browser.url(), "about:blank");
      child.kill("SIGINT");
      const status = await within(child.status, 15_000, "the device's exit");
      assert.equal(status.code, 0, await errors);
      await reading;
      assert.match(lines.join(""), /Session over|Closing/);
      // the session notices the device went away and, past the grace, ends
      const ended = await within(
        (async () => {
          for (;;) {
            const s = await server.api(`/v1/sessions/${session.id}`);
            if (s.body.status === "ended") return s.body;
            await new Promise((r) => setTimeout(r, 100));
          }
        })(),
        20_000,
        "the session's end",
      );
      assert.equal(ended.status, "ended");
    } finally {
      await browser.close();
    }
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
  }
});
