import { retryLockedCommits } from "./kv_retry.ts";
import { type NativeApps, readNativeApps } from "./native_apps.ts";
import { readSignInProviders, type SignInProvider } from "./auth/providers.ts";

/**
 * Runtime configuration, read once from environment variables and frozen
 * before the app is built (`freezeConfig`): nothing changes it after load.
 */
export interface Config {
  /** Port `Deno.serve` listens on. */
  port: number;
  /** Base of every URL the API hands out, without a trailing slash. */
  publicUrl: string;
  /**
   * Where the KV store lives: a file path, `:memory:`, a KV Connect URL
   * (`https://…`, opened remotely with `DENO_KV_ACCESS_TOKEN`), or `undefined`
   * for `Deno.openKv()` with no argument (Deno Deploy's managed KV).
   */
  kvPath: string | undefined;
  /** Default lifetime of an unclaimed link's claim code, in seconds. */
  linkTtlSeconds: number;
  /** Lifetime of the device token a claim hands out, in seconds. */
  deviceTokenTtlSeconds: number;
  /** Failed claim attempts allowed per client address per window. */
  claimAttemptsPerWindow: number;
  /** Length of that window, in seconds. */
  claimAttemptWindowSeconds: number;
  /** Default seconds without a command before a session ends. */
  sessionIdleTimeoutSeconds: number;
  /** Default longest a session may last, in seconds. */
  sessionMaxDurationSeconds: number;
  /** How long a session waits for a dropped device to come back, in seconds. */
  deviceGraceSeconds: number;
  /** How long telemetry, results and commands are kept, in seconds. */
  telemetryRetentionSeconds: number;
  /**
   * How often the relay's safety net (one per isolate) re-reads the heads of the sessions it
   * follows, in milliseconds: what carries wake-ups between processes on one SQLite file.
   */
  relayPollMs: number;
  /** Whether KV queues wake workers (false on new Deno Deploy, which has none). */
  useQueues: boolean;
  /** How long command results (and the response bodies they captured) are kept, in seconds. */
  captureRetentionSeconds: number;
  /** How long a finished link's results stay readable, in seconds. */
  resultRetentionSeconds: number;
  /** How long the user has to log in before a link fails, in milliseconds. */
  loginTimeoutMs: number;
  /**
   * Whether webhooks may be sent to loopback addresses (127.0.0.0/8, ::1,
   * localhost): for local development and tests only. Private, link-local and
   * metadata addresses stay refused either way.
   */
  allowLoopbackWebhooks: boolean;
  /** How long a rotated-out webhook signing key stays valid for verification, in seconds. */
  webhookKeyOverlapSeconds: number;
  /** How long a receiver has to answer a webhook before the attempt fails, in milliseconds. */
  webhookTimeoutMs: number;
  /**
   * How often each process checks, in one batched KV read, whether the API keys
   * of its open controller sockets and SSE streams were revoked, in milliseconds.
   * A revocation in the same process closes them at once.
   */
  revocationCheckMs: number;
  /** Most screenshot bytes (base64 characters) one session stores; later screenshots are dropped. */
  sessionScreenshotQuotaBytes: number;
  /** Most telemetry events one session stores; later ones are dropped. */
  sessionTelemetryQuotaEvents: number;
  /** The name the claim page shows for a link or session created without `appName`; null: "An app". */
  appName: string | null;
  /** The user's iOS app / App Clip and Android app (`PASSAGE_IOS_*`, `PASSAGE_ANDROID_*`). */
  nativeApps: NativeApps;
  /** Where the browser extension's zip is, served at `/extension/passage-extension.zip` if it exists. */
  extensionZipPath: string;
  /** The console's sign-in (`lib/auth/`). */
  readonly signIn: {
    /** Identity providers (`PASSAGE_OIDC_*`, `PASSAGE_GITHUB_*`). */
    readonly providers: readonly SignInProvider[];
    /** How long a console session lasts, in seconds. */
    readonly sessionSeconds: number;
    /**
     * Whether the one-time dev sign-in link exists: never from the environment;
     * `main.ts` sets it for `--dev` off Deno Deploy (`devSignInAllowed`), before freezing.
     */
    readonly devSignIn: boolean;
  };
}

/** Where a local run keeps its KV file when `PASSAGE_KV_PATH` is unset. */
export const LOCAL_KV_PATH = ".data/passage.kv3";

