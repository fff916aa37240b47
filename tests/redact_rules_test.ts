/**
 * The shared rule set of `@passage/connect/redact` beyond URLs: which names
 * are credentials (`isSecretParam` for URL parameters, the stricter
 * `isCredentialName` for text and JSON), free text (`redactText`), and JSON
 * values (`credentialValuesIn`, `redactCredentialFields`).
 */
import assert from "node:assert/strict";
import {
  credentialValuesIn,
  isCredentialName,
  isSecretParam,
  redactCredentialFields,
  REDACTED_SECRET as R,
  redactSecrets,
  redactText,
  redactUrl,
} from "@passage/connect/redact";

const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXg";

// ------------------------------------------------------------ names

Deno.test("isSecretParam() masks the credential parameters of OAuth, SAML, CAS and magic links", () => {
  const names = [
    "jwt",
    "ticket",
    "SAMLart",
    "SAMLResponse",
    "saml",
    "authorization",
    "bearer",
    "access",
    "refresh",
    "passcode",
    "pin",
    "ott",
    "sso",
    "nonce",
    "state",
    "csrf",
    "_csrf",
    "xsrf-token",
    "otp",
    "totp",
    "otp_code",
    "verification",
    "verification_code",
    "magic",
    "magic_link",
    "login_token",
    "code",
  ];
  for (const name of names) {
    assert.equal(isSecretParam(name), true, name);
    assert.equal(redactUrl(`https://x.test/?${name}=v1`), `https://x.test/?${name}=REDACTED`, name);
  }
});

Deno.test("isSecretParam() keeps ordinary parameters", () => {
  for (
    const name of [
      "page",
      "q",
      "id",
      "lang",
      "redirect",
      "redirect_uri",
      "return_to",
      "client_id",
      "response_type",
      "scope",
      "sort",
      "locale",
      "utm_source",
      "expires_in",
      "author",
      "passenger",
      "keyword",
    ]
  ) {
    assert.equal(isSecretParam(name), false, name);
  }
});

Deno.test("isCredentialName() knows credential keys and leaves ordinary codes, keys and states", () => {
  const yes = [
    "token",
    "access_token",
    "accessToken",
    "refresh_token",
    "id_token",
    "jwt",
    "session",
    "sessionId",
    "sid",
    "JSESSIONID",
    "secret",
    "client_secret",
    "password",
    "otp",
    "mfa_code",
    "otpCode",
    "mfaCode",
    "verificationCode",
    "sms_code",
    "auth_code",
    "apiKey",
    "privateKey",
    "csrfToken",
    "pin",
    "passcode",
    "cookie",
    "SAMLResponse",
  ];
  const no = [
    "postalCode",
    "countryCode",
    "currencyCode",
    "zipCode",
    "promoCode",
    "error_code",
    "code",
    "key",
    "publicKey",
    "sortKey",
    "state",
    "token_type",
    "tokenType",
    "expires_in",
    "passwordHint",
    "password_policy",
    "sessionTimeout",
    "session_expires_at",
    "cookieConsent",
    "author",
    "id",
    "name",
    "mfa",
  ];
  for (const name of yes) assert.equal(isCredentialName(name), true, name);
  for (const name of no) assert.equal(isCredentialName(name), false, name);
});

// ------------------------------------------------------------ redactText

Deno.test("redactText() masks URLs, bearer and basic credentials and JWTs", () => {
  assert.equal(
    redactText("GET https://x.test/cb?code=c1&page=2 failed"),
    "GET https://x.test/cb?code=REDACTED&page=2 failed",
  );
  assert.equal(redactText("Authorization: Bearer abc.def-123"), `Authorization: Bearer ${R}`);
  assert.equal(
    redactText(`authorization: bearer ${"x".repeat(20)}`),
    `authorization: bearer ${R}`,
  );
  assert.equal(redactText(`Authorization: Basic ${btoa("ada:pw1")}`), `Authorization: Basic ${R}`);
  assert.equal(redactText(`id ${JWT} end`), `id ${R} end`);
  assert.equal(
    redactText(`https://x.test/verify/${JWT}?page=1`),
    `https://x.test/verify/${R}?page=1`,
  );
});

