/**
 * The sandbox sites over plain HTTP, on the real server: the magic
 * credentials, the wrong-password, locked and MFA paths, the cookie session,
 * and the 401 every API answers without it. Every provider is checked.
 */
import assert from "node:assert/strict";
import { listProviders } from "../automations/registry.ts";
import { SANDBOX_SITES, type SandboxSiteSpec } from "../automations/sandbox/mod.ts";
import { type ApiInit, request, startServer, type TestServer } from "./_harness.ts";

/** The paths a site registers, read by running its `routes` against a recorder. */
function pathsOf(spec: SandboxSiteSpec) {
  const apis = ["/api/account"];
  const pages = [""]; // the account home is the base path itself
  spec.routes({
    base: `/sandbox/${spec.id}`,
    api: (path) => void apis.push(path),
    page: (path) => void pages.push(path),
    jsonPage: (path) => void pages.push(path),
  });
  return { apis, pages };
}

/** `name=value` of the cookie a response sets, with its attributes. */
function setCookie(headers: Headers): { pair: string; attributes: string } | null {
  const line = headers.getSetCookie()[0];
  if (!line) return null;
  const [pair, ...rest] = line.split(";");
  return { pair: pair.trim(), attributes: rest.join(";") };
}

function form(fields: Record<string, string>): ApiInit {
  return { method: "POST", body: new URLSearchParams(fields), redirect: "manual" };
}

/** Logs in as `username` with the right password and code; returns the session cookie. */
async function logIn(server: TestServer, id: string, username = "user_good"): Promise<string> {
  const base = `${server.url}/sandbox/${id}`;
  const login = await request(`${base}/login`, form({ username, password: "pass_good" }));
  assert.equal(login.status, 303, login.text);
  const pending = setCookie(login.headers)!.pair;
  const mfa = await request(`${base}/mfa`, {
    ...form({ code: "1234" }),
    headers: { cookie: pending },
  });
  assert.equal(mfa.status, 303, mfa.text);
  return setCookie(mfa.headers)!.pair;
}

Deno.test("every registered provider has a sandbox site, and every site a provider", () => {
  assert.deepEqual(
    SANDBOX_SITES.map((s) => s.id).sort(),
    listProviders().map((p) => p.id).sort(),
  );
});

