/**
 * What the claim page (`GET /c/{code}`) and its live status
 * (`GET /c/{code}/status`) tell the person holding a claim code: who asks, for
 * what, where the session may go, and where the link or session is now, in
 * words. Read-only: looking at a code never claims, expires or changes it.
 */
import { getAccount } from "./accounts.ts";
import { logoPath } from "./account_logos.ts";
import type { OperationStatus } from "@passage/connect/schemas";
import { getProvider, OPERATION_LABELS } from "../automations/catalog.ts";
import { formatClaimCode } from "./claim_codes.ts";
import type { Config } from "./config.ts";
import type { Services } from "./services.ts";
import { findByClaimCode } from "./claims.ts";
import { claimUrl, type SessionRecord } from "./sessions.ts";
import type { LinkRecord } from "./links.ts";

/** Every state the page has its own words for. */
export type ClaimState =
  | "pending"
  | "claimed"
  | "running"
  | "complete"
  | "failed"
  | "expired"
  | "cancelled"
  | "active"
  | "ended"
  | "not_found";

/** Everything the page shows, and nothing more (no results, no ids). */
export interface ClaimView {
  /** A Connect link, a Sessions API session, or nothing behind the code. */
  kind: "link" | "session" | "none";
  state: ClaimState;
  /** 200 while the code can be or is being used, 410 once it is over, 404 for no code. */
  httpStatus: 200 | 404 | 410;
  /** True when nothing will change any more (the page stops polling). */
  final: boolean;
  /** Who asks: the link's or session's `appName`, else `PASSAGE_APP_NAME`, else "An app". */
  appName: string;
  /** The same in the middle of a sentence: the name, or "the app". */
  appMention: string;
  /** The owning account's logo (served from this origin) and its alt text, the app's name. */
  logo: { src: string; alt: string } | null;
  /** The code in display form, while it can still be claimed. */
  claimCode: string | null;
  /** The page's own URL, while the code can still be claimed. */
  claimUrl: string | null;
  /** The provider's display name, for links. */
  providerName: string | null;
  /** What will be read, in words, with where each read is. */
  operations: Array<{ label: string; status: OperationStatus }>;
  /** Where the session may go; null: any website. Empty for no code. */
  allowedOrigins: string[] | null;
  /** When an unclaimed code expires (ISO 8601); null for no code. */
  expiresAt: string | null;
  /** The page's `<title>` (without " · Passage"). */
  title: string;
  /** The page's heading. */
  headline: string;
  /** Where things are, in a sentence or two. */
  message: string;
}

/** The body of `GET /c/{code}/status`: what the page shows of the state, as JSON. */
export interface ClaimStatus {
  object: "claim_status";
  kind: ClaimView["kind"];
  state: ClaimState;
  final: boolean;
  headline: string;
  message: string;
  operations: ClaimView["operations"];
}

/** Why a link failed, in words a person understands, by `link.error.code`. */
export function failureReason(code: string | undefined, provider: string, app: string): string {
  switch (code) {
    case "invalid_credentials":
      return `${provider} did not accept the username or password.`;
    case "mfa_timeout":
      return `The verification code step was not finished in time.`;
    case "account_locked":
      return `${provider} says your account is locked. Unlock it with ${provider} first.`;
    case "site_changed":
      return `${provider}'s website has changed and Passage could not read it. This is not your fault.`;
    case "user_abandoned":
      return `The login to ${provider} was not finished in time.`;
    case "device_lost":
      return `The device running this link went offline before it finished.`;
    case "device_never_connected":
      return `No device connected to run this link in time.`;
    case "provider_unavailable":
      return `Passage cannot read from ${provider} right now.`;
    case "operation_failed":
      return `${provider} answered with an error while your data was being read.`;
    default:
      return `Something went wrong while connecting to ${provider} for ${app}.`;
  }
}

/** Why a Sessions API session ended, in words, by its `endReason`. */
function endReasonText(reason: string | null, subject: string): string {
  switch (reason) {
    case "completed":
    case "ended_by_developer":
      return `${subject} ended the session.`;
    case "idle_timeout":
      return "It ended after a while without activity.";
    case "max_duration":
      return "It reached its time limit.";
    case "device_lost":
      return "The device it ran on went offline.";
    case "cancelled":
      return "It was cancelled.";
    case "failed":
      return "It could not be completed.";
    default:
      return "It is over.";
  }
}

const NOT_FOUND: Omit<ClaimView, keyof AppNames> = {
  kind: "none",
  state: "not_found",
  httpStatus: 404,
  final: true,
  claimCode: null,
  claimUrl: null,
  providerName: null,
  operations: [],
  allowedOrigins: [],
  expiresAt: null,
  title: "Link not found",
  headline: "Link not found",
  message: "There is no link with this code. Check the address or the code and try again.",
};

