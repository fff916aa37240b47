/**
 * `@passage/connect` on Node: the package built for npm (`connect/_build_npm.ts`),
 * installed with npm into a temp dir beside `ws` and `express` from the
 * registry, then run on this machine's `node` against a real Passage server on
 * loopback: a script that creates a link, opens a session socket over the `ws`
 * WebSocket passed in and verifies a real signed webhook; the build's `.d.ts`
 * type-checked by tsc; and the Express quickstart (`examples/node-express/`)
 * creating a link and verifying its webhook. Skipped only where `node` is absent.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { buildNpm } from "../connect/_build_npm.ts";
import { prepareResults } from "../lib/links.ts";
import { startServer } from "./_harness.ts";
import { COMPLETE, finishLink } from "./_webhooks.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const nodeVersion = await new Deno.Command("node", { args: ["--version"], stdout: "piped" })
  .output().then((o) => new TextDecoder().decode(o.stdout).trim(), () => null);
const ignore = nodeVersion === null;
const why = ignore ? " (ignored: no `node` on PATH)" : ` (${nodeVersion})`;

async function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, cwd, env, stdout: "piped", stderr: "piped" })
    .output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")}:\n${stdout}\n${stderr}`);
  return stdout;
}

let built: Promise<string> | undefined;

/** A temp dir with the built tarball (built once per file) and `deps` installed from npm. */
async function install(deps: string[]): Promise<string> {
  const tarball = await (built ??= buildNpm());
  const dir = await Deno.makeTempDir({ prefix: "passage_node_" });
  await Deno.writeTextFile(`${dir}/package.json`, '{ "private": true, "type": "module" }\n');
  await run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball, ...deps],
    dir,
  );
  return dir;
}

Deno.test({
  name: `the npm build runs on Node: a link, a session socket over ws, a verified webhook${why}`,
  ignore,
  async fn() {
    await using server = await startServer({ allowLoopbackWebhooks: true });
    const dir = await install(["ws@^8.18.0"]);
    try {
      await Deno.copyFile(`${ROOT}tests/fixtures/node_sdk.mjs`, `${dir}/check.mjs`);
      const stdout = await run("node", ["check.mjs"], dir, {
        PASSAGE_URL: server.url,
        PASSAGE_API_KEY: server.apiKey,
        PASSAGE_ACCOUNT_ID: server.accountId,
      });
      const out = JSON.parse(stdout.trim().split("\n").at(-1)!);
      assert.equal(out.node, nodeVersion);
      assert.equal(out.link.status, "pending");
      assert.match(out.link.id, /^link_/);
      assert.deepEqual(out.listed, [out.link.id]);
      assert.equal(out.missing, "link_not_found");
      assert.equal(out.session, "ended");
      if (out.globalWebSocket === "undefined") {
        assert.match(out.withoutWebSocket, /No WebSocket implementation.*Pass one/);
      }
      assert.equal(out.test.statusCode, 204);
      assert.deepEqual(out.verified, [{
        type: "webhook.test",
        id: out.test.eventId,
        tampered: "body_mismatch",
      }]);

      // The build's .d.ts types results by operation and codes as a union.
      await Deno.copyFile(`${ROOT}tests/fixtures/node_sdk_types.ts`, `${dir}/types.ts`);
      await run(`${ROOT}connect/npm/node_modules/.bin/tsc`, [
        "--noEmit",
        "--strict",
        "--module",
        "nodenext",
        "--lib",
        "es2022,dom",
        "types.ts",
      ], dir);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: `examples/node-express creates a link and verifies its webhook over express.raw()${why}`,
  ignore,
  async fn() {
    await using server = await startServer({ allowLoopbackWebhooks: true });
    const dir = await install(["express@^5.1.0", "ws@^8.18.0"]);
    await Deno.copyFile(`${ROOT}examples/node-express/server.mjs`, `${dir}/server.mjs`);
    const app = new Deno.Command("node", {
      args: ["server.mjs"],
      cwd: dir,
      env: {
        PASSAGE_URL: server.url,
        PASSAGE_API_KEY: server.apiKey,
        PASSAGE_ACCOUNT_ID: server.accountId,
        PORT: "0",
      },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines = app.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    const nextLine = async (match: RegExp): Promise<string> => {
      for (;;) {
        const line = buffered.split("\n").find((l) => match.test(l));
        if (line) {
          buffered = buffered.slice(buffered.indexOf(line) + line.length);
          return line;
        }
        const { value, done } = await lines.read();
        if (done) throw new Error(`the app exited before printing ${match}:\n${buffered}`);
        buffered += value;
      }
    };
    try {
      const url = (await nextLine(/^listening on /)).replace("listening on ", "");
      const created = await fetch(`${url}/links`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ provider: "tmobile" }),
      });
      assert.equal(created.status, 201);
      const link = await created.json();
      assert.match(link.id, /^link_/);
      assert.ok(link.claimCode);

      // A test event first, then the link's own result webhook.
      const res = await server.api(`/v1/webhooks/test`, {
        method: "POST",
        json: { url: `${url}/passage/webhook` },
      });
      assert.equal(res.body.statusCode, 204, res.text);
      assert.deepEqual(JSON.parse(await nextLine(/"verified"/)), {
        verified: "webhook.test",
        id: res.body.eventId,
      });

      const keep = await prepareResults(server.services, link.id, COMPLETE.results!, 60_000);
      const op = server.kv.atomic();
      keep(op);
      assert.ok((await op.commit()).ok);
      await finishLink(server, link.id, COMPLETE);
      assert.deepEqual(JSON.parse(await nextLine(/"verified"/)), {
        verified: "link.completed",
        linkId: link.id,
        amountDue: "142.50",
      });

      const forged = await fetch(`${url}/passage/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json", "passage-verification": "a.b.c" },
        body: "{}",
      });
      assert.equal(forged.status, 400);
      assert.deepEqual(JSON.parse(await nextLine(/"refused"/)), { refused: "malformed_signature" });
    } finally {
      app.kill("SIGTERM");
      await app.status;
      await lines.cancel();
      await app.stderr.cancel();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
