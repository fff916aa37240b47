/**
 * The user's apps for this server: the iOS app and its App Clip, the Android
 * app. Read from environment variables once (`loadConfig`); each answers the
 * file its platform fetches to trust this server's `/c/*` links
 * (`apple-app-site-association`, `assetlinks.json`), and the claim page's
 * Smart App Banner. Nothing is configured by default.
 */

/** The iOS side: a team, the app and/or its App Clip, and the App Store id for the banner. */
export interface IosApps {
  /** The Apple Developer team id (10 characters), such as `"A1B2C3D4E5"`. */
  teamId: string | null;
  /** The full app's bundle id, such as `"dev.passage.app"`. */
  bundleId: string | null;
  /** The App Clip's bundle id, such as `"dev.passage.app.Clip"`. */
  appClipBundleId: string | null;
  /** The App Store id the Smart App Banner names (digits). */
  appStoreId: string | null;
}

/** The Android side: the package and the SHA-256 fingerprints of its signing certificates. */
export interface AndroidApp {
  packageName: string;
  /** Upper-case, colon-separated (`"AB:CD:…"`, 32 bytes each). */
  sha256Fingerprints: string[];
}

/** What `loadConfig` keeps of the user's apps; null: that platform is not set up. */
export interface NativeApps {
  ios: IosApps | null;
  android: AndroidApp | null;
}

const TEAM_ID = /^[A-Z0-9]{10}$/;
const BUNDLE_ID = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;
const APP_STORE_ID = /^[0-9]{1,15}$/;
const ANDROID_PACKAGE = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/;
const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

function matching(
  env: Record<string, string | undefined>,
  name: string,
  pattern: RegExp,
  what: string,
): string | null {
  const raw = env[name]?.trim();
  if (!raw) return null;
  if (!pattern.test(raw)) throw new Error(`${name} must be ${what}, got "${raw}"`);
  return raw;
}

/** Reads the apps from `PASSAGE_IOS_*` and `PASSAGE_ANDROID_*`; throws on a malformed value. */
export function readNativeApps(env: Record<string, string | undefined>): NativeApps {
  const ios: IosApps = {
    teamId: matching(env, "PASSAGE_IOS_TEAM_ID", TEAM_ID, "10 upper-case letters or digits"),
    bundleId: matching(env, "PASSAGE_IOS_BUNDLE_ID", BUNDLE_ID, "a bundle id (com.example.app)"),
    appClipBundleId: matching(
      env,
      "PASSAGE_IOS_APP_CLIP_BUNDLE_ID",
      BUNDLE_ID,
      "a bundle id (com.example.app.Clip)",
    ),
    appStoreId: matching(env, "PASSAGE_IOS_APP_ID", APP_STORE_ID, "the App Store id (digits)"),
  };
  if ((ios.bundleId || ios.appClipBundleId) && !ios.teamId) {
    throw new Error(
      "PASSAGE_IOS_TEAM_ID is needed with PASSAGE_IOS_BUNDLE_ID or _APP_CLIP_BUNDLE_ID",
    );
  }
  const packageName = matching(
    env,
    "PASSAGE_ANDROID_PACKAGE",
    ANDROID_PACKAGE,
    "an Android package name (com.example.app)",
  );
  const fingerprints = (env.PASSAGE_ANDROID_SHA256_FINGERPRINTS ?? "").split(",")
    .map((f) => f.trim().toUpperCase()).filter((f) => f !== "");
  for (const f of fingerprints) {
    if (!FINGERPRINT.test(f)) {
      throw new Error(
        `PASSAGE_ANDROID_SHA256_FINGERPRINTS must be comma-separated SHA-256 fingerprints (32 hex bytes joined by ":"), got "${f}"`,
      );
    }
  }
  if (Boolean(packageName) !== fingerprints.length > 0) {
    throw new Error("PASSAGE_ANDROID_PACKAGE and PASSAGE_ANDROID_SHA256_FINGERPRINTS go together");
  }
  return {
    ios: Object.values(ios).some((v) => v !== null) ? ios : null,
    android: packageName ? { packageName, sha256Fingerprints: fingerprints } : null,
  };
}

/** The claim links the apps open. */
const CLAIM_PATHS = "/c/*";

/**
 * `/.well-known/apple-app-site-association`: the App Clip (`appclips`) and the
 * full app's universal links for `/c/*` (`applinks`). Null when no iOS app
 * with a team is configured.
 */
export function appleAppSiteAssociation(apps: NativeApps): Record<string, unknown> | null {
  const ios = apps.ios;
  if (!ios?.teamId || (!ios.bundleId && !ios.appClipBundleId)) return null;
  const id = (bundle: string) => `${ios.teamId}.${bundle}`;
  return {
    applinks: {
      details: ios.bundleId
        ? [{
          appIDs: [id(ios.bundleId)],
          components: [{ "/": CLAIM_PATHS, comment: "Passage claim links" }],
          // iOS 12 and older read these two instead
          appID: id(ios.bundleId),
          paths: [CLAIM_PATHS],
        }]
        : [],
    },
    appclips: { apps: ios.appClipBundleId ? [id(ios.appClipBundleId)] : [] },
  };
}

/** `/.well-known/assetlinks.json` for the Android app; null when none is configured. */
export function assetLinks(apps: NativeApps): unknown[] | null {
  if (!apps.android) return null;
  return [{
    relation: ["delegate_permission/common.handle_all_urls"],
    target: {
      namespace: "android_app",
      package_name: apps.android.packageName,
      sha256_cert_fingerprints: apps.android.sha256Fingerprints,
    },
  }];
}

/**
 * The `content` of the claim page's `<meta name="apple-itunes-app">` (the Smart
 * App Banner, shown as an App Clip card when there is a clip), or null without
 * an App Store id.
 */
export function smartAppBanner(apps: NativeApps, claimUrl: string): string | null {
  const ios = apps.ios;
  if (!ios?.appStoreId) return null;
  const parts = [`app-id=${ios.appStoreId}`];
  if (ios.appClipBundleId) {
    parts.push(`app-clip-bundle-id=${ios.appClipBundleId}`, "app-clip-display=card");
  }
  parts.push(`app-argument=${claimUrl}`);
  return parts.join(", ");
}

/** Which phones can open a claim link here, for the page to say so plainly. */
export function phoneSupport(apps: NativeApps): { iphone: boolean; android: boolean } {
  return {
    iphone: Boolean(apps.ios?.appStoreId || appleAppSiteAssociation(apps)),
    android: apps.android !== null,
  };
}