/** What the page behind `code` shows now. */
export async function readClaimView(
  svc: Pick<Services, "kv" | "clock"> & { readonly config: Pick<Config, "publicUrl" | "appName"> },
  code: string,
): Promise<ClaimView> {
  const { kv, config } = svc;
  const now = svc.clock.now();
  const found = code.length <= 64 ? await findByClaimCode(kv, code) : null;
  const own = found?.link?.appName ?? found?.session.appName;
  // The account's logo, and its app name for a link or session created without one.
  const account = found?.session.accountId ? await getAccount(kv, found.session.accountId) : null;
  const name = (own ?? account?.appName ?? config.appName) || null;
  const logo = account?.logo
    ? { src: logoPath(account.logo), alt: account.appName ?? name ?? account.name }
    : null;
  const app: AppNames = { appName: name ?? "An app", appMention: name ?? "the app", logo };
  if (!found) return { ...NOT_FOUND, ...app };
  const { session, link } = found;
  return link
    ? linkView(link, session, app, config.publicUrl, now)
    : sessionView(session, app, config.publicUrl, now);
}

/** Who asks, at the start of a sentence and within one. */
type AppNames = Pick<ClaimView, "appName" | "appMention" | "logo">;

function linkView(
  link: LinkRecord,
  session: SessionRecord,
  names: AppNames,
  publicUrl: string,
  now: number,
): ClaimView {
  const provider = getProvider(link.provider)?.displayName ?? link.provider;
  const app = names.appMention;
  const state: ClaimState = link.status === "pending" && Date.parse(link.expiresAt) <= now
    ? "expired"
    : link.status;
  const pending = state === "pending";
  const words: Record<string, [string, string]> = {
    pending: [
      `${names.appName} wants to connect your ${provider} account`,
      "Nothing happens until you continue on a device.",
    ],
    claimed: [
      "Opened on a device",
      `This link has already been opened on a device. Log in to ${provider} there to continue.`,
    ],
    running: [
      `Connecting your ${provider} account`,
      `This link is in use on a device right now. Follow the steps there.`,
    ],
    complete: [
      "All done",
      `This link has been completed: ${app} received what it asked for. You can close this page.`,
    ],
    failed: [
      "This link could not be completed",
      `${
        failureReason(link.error?.code, provider, app)
      } No data from your account was sent to ${app}. Ask ${app} for a new link to try again.`,
    ],
    expired: [
      "This link has expired",
      `It was not used in time, and nothing was shared. Ask ${app} for a new link.`,
    ],
    cancelled: [
      "This link was cancelled",
      `The app that sent it cancelled it, and nothing was shared. You can close this page.`,
    ],
  };
  const [headline, message] = words[state];
  return {
    kind: "link",
    title: pending ? `Connect your ${provider} account` : headline,
    state,
    httpStatus: pending || state === "claimed" || state === "running" ? 200 : 410,
    final: !pending && state !== "claimed" && state !== "running",
    ...names,
    claimCode: pending ? formatClaimCode(link.claimCode) : null,
    claimUrl: pending ? claimUrl(publicUrl, link.claimCode) : null,
    providerName: provider,
    operations: link.operations.map((op) => ({
      label: OPERATION_LABELS[op.type] ?? op.type,
      status: op.status,
    })),
    allowedOrigins: session.allowedOrigins ?? null,
    expiresAt: link.expiresAt,
    headline,
    message,
  };
}

function sessionView(
  session: SessionRecord,
  names: AppNames,
  publicUrl: string,
  now: number,
): ClaimView {
  const state: ClaimState = session.status === "pending" && Date.parse(session.expiresAt) <= now
    ? "expired"
    : session.status === "ended" && session.endReason === "expired"
    ? "expired"
    : session.status;
  const pending = state === "pending";
  const app = names.appMention;
  const words: Record<string, [string, string]> = {
    pending: [
      `${names.appName} wants to open a browser session on your device`,
      "Nothing happens until you continue on a device.",
    ],
    active: [
      "A browser session is open",
      "This session is in use on a device right now. You stay in control there.",
    ],
    ended: [
      "This session has ended",
      `${endReasonText(session.endReason, appSubject(names))} You can close this page.`,
    ],
    expired: [
      "This session has expired",
      `It was not used in time, and nothing was shared. Ask ${app} for a new link.`,
    ],
  };
  const [headline, message] = words[state];
  return {
    kind: "session",
    title: pending ? "Open a browser session" : headline,
    state,
    httpStatus: pending || state === "active" ? 200 : 410,
    final: !pending && state !== "active",
    ...names,
    claimCode: pending ? formatClaimCode(session.claimCode) : null,
    claimUrl: pending ? claimUrl(publicUrl, session.claimCode) : null,
    providerName: null,
    operations: [],
    allowedOrigins: session.allowedOrigins ?? null,
    expiresAt: session.expiresAt,
    headline,
    message,
  };
}

/** Who asks, as the subject of a sentence that is not the first: the name, or "The app". */
export function appSubject(names: AppNames): string {
  return names.appName === "An app" && names.appMention === "the app"
    ? "The app"
    : names.appMention;
}

/** The status endpoint's answer for a view. */
export function toClaimStatus(view: ClaimView): ClaimStatus {
  return {
    object: "claim_status",
    kind: view.kind,
    state: view.state,
    final: view.final,
    headline: view.headline,
    message: view.message,
    operations: view.operations,
  };
}
