/**
 * How operations read a logged-in site through the device's browser: the
 * JSON a page loads (captured as the page loads it), a JSON endpoint fetched
 * from inside the page with the page's own cookies, or a page's HTML parsed
 * here with linkedom. Cookies never leave the device: only response bodies do.
 *
 * Everything read is checked twice: against the site's own shape (a zod
 * schema per site) and, once mapped, against the operation's result schema.
 * Either failing is `site_changed`; nothing unvalidated is ever returned.
 *
 * @module
 */
import { parseHTML } from "linkedom";
import type { z } from "zod";
import { type OperationResults, resultSchemas } from "@passage/connect/results";
import type { OperationType } from "@passage/connect/schemas";
import { maskEmail, maskPhone } from "./_parse.ts";
import {
  type AutomationContext,
  AutomationError,
  type OperationRunner,
  toAutomationError,
} from "./types.ts";

/** Where a JSON page's data comes from. */
export interface JsonPage {
  /** The page a user would open: `"/bill"`. */
  pagePath: string;
  /** The JSON request that page makes: `"/api/billing/current"`. */
  apiPath: string;
  /** What is being read, a noun for error messages: `"bill"`. */
  what: string;
}

/**
 * Opens a page and returns the JSON body of the API request it makes while
 * loading (`captureResponses`, `navigate` until the network is idle,
 * `readCapturedResponses`), parsed with the site's `schema`.
 */
export async function readPageJson<T>(
  ctx: AutomationContext,
  page: JsonPage,
  schema: z.ZodType<T>,
): Promise<T> {
  const api = `${ctx.baseUrl}${page.apiPath}`;
  let responses;
  try {
    await ctx.browser.captureResponses({ urlContains: api });
    await ctx.browser.navigate({ url: `${ctx.baseUrl}${page.pagePath}`, waitUntil: "networkidle" });
    responses = await ctx.browser.readCapturedResponses({ urlContains: api });
  } catch (error) {
    throw toAutomationError(error, `reading the ${page.what}`);
  }
  const last = responses.at(-1);
  if (!last) {
    throw new AutomationError(
      "site_changed",
      `The page ${page.pagePath} no longer loads the ${page.what} from ${page.apiPath}`,
    );
  }
  return parseBody(last.status, last.responseBody, page.apiPath, page.what, schema);
}

/**
 * Fetches a JSON endpoint through the device (same origin, the page's
 * cookies; the `fetch` command) and returns its body, parsed with the site's `schema`. `what` is
 * a noun for error messages: `"payment methods"`.
 */
export async function fetchJson<T>(
  ctx: AutomationContext,
  apiPath: string,
  schema: z.ZodType<T>,
  what: string,
): Promise<T> {
  const url = `${ctx.baseUrl}${apiPath}`;
  let answer: { status: number; body: string };
  try {
    answer = await ctx.browser.fetch({ url, accept: "application/json" });
  } catch (error) {
    throw toAutomationError(error, `reading the ${what}`);
  }
  return parseBody(answer.status, answer.body, apiPath, what, schema);
}

/** A JSON answer's body, parsed and checked with the site's schema; `site_changed` if it is not that. */
function parseBody<T>(
  status: number,
  body: string | undefined,
  apiPath: string,
  what: string,
  schema: z.ZodType<T>,
): T {
  if (status === 401 || status === 403) {
    throw new AutomationError(
      "operation_failed",
      `${apiPath} answered ${status}: the site no longer sees the user as logged in`,
    );
  }
  if (status < 200 || status > 299) {
    throw new AutomationError("operation_failed", `${apiPath} answered ${status} for the ${what}`);
  }
  if (body === undefined) {
    throw new AutomationError("operation_failed", `The body of ${apiPath} could not be read`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new AutomationError("site_changed", `${apiPath} no longer answers JSON for the ${what}`);
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new AutomationError(
    "site_changed",
    `The site's ${what} no longer has the expected shape: ${describeIssue(parsed.error)}`,
  );
}

/** The account holder as a site shows them, for `accountOwnership:verify`. */
export interface AccountHolder {
  name: string;
  /** Unmasked: the result only ever carries it masked. */
  email?: string;
  /** Unmasked: the result only ever carries its last 4 digits. */
  phone?: string;
  /** When the account was opened, `YYYY-MM-DD`. */
  since: string;
}

/**
 * `accountOwnership:verify` for a site whose account JSON is at
 * `/api/account` (the request its login waits for): `holder` picks the
 * holder out of the account, which `schema` checked.
 */
export function verifyAccount<T>(
  schema: z.ZodType<T>,
  holder: (account: T) => AccountHolder,
): OperationRunner<"accountOwnership:verify"> {
  return async (ctx) => {
    const { name, email, phone, since } = holder(
      await fetchJson(ctx, "/api/account", schema, "account"),
    );
    return checkedResult("accountOwnership:verify", {
      verified: true,
      accountHolderName: name,
      ...(email ? { emailMasked: maskEmail(email, "the email") } : {}),
      ...(phone ? { phoneMasked: maskPhone(phone, "the phone") } : {}),
      accountCreatedAt: since,
    });
  };
}

/** The part of a linkedom element the automations use. */
export interface HtmlElement {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): HtmlElement | null;
  querySelectorAll(selector: string): ArrayLike<HtmlElement> & Iterable<HtmlElement>;
}

/**
 * Opens a page and returns the element matching `selector`, parsed here with
 * linkedom from the device's `innerHTML` (which never includes what the user
 * typed into fields).
 */
export async function readPageHtml(
  ctx: AutomationContext,
  pagePath: string,
  selector: string,
  what: string,
): Promise<HtmlElement> {
  let html: string;
  try {
    await ctx.browser.navigate({ url: `${ctx.baseUrl}${pagePath}` });
    html = await ctx.browser.innerHTML({ selector });
  } catch (error) {
    throw toAutomationError(error, `reading ${what}`);
  }
  return parseFragment(html);
}

/** Parses an HTML fragment with linkedom and returns its container element. */
export function parseFragment(html: string): HtmlElement {
  const { document } = parseHTML(
    `<!doctype html><html><body><div id="passage-root">${html}</div></body></html>`,
  ) as unknown as { document: HtmlElement };
  return document.querySelector("#passage-root")!;
}

/** The trimmed, whitespace-collapsed text of the element matching `selector`; `site_changed` if none. */
export function textOf(root: HtmlElement, selector: string, what: string): string {
  const element = root.querySelector(selector);
  const text = element?.textContent?.replace(/\s+/g, " ").trim();
  if (!text) {
    throw new AutomationError("site_changed", `The page no longer shows ${what} (${selector})`);
  }
  return text;
}

/** Validates a mapped result with its operation's schema; a mismatch is `site_changed`. */
export function checkedResult<K extends OperationType>(
  type: K,
  value: OperationResults[K],
): OperationResults[K] {
  const parsed = (resultSchemas[type] as z.ZodType<OperationResults[K]>).safeParse(value);
  if (parsed.success) return parsed.data;
  throw new AutomationError(
    "site_changed",
    `What the site shows no longer makes a valid ${type} result: ${describeIssue(parsed.error)}`,
  );
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue.path.map(String).join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}
