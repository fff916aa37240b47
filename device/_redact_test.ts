import assert from "node:assert/strict";
import { isSecretParam, redactUrl, redactUrlsInText } from "./_redact.ts";

Deno.test("redactUrl() masks credential query parameters and keeps the rest", () => {
  assert.equal(
    redactUrl("https://x.test/cb?code=abc&state=xyz&Password=p%20w&api_key=k&page=2"),
    "https://x.test/cb?code=REDACTED&state=xyz&Password=REDACTED&api_key=REDACTED&page=2",
  );
});

Deno.test("redactUrl() masks names that contain or are made of credential words", () => {
  for (
    const name of ["client_secret", "authToken", "X-Amz-Signature", "JSESSIONID", "code_verifier"]
  ) {
    assert.equal(redactUrl(`https://x.test/?${name}=v`), `https://x.test/?${name}=REDACTED`, name);
  }
  for (const name of ["author", "keyword", "q", "state", "passenger"]) {
    assert.equal(redactUrl(`https://x.test/?${name}=v`), `https://x.test/?${name}=v`, name);
  }
});

Deno.test("redactUrl() masks fragment tokens and drops userinfo", () => {
  assert.equal(
    redactUrl("https://user:pw@x.test/cb#access_token=t&token_type=bearer&expires_in=3600"),
    "https://x.test/cb#access_token=REDACTED&token_type=REDACTED&expires_in=3600",
  );
  assert.equal(redactUrl("https://x.test/#/route?otp=123"), "https://x.test/#/route?otp=REDACTED");
  assert.equal(redactUrl("https://x.test/#section"), "https://x.test/#section");
});

Deno.test("redactUrl() leaves empty values, other schemes and plain paths alone", () => {
  assert.equal(redactUrl("https://x.test/?token=&a"), "https://x.test/?token=&a");
  assert.equal(redactUrl("data:text/plain,token=1"), "data:text/plain,token=1");
  assert.equal(redactUrl("about:blank"), "about:blank");
});

Deno.test("redactUrl() cuts URLs to 8192 characters", () => {
  assert.equal(redactUrl(`https://x.test/?q=${"a".repeat(10_000)}`).length, 8192);
});

Deno.test("redactUrlsInText() redacts every URL in a message", () => {
  assert.equal(
    redactUrlsInText("net::ERR_FAILED at https://x.test/?sid=1 (from http://y.test/?key=2)"),
    "net::ERR_FAILED at https://x.test/?sid=REDACTED (from http://y.test/?key=REDACTED)",
  );
});

Deno.test("isSecretParam() is case-insensitive", () => {
  assert.equal(isSecretParam("MFA"), true);
  assert.equal(isSecretParam("Sig"), true);
  assert.equal(isSecretParam("lang"), false);
});
