/**
 * The command-line entry points, run as real subprocesses of the same Deno
 * binary, from the repository root so `deno.json` (imports, unstable flags)
 * applies exactly as it does for `deno task`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { assertError, LINK_BODY, request, startServer } from "./_harness.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SECRET_LINE = /^sk_test_[0-9A-Za-z]{38}$/;

/** A temporary KV file path; the folder is removed when disposed. */
async function tempKv(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "passage_cli_test_" });
  return {
    path: `${dir}/passage.kv3`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Runs `deno run --allow-all <args>` to completion. */
async function deno(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  return { code: out.code, stdout, stderr, lines: stdout.trimEnd().split("\n") };
}

function keysCli(args: string[], kvPath: string) {
  return deno(["lib/keys_cli.ts", ...args], { PASSAGE_KV_PATH: kvPath });
}

Deno.test("keys CLI: create prints a secret last, list shows it without the secret, revoke makes it 401", async () => {
  await using kv = await tempKv();

  const created = await keysCli(["create", "--name", "ci"], kv.path);
  assert.equal(created.code, 0, created.stderr);
  const secret = created.lines.at(-1)!;
  assert.match(secret, SECRET_LINE);
  const keyId = /\b(key_[0-9A-Z]{26})\b/.exec(created.stdout)?.[1];
  assert.ok(keyId, `no key id in: ${created.stdout}`);

  const listed = await keysCli(["list"], kv.path);
  assert.equal(listed.code, 0, listed.stderr);
  const row = listed.lines.find((line) => line.includes(keyId));
  assert.ok(row, `${keyId} is not listed: ${listed.stdout}`);
  assert.match(row, /\bci$/);
  assert.match(row, /\bactive\b/);
  assert.ok(!listed.stdout.includes(secret), "list shows the secret");
  assert.ok(!listed.stdout.includes(secret.slice(12)), "list shows the secret's body");

  {
    await using server = await startServer({ kvPath: kv.path });
    const before = await server.api("/v1/links", { apiKey: secret });
    assert.equal(before.status, 200, before.text);
  }

  const revoked = await keysCli(["revoke", keyId], kv.path);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, new RegExp(`Revoked ${keyId}`));

  await using server = await startServer({ kvPath: kv.path });
  const res = await server.api("/v1/links", { method: "POST", json: LINK_BODY, apiKey: secret });
  assertError(res, 401, "revoked_api_key");

  const after = await keysCli(["list"], kv.path);
  assert.match(after.lines.find((line) => line.includes(keyId)) ?? "", /\brevoked \d{4}-/);
});

Deno.test("keys CLI: create without --name, an unknown command and an unknown id fail", async () => {
  await using kv = await tempKv();
  const [noName, unknown, missing] = await Promise.all([
    keysCli(["create"], kv.path),
    keysCli(["frobnicate"], kv.path),
    keysCli(["revoke", "key_01JAAAAAAAAAAAAAAAAAAAAAAA"], kv.path),
  ]);
  assert.equal(noName.code, 2);
  assert.match(noName.stderr, /--name is required/);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Usage:/);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No key with id/);
});

/** `main.ts --dev` as a child process, with its output read line by line. */
function startDevServer(kvPath: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts", "--dev"],
    cwd: ROOT,
    env: { NO_COLOR: "1", PORT: "0", PASSAGE_KV_PATH: kvPath },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const { promise: listening, resolve, reject } = Promise.withResolvers<string>();
  const stdoutDone = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        if (/listening/i.test(line)) resolve(line);
      }
    }
  })();
  const stderrDone = new Response(child.stderr).text();
  // Exiting before the listening line is a failure, not a hang.
  child.status.then(async (status) => {
    await stdoutDone;
    reject(
      new Error(
        `main.ts exited (${status.code}) before listening:\n${
          lines.join("\n")
        }\n${await stderrDone}`,
      ),
    );
  });
  return {
    lines,
    listening,
    /** SIGTERM, then the exit status once every stream is read. */
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const status = await child.status;
      await stdoutDone;
      return { status, stderr: await stderrDone };
    },
  };
}

Deno.test("main.ts --dev on an empty KV prints a test key that creates links", async () => {
  await using kv = await tempKv();
  const dev = startDevServer(kv.path);
  try {
    const line = await dev.listening;
    const port = Number(/^Passage listening on http:\/\/[^:/]+:(\d+)\b/.exec(line)?.[1]);
    assert.ok(port > 0, `no port in: ${line}`);
    const secret = dev.lines.find((l) => SECRET_LINE.test(l));
    assert.ok(secret, `no test key printed:\n${dev.lines.join("\n")}`);
    assert.ok(dev.lines.indexOf(secret) < dev.lines.indexOf(line), "key printed after listening");

    const res = await request(`http://127.0.0.1:${port}/v1/links`, {
      method: "POST",
      json: LINK_BODY,
      apiKey: secret,
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.status, "pending");
    assert.match(res.body.appClipUrl, /\/c\/[0-9A-Z]{5}-[0-9A-Z]{5}$/);
  } finally {
    const { status, stderr } = await dev.stop();
    assert.equal(status.signal, "SIGTERM", `exit ${status.code}: ${stderr}`);
    assert.equal(status.success, false);
  }
});

Deno.test("main.ts --dev on a KV that has keys prints no new key", async () => {
  await using kv = await tempKv();
  const created = await keysCli(["create", "--name", "existing"], kv.path);
  assert.equal(created.code, 0, created.stderr);
  const dev = startDevServer(kv.path);
  try {
    await dev.listening;
    assert.deepEqual(dev.lines.filter((l) => SECRET_LINE.test(l)), []);
  } finally {
    const { status, stderr } = await dev.stop();
    assert.equal(status.signal, "SIGTERM", `exit ${status.code}: ${stderr}`);
  }
});
