/**
 * URL masking as the device applies it: `redactUrl` and `redactUrlsInText`
 * from `@passage/connect/redact`, under the `urls` rule. With the rule off
 * (tests only), URLs are only cut to the protocol's length.
 *
 * @module
 */
import { MAX_URL_LENGTH, redactUrl, redactUrlsInText } from "@passage/connect/redact";
import { isRuleOn } from "./_rules.ts";

/** A URL as the device may send it. */
export function maskUrl(url: string): string {
  if (isRuleOn("urls")) return redactUrl(url);
  return url.length > MAX_URL_LENGTH ? url.slice(0, MAX_URL_LENGTH) : url;
}

/** Free text (an error or console message) with the URLs in it masked. */
export function maskUrlsInText(text: string): string {
  return isRuleOn("urls") ? redactUrlsInText(text) : text;
}
