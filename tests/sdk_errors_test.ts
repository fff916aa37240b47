/**
 * The SDK's error codes (`connect/errors.ts`) are the server's
 * (`lib/errors.ts`): the same codes, statuses and types, checked at run time
 * and by the compiler, so the two lists cannot drift apart.
 */
import assert from "node:assert/strict";
import { API_ERRORS, type ApiErrorCode } from "@passage/connect";
import { type ErrorCode, errorCodes, PassageError } from "../lib/errors.ts";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
// A compile error here means the unions differ.
const sameCodes: Equal<Exclude<ApiErrorCode, "unexpected_response">, ErrorCode> = true;

Deno.test("API_ERRORS lists exactly the server's error codes, with their status and type", () => {
  assert.equal(sameCodes, true);
  const server = Object.fromEntries(
    errorCodes().map(([code]) => {
      const err = new PassageError(code, "x");
      return [code, { status: err.status, type: err.type }];
    }),
  );
  assert.deepEqual({ ...API_ERRORS }, server);
});