Deno.test("redactText() masks credential name=value, name: value and JSON pairs", () => {
  assert.equal(
    redactText("login ok token=abc123; otp=123456 & page=2"),
    `login ok token=${R}; otp=${R} & page=2`,
  );
  assert.equal(
    redactText("password: hunter22, mfa_code: 918273"),
    `password: ${R}, mfa_code: ${R}`,
  );
  assert.equal(
    redactText(
      '{"access_token": "t0k3n", "expires_in": 3600, "token_type": "Bearer", "otp": 123456}',
    ),
    `{"access_token": "${R}", "expires_in": 3600, "token_type": "Bearer", "otp": ${R}}`,
  );
  assert.equal(redactText(`'sessionId':'s-99'`), `'sessionId':'${R}'`);
  // JSON held inside a JSON string
  assert.equal(redactText('"{\\"session\\":\\"s-1234\\"}"'), `"{\\"session\\":\\"${R}\\"}"`);
  assert.equal(redactText('<div data-token="abc9">'), `<div data-token="${R}">`);
  assert.equal(redactText("Set-Cookie: sid=s3ss; Path=/"), `Set-Cookie: ${R}; Path=/`);
});

Deno.test("redactText() masks credential inputs and meta tags in HTML", () => {
  assert.equal(
    redactText(
      '<input type="hidden" name="csrf_token" value="abcd1234"><input name="q" value="shoes">',
    ),
    `<input type="hidden" name="csrf_token" value="${R}"><input name="q" value="shoes">`,
  );
  assert.equal(
    redactText('<meta name="csrf-token" content="zz99"><meta name="viewport" content="width=1">'),
    `<meta name="csrf-token" content="${R}"><meta name="viewport" content="width=1">`,
  );
});

Deno.test("redactText() leaves ordinary text alone", () => {
  const texts = [
    "Error code: 404 (see the docs)",
    "Press any key: Enter",
    "Bearer tokens expire after an hour",
    "Basic plan: $10/month. Basic information",
    "state: CA, postalCode: 94107, countryCode=US, key=value",
    "at 12:30 the ratio a=b held; id=42&page=3",
    "token_type: Bearer",
    "Your session: expired",
    "https://x.test/docs?page=2#intro",
    "",
  ];
  for (const text of texts) assert.equal(redactText(text), text, text);
});

Deno.test("redactText() is idempotent", () => {
  const text = `token=a1b2 ${JWT} https://x.test/?sid=1 Bearer q.w-e1 "password":"pw11"`;
  const once = redactText(text);
  assert.notEqual(once, text);
  assert.equal(redactText(once), once);
});

// ------------------------------------------------------------ JSON values

Deno.test("credentialValuesIn() returns credential values and leaves ordinary codes", () => {
  const values = credentialValuesIn({
    access_token: "at-123456",
    token_type: "Bearer",
    expires_in: 3600,
    user: {
      name: "Ada",
      postalCode: "94107",
      countryCode: "US",
      currencyCode: "USD",
      state: "CA",
      mfa_code: "918273",
      sessionId: "sess-9999",
    },
    error: { code: "INVALID_CREDENTIALS" },
    password: "abc",
    tokens: ["tok-aaaa", "tok-bbbb"],
  });
  assert.deepEqual(values.sort(), ["918273", "at-123456", "sess-9999", "tok-aaaa", "tok-bbbb"]);
});

Deno.test("credentialValuesIn() finds JWTs and bearer tokens anywhere, and JSON held as text", () => {
  const values = credentialValuesIn({
    list: [{ note: `header Bearer zz-9876543 and ${JWT}` }],
    body: '{"refresh":"r-55555","data":{"session":"inner-7777"}}',
    session: "active",
  });
  assert.deepEqual(values.sort(), [JWT, "inner-7777", "zz-9876543"].sort());
  assert.deepEqual(credentialValuesIn("plain"), []);
  assert.deepEqual(credentialValuesIn(null), []);
});

Deno.test("credentialValuesIn() values scrub a body with redactSecrets", () => {
  const body = { token: "t-1234567", echo: "your token is t-1234567", postalCode: "94107" };
  assert.deepEqual(redactSecrets(body, credentialValuesIn(body)), {
    token: R,
    echo: `your token is ${R}`,
    postalCode: "94107",
  });
});

Deno.test("redactCredentialFields() blanks credential fields at any depth and keeps the rest", () => {
  const value = {
    user: "ada",
    auth: { refreshToken: "rt-1", expiresIn: 60, token_type: "Bearer" },
    tokens: ["a", { value: "keep", password: "p" }],
    password: 5,
    countryCode: "US",
    empty: { secret: "" },
  };
  assert.deepEqual(redactCredentialFields(value), {
    user: "ada",
    auth: { refreshToken: R, expiresIn: 60, token_type: "Bearer" },
    tokens: [R, { value: "keep", password: R }],
    password: 5,
    countryCode: "US",
    empty: { secret: "" },
  });
  assert.equal(value.auth.refreshToken, "rt-1", "the input is not changed");
});