for (const spec of SANDBOX_SITES) {
  const { apis, pages } = pathsOf(spec);

  Deno.test(`${spec.id} sandbox: the login page shows ${spec.name} and its form`, async () => {
    await using server = await startServer();
    const res = await request(`${server.url}/sandbox/${spec.id}/login`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(res.text, new RegExp(`<title>[^<]*${escape(spec.name)}[^<]*</title>`));
    assert.ok(res.text.includes(spec.color), "the page uses the provider's colour");
    for (const id of ["username", "password", "submit"]) {
      assert.match(res.text, new RegExp(`id="${id}"`));
    }
    assert.match(res.text, /id="password"[^>]*type="password"/);
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.doesNotMatch(res.text, /(src|href)="https?:/, "no external resources");
  });

  Deno.test(`${spec.id} sandbox: a wrong password shows an error and sets no cookie`, async () => {
    await using server = await startServer();
    const base = `${server.url}/sandbox/${spec.id}`;
    for (const [username, password] of [["user_good", "nope"], ["someone", "pass_good"]]) {
      const res = await request(`${base}/login`, form({ username, password }));
      assert.equal(res.status, 401);
      assert.match(res.text, /id="login-error"/);
      assert.equal(setCookie(res.headers), null);
    }
  });

  Deno.test(`${spec.id} sandbox: user_locked gets the locked-account page`, async () => {
    await using server = await startServer();
    const res = await request(
      `${server.url}/sandbox/${spec.id}/login`,
      form({ username: "user_locked", password: "pass_good" }),
    );
    assert.equal(res.status, 403);
    assert.match(res.text, /id="account-locked"/);
    assert.doesNotMatch(res.text, /id="mfa-code"/);
  });

  Deno.test(`${spec.id} sandbox: the password leads to MFA; a wrong code can be retried`, async () => {
    await using server = await startServer();
    const base = `${server.url}/sandbox/${spec.id}`;
    const login = await request(
      `${base}/login`,
      form({ username: "user_good", password: "pass_good" }),
    );
    assert.equal(login.status, 303);
    assert.equal(login.headers.get("location"), `/sandbox/${spec.id}/mfa`);
    const pending = setCookie(login.headers)!;
    assert.match(pending.attributes, /HttpOnly/i);
    assert.match(pending.attributes, new RegExp(`Path=/sandbox/${spec.id}(;|$)`, "i"));

    const page = await request(`${base}/mfa`, { headers: { cookie: pending.pair } });
    assert.equal(page.status, 200);
    assert.match(page.text, /id="mfa-code"/);
    assert.match(page.text, /id="mfa-submit"/);
    // half-way through the login is not logged in
    const early = await request(`${base}/api/account`, { headers: { cookie: pending.pair } });
    assert.equal(early.status, 401);

    const wrong = await request(`${base}/mfa`, {
      ...form({ code: "0000" }),
      headers: { cookie: pending.pair },
    });
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /id="mfa-error"/);
    assert.match(wrong.text, /id="mfa-code"/, "the user can try again");

    const right = await request(`${base}/mfa`, {
      ...form({ code: "1234" }),
      headers: { cookie: pending.pair },
    });
    assert.equal(right.status, 303);
    assert.equal(right.headers.get("location"), `/sandbox/${spec.id}`);
    const session = setCookie(right.headers)!;
    assert.match(session.attributes, /HttpOnly/i);
    const account = await request(`${base}/api/account`, { headers: { cookie: session.pair } });
    assert.equal(account.status, 200);
    assert.equal(typeof account.body, "object");
  });

  Deno.test(`${spec.id} sandbox: every API answers 401 and every page redirects without a session`, async () => {
    await using server = await startServer();
    const base = `${server.url}/sandbox/${spec.id}`;
    const session = await logIn(server, spec.id);
    const [name, value] = session.split("=");
    const forged = `${name}=${value.replace(/^[^.:]+/, "session")}`.replace(/good/, "changed");
    for (const path of apis) {
      for (const cookie of [undefined, forged, `${name}=garbage`]) {
        const res = await request(`${base}${path}`, { headers: cookie ? { cookie } : {} });
        assert.equal(res.status, 401, `${path} with ${cookie ?? "no cookie"}`);
        assert.equal(res.body.error, "unauthorized");
      }
      const ok = await request(`${base}${path}`, { headers: { cookie: session } });
      assert.equal(ok.status, 200, `${path} with the session`);
    }
    for (const path of pages) {
      const res = await request(`${base}${path}`, { redirect: "manual" });
      assert.equal(res.status, 303, path);
      assert.equal(res.headers.get("location"), `/sandbox/${spec.id}/login`);
      const ok = await request(`${base}${path}`, { headers: { cookie: session } });
      assert.equal(ok.status, 200, `${path} with the session`);
      assert.match(ok.text, /id="main"/);
    }
  });

  Deno.test(`${spec.id} sandbox: user_changed logs in the same way and gets other data`, async () => {
    await using server = await startServer();
    const base = `${server.url}/sandbox/${spec.id}`;
    const good = await logIn(server, spec.id, "user_good");
    const changed = await logIn(server, spec.id, "user_changed");
    for (const path of apis) {
      const a = await request(`${base}${path}`, { headers: { cookie: good } });
      const b = await request(`${base}${path}`, { headers: { cookie: changed } });
      assert.equal(b.status, 200);
      assert.notDeepEqual(a.body, b.body, `${path} should differ for user_changed`);
    }
  });

  Deno.test(`${spec.id} sandbox: logging out ends the session`, async () => {
    await using server = await startServer();
    const base = `${server.url}/sandbox/${spec.id}`;
    const session = await logIn(server, spec.id);
    const out = await request(`${base}/logout`, {
      headers: { cookie: session },
      redirect: "manual",
    });
    assert.equal(out.status, 303);
    assert.match(out.headers.getSetCookie()[0] ?? "", /Max-Age=0/i);
  });
}

Deno.test("the sandbox sites look different from one another", async () => {
  await using server = await startServer();
  const titles = new Set<string>();
  const colours = new Set<string>();
  for (const spec of SANDBOX_SITES) {
    const res = await request(`${server.url}/sandbox/${spec.id}/login`);
    titles.add(/<title>([^<]*)<\/title>/.exec(res.text)![1]);
    colours.add(/--brand:\s*([^;]+);/.exec(res.text)![1].trim());
  }
  assert.equal(titles.size, SANDBOX_SITES.length);
  assert.equal(colours.size, SANDBOX_SITES.length);
});

Deno.test("GET /sandbox lists every sandbox site", async () => {
  await using server = await startServer();
  const res = await request(`${server.url}/sandbox`);
  assert.equal(res.status, 200);
  for (const spec of SANDBOX_SITES) assert.ok(res.text.includes(`/sandbox/${spec.id}/login`));
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\&]/g, (c) => (c === "&" ? "&(amp;)?" : `\\${c}`));
}
