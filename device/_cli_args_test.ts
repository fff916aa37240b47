import assert from "node:assert/strict";
import { parseCliArgs } from "./_cli_args.ts";

const env = (vars: Record<string, string> = {}) => ({ get: (name: string) => vars[name] });

Deno.test("parseCliArgs() takes the server and code from a claim URL", () => {
  assert.deepEqual(parseCliArgs(["http://localhost:8000/c/K7QD2-9XW4M"], env()), {
    server: "http://localhost:8000",
    claimCode: "K7QD2-9XW4M",
  });
  assert.deepEqual(parseCliArgs(["https://p.example/passage/c/K7QD2-9XW4M/"], env()), {
    server: "https://p.example/passage",
    claimCode: "K7QD2-9XW4M",
  });
});

Deno.test("parseCliArgs() finds the server of a bare code in --server, then the environment", () => {
  assert.deepEqual(parseCliArgs(["K7QD2", "--server", "http://a.test/"], env()), {
    server: "http://a.test",
    claimCode: "K7QD2",
  });
  assert.deepEqual(parseCliArgs(["--server=http://b.test", "K7QD2"], env()), {
    server: "http://b.test",
    claimCode: "K7QD2",
  });
  assert.deepEqual(parseCliArgs(["K7QD2"], env({ PASSAGE_PUBLIC_URL: "http://c.test" })), {
    server: "http://c.test",
    claimCode: "K7QD2",
  });
  assert.deepEqual(parseCliArgs(["K7QD2"], env()), {
    server: "http://localhost:8000",
    claimCode: "K7QD2",
  });
});

Deno.test("parseCliArgs() refuses missing, extra and unknown arguments", () => {
  assert.throws(() => parseCliArgs([], env()), /Usage/);
  assert.throws(() => parseCliArgs(["a", "b"], env()), /Usage/);
  assert.throws(() => parseCliArgs(["a", "--verbose"], env()), /Unknown option --verbose/);
  assert.throws(() => parseCliArgs(["a", "--server"], env()), /--server needs a URL/);
  assert.throws(() => parseCliArgs(["a", "--server", "ftp://x"], env()), /http\(s\) URL/);
});
