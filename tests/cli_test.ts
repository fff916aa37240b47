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
    // How to try webhooks on this machine, with this server's URL.
    const hint = dev.lines.find((l) => l.includes("deno task webhooks listen"));
    assert.ok(hint?.includes(`--url http://localhost:${port} `), dev.lines.join("\n"));
    assert.ok(dev.lines.some((l) => l.includes("PASSAGE_WEBHOOK_ALLOW_LOOPBACK=1")));

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

Deno.test("keys and webhook-keys CLIs: --help prints the usage, --json prints JSON, mistakes are one line", async () => {
  await using kv = await tempKv();
  const [help, shortHelp, hooksHelp, bogus] = await Promise.all([
    keysCli(["--help"], kv.path),
    keysCli(["create", "-h"], kv.path),
    deno(["lib/webhook_keys_cli.ts", "--help"], { PASSAGE_KV_PATH: kv.path }),
    keysCli(["list", "--bogus"], kv.path),
  ]);
  for (const out of [help, shortHelp, hooksHelp]) {
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^Usage:\n/);
    assert.equal(out.stderr, "");
  }
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /^Unknown option '--bogus'/);
  assert.ok(!/\bat .*\.ts:\d+/.test(bogus.stderr), `a stack trace: ${bogus.stderr}`);
  // --help never opened the store.
  assert.equal(await Deno.stat(kv.path).then(() => true, () => false), false);

  const created = await keysCli(["create", "--name", "json", "--json"], kv.path);
  assert.equal(created.code, 0, created.stderr);
  const key = JSON.parse(created.stdout);
  assert.match(key.secret, SECRET_LINE);
  assert.match(key.id, /^key_/);
  assert.equal(key.secretHash, undefined);
  const listed = JSON.parse((await keysCli(["list", "--json"], kv.path)).stdout);
  assert.deepEqual(listed.map((k: { id: string }) => k.id), [key.id]);
  assert.equal(listed[0].secret, undefined);
  assert.ok(!JSON.stringify(listed).includes(key.secret.slice(12)));

  const hooks = (args: string[]) =>
    deno(["lib/webhook_keys_cli.ts", ...args], { PASSAGE_KV_PATH: kv.path });
  const rotated = JSON.parse((await hooks(["rotate", "--json"])).stdout);
  assert.match(rotated.current.kid, /^whk_/);
  assert.equal(rotated.previous, null);
  const keys = JSON.parse((await hooks(["list", "--json"])).stdout);
  assert.deepEqual(keys.map((k: { kid: string; state: string }) => [k.kid, k.state]), [
    [rotated.current.kid, "current"],
  ]);
});

Deno.test("keys CLI: a KV Connect URL goes to Deno.openKv as is, with the access token, and a failure is one line", async () => {
  // A stand-in for a KV Connect server (the edge of the world: a deployment's
  // KV cannot be reached here). It records the metadata exchange and refuses it.
  const seen: Array<{ method: string; path: string; auth: string | null }> = [];
  const controller = new AbortController();
  const stub = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen() {} },
    (req) => {
      seen.push({
        method: req.method,
        path: new URL(req.url).pathname,
        auth: req.headers.get("authorization"),
      });
      return new Response("unauthorized", { status: 401 });
    },
  );
  try {
    const url = `http://127.0.0.1:${stub.addr.port}/kv/connect`;
    const refused = await deno(["lib/keys_cli.ts", "list"], {
      PASSAGE_KV_PATH: url,
      DENO_KV_ACCESS_TOKEN: "ddp_test_token",
    });
    assert.equal(refused.code, 1);
    assert.deepEqual(seen.map((s) => [s.method, s.path, s.auth]), [
      ["POST", "/kv/connect", "Bearer ddp_test_token"],
    ]);
    assert.match(
      refused.stderr,
      new RegExp(`^Error: Could not open the KV store at ${url}: .*401`),
    );
    assert.equal(refused.stderr.trimEnd().split("\n").length, 1, refused.stderr);

    // Without a token, nothing is sent and the line says what to set; --kv works like the env.
    const noToken = await deno(
      ["lib/keys_cli.ts", "list", "--kv", "https://kv.example/connect"],
      {},
    );
    assert.equal(noToken.code, 1);
    assert.match(
      noToken.stderr,
      /^Error: The KV store https:\/\/kv\.example\/connect is a KV Connect URL: set DENO_KV_ACCESS_TOKEN/,
    );
    assert.equal(seen.length, 1);
    // The URL never became a local folder.
    for (const name of ["http:", "https:"]) {
      assert.equal(await Deno.stat(`${ROOT}${name}`).then(() => true, () => false), false, name);
    }
  } finally {
    controller.abort();
    await stub.finished;
  }
});
