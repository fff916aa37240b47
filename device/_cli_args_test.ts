import assert from "node:assert/strict";
import { HelpRequested, parseCliArgs } from "./_cli_args.ts";
import { findBrowser } from "./_browser.ts";

const env = (vars: Record<string, string> = {}) => ({ get: (name: string) => vars[name] });

Deno.test("parseCliArgs() takes the server and code from a claim URL", () => {
  assert.deepEqual(parseCliArgs(["http://localhost:8000/c/K7QD2-9XW4M"], env()), {
    server: "http://localhost:8000",
    claimCode: "K7QD2-9XW4M",
    headless: false,
    allowPrivateOrigins: [],
  });
  assert.deepEqual(parseCliArgs(["https://p.example/passage/c/K7QD2-9XW4M/"], env()), {
    server: "https://p.example/passage",
    claimCode: "K7QD2-9XW4M",
    headless: false,
    allowPrivateOrigins: [],
  });
});

Deno.test("parseCliArgs() finds the server of a bare code in --server, then the environment", () => {
  assert.deepEqual(parseCliArgs(["K7QD2", "--server", "http://a.test/"], env()), {
    server: "http://a.test",
    claimCode: "K7QD2",
    headless: false,
    allowPrivateOrigins: [],
  });
  assert.deepEqual(parseCliArgs(["--server=http://b.test", "K7QD2"], env()), {
    server: "http://b.test",
    claimCode: "K7QD2",
    headless: false,
    allowPrivateOrigins: [],
  });
  assert.deepEqual(parseCliArgs(["K7QD2"], env({ PASSAGE_PUBLIC_URL: "http://c.test" })), {
    server: "http://c.test",
    claimCode: "K7QD2",
    headless: false,
    allowPrivateOrigins: [],
  });
  assert.deepEqual(parseCliArgs(["K7QD2"], env()), {
    server: "http://localhost:8000",
    claimCode: "K7QD2",
    headless: false,
    allowPrivateOrigins: [],
  });
});

Deno.test("parseCliArgs() refuses missing, extra and unknown arguments", () => {
  assert.throws(() => parseCliArgs([], env()), /A claim URL or code is needed/);
  assert.throws(() => parseCliArgs(["a", "b"], env()), /One claim at a time/);
  assert.throws(() => parseCliArgs(["--help"], env()), HelpRequested);
  assert.throws(() => parseCliArgs(["a", "--verbose"], env()), /Unknown option --verbose/);
  assert.throws(() => parseCliArgs(["a", "--server"], env()), /--server needs a URL/);
  assert.throws(() => parseCliArgs(["a", "--server", "ftp://x"], env()), /http\(s\) URL/);
});

Deno.test("parseCliArgs() collects the private origins the device may open", () => {
  assert.deepEqual(
    parseCliArgs([
      "K7QD2",
      "--allow-private-origin",
      "http://127.0.0.1:3000/app",
      "--allow-private-origin=http://router.lan",
    ], env()).allowPrivateOrigins,
    ["http://127.0.0.1:3000", "http://router.lan"],
  );
  assert.throws(
    () => parseCliArgs(["K7QD2", "--allow-private-origin", "router.lan"], env()),
    /needs an http\(s\) URL/,
  );
});

Deno.test("parseCliArgs() takes --headless and the browser from --browser, then PASSAGE_BROWSER", () => {
  const parsed = parseCliArgs(["K7QD2", "--headless", "--browser", "/opt/chrome"], env());
  assert.equal(parsed.headless, true);
  assert.equal(parsed.executablePath, "/opt/chrome");
  assert.equal(
    parseCliArgs(["K7QD2"], env({ PASSAGE_BROWSER: "/usr/bin/brave" })).executablePath,
    "/usr/bin/brave",
  );
  assert.equal(parseCliArgs(["K7QD2"], env()).executablePath, undefined);
  assert.throws(() => parseCliArgs(["K7QD2", "--browser"], env()), /--browser needs/);
});

Deno.test("findBrowser() looks where Chrome and Chromium install on Linux, macOS and Windows", () => {
  const only = (path: string) => (p: string) => p === path;
  assert.equal(
    findBrowser("linux", env(), only("/usr/bin/google-chrome")),
    "/usr/bin/google-chrome",
  );
  assert.equal(
    findBrowser("darwin", env(), only("/Applications/Chromium.app/Contents/MacOS/Chromium")),
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
  );
  const local = "C:\\Users\\ada\\AppData\\Local";
  assert.equal(
    findBrowser(
      "windows",
      env({ LOCALAPPDATA: local }),
      only(`${local}\\Google\\Chrome\\Application\\chrome.exe`),
    ),
    `${local}\\Google\\Chrome\\Application\\chrome.exe`,
  );
  assert.equal(findBrowser("linux", env(), () => false), null);
});