function intVar(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

function appNameVar(raw: string | undefined): string | null {
  const name = raw?.trim();
  if (!name) return null;
  if (name.length > 80) throw new Error(`PASSAGE_APP_NAME must be at most 80 characters`);
  return name;
}

/** Reads the configuration from `env` (defaults to `Deno.env`). */
export function loadConfig(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Config {
  const port = intVar(env, "PORT", 8000);
  const onDeploy = Boolean(env.DENO_DEPLOYMENT_ID);
  const publicUrl = (env.PASSAGE_PUBLIC_URL || `http://localhost:${port}`)
    .replace(/\/+$/, "");
  try {
    new URL(publicUrl);
  } catch {
    throw new Error(
      `PASSAGE_PUBLIC_URL must be an absolute URL, got "${publicUrl}"`,
    );
  }
  return {
    port,
    publicUrl,
    kvPath: env.PASSAGE_KV_PATH || (onDeploy ? undefined : LOCAL_KV_PATH),
    linkTtlSeconds: intVar(env, "PASSAGE_LINK_TTL_SECONDS", 4 * 60 * 60),
    deviceTokenTtlSeconds: intVar(
      env,
      "PASSAGE_DEVICE_TOKEN_TTL_SECONDS",
      60 * 60,
    ),
    claimAttemptsPerWindow: intVar(env, "PASSAGE_CLAIM_ATTEMPTS", 20),
    claimAttemptWindowSeconds: intVar(
      env,
      "PASSAGE_CLAIM_WINDOW_SECONDS",
      15 * 60,
    ),
    sessionIdleTimeoutSeconds: intVar(env, "PASSAGE_SESSION_IDLE_SECONDS", 5 * 60),
    sessionMaxDurationSeconds: intVar(env, "PASSAGE_SESSION_MAX_SECONDS", 30 * 60),
    deviceGraceSeconds: intVar(env, "PASSAGE_DEVICE_GRACE_SECONDS", 60),
    telemetryRetentionSeconds: intVar(env, "PASSAGE_TELEMETRY_RETENTION_SECONDS", 24 * 60 * 60),
    relayPollMs: intVar(env, "PASSAGE_RELAY_POLL_MS", 10_000),
    captureRetentionSeconds: intVar(env, "PASSAGE_CAPTURE_RETENTION_SECONDS", 60 * 60),
    resultRetentionSeconds: intVar(env, "PASSAGE_RESULT_RETENTION_SECONDS", 7 * 24 * 60 * 60),
    loginTimeoutMs: intVar(env, "PASSAGE_LOGIN_TIMEOUT_SECONDS", 5 * 60) * 1000,
    allowLoopbackWebhooks: env.PASSAGE_WEBHOOK_ALLOW_LOOPBACK === "1",
    webhookKeyOverlapSeconds: intVar(env, "PASSAGE_WEBHOOK_KEY_OVERLAP_SECONDS", 24 * 60 * 60),
    webhookTimeoutMs: intVar(env, "PASSAGE_WEBHOOK_TIMEOUT_MS", 15_000),
    revocationCheckMs: intVar(env, "PASSAGE_REVOCATION_CHECK_MS", 2_000),
    sessionScreenshotQuotaBytes: intVar(env, "PASSAGE_SESSION_SCREENSHOT_BYTES", 50_000_000),
    sessionTelemetryQuotaEvents: intVar(env, "PASSAGE_SESSION_TELEMETRY_EVENTS", 20_000),
    useQueues: (env.PASSAGE_QUEUES ?? (onDeploy ? "off" : "on")) !== "off",
    appName: appNameVar(env.PASSAGE_APP_NAME),
    nativeApps: readNativeApps(env),
    signIn: {
      providers: readSignInProviders(env),
      sessionSeconds: intVar(env, "PASSAGE_CONSOLE_SESSION_SECONDS", 8 * 60 * 60),
      devSignIn: false,
    },
    extensionZipPath: env.PASSAGE_EXTENSION_ZIP ||
      decodeURIComponent(
        new URL("../extension/dist/passage-extension.zip", import.meta.url).pathname,
      ),
  };
}

/**
 * A deep-frozen copy of `config`: any later assignment to it, at any depth,
 * throws (and `Readonly<Config>` refuses it at type-check time).
 */
export function freezeConfig(config: Config | Readonly<Config>): Readonly<Config> {
  return deepFreeze(structuredClone(config));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Whether a KV path is a KV Connect URL (a deployment's KV reached from outside), not a file. */
export function isKvConnectUrl(path: string): boolean {
  return /^https?:\/\//i.test(path);
}

/**
 * Opens the KV store the configuration names: a KV Connect URL as is (Deno
 * reads the token from `DENO_KV_ACCESS_TOKEN`), a file after creating its
 * folder. A store that cannot be opened is one clear error naming it.
 */
export async function openKv(config: Pick<Config, "kvPath">): Promise<Deno.Kv> {
  if (config.kvPath === undefined) return await Deno.openKv();
  if (isKvConnectUrl(config.kvPath)) {
    if (!Deno.env.get("DENO_KV_ACCESS_TOKEN")) {
      throw new Error(
        `The KV store ${config.kvPath} is a KV Connect URL: set DENO_KV_ACCESS_TOKEN to its access token`,
      );
    }
    try {
      return retryLockedCommits(await Deno.openKv(config.kvPath));
    } catch (err) {
      throw new Error(
        `Could not open the KV store at ${config.kvPath}: ${(err as Error).message.split("\n")[0]}`,
        { cause: err },
      );
    }
  }
  if (config.kvPath !== ":memory:") {
    const dir = config.kvPath.replace(/[^/]*$/, "");
    if (dir) await Deno.mkdir(dir, { recursive: true });
  }
  return retryLockedCommits(await Deno.openKv(config.kvPath));
}
