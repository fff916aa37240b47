/**
 * Builds the Passage browser extension into `extension/dist/` (a folder
 * Chromium loads unpacked) and `extension/dist/passage-extension.zip`.
 * Nothing is downloaded: `deno bundle` bundles puppeteer-core's browser build
 * and the device core from the local cache.
 *
 * ```sh
 * deno task extension:build --server https://passage.example.com
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

const HERE = new URL(".", import.meta.url);
const SRC = new URL("src/", HERE);

/** The entry points, bundled one file each. */
const ENTRIES = ["background", "content", "offscreen", "sandbox", "bar", "bar_inject"];
const STATIC = ["sandbox.html", "offscreen.html", "bar.html"];

/** The manifest for the servers the claim pages of which may hand the extension a code. */
export function manifest(servers: string[], version = "0.1.0") {
  return {
    manifest_version: 3,
    name: "Passage",
    version,
    description:
      "Link an account in your own browser. You log in yourself; passwords, codes and cookies stay in this browser.",
    background: { service_worker: "background.js" },
    permissions: [
      "debugger",
      "tabs",
      "storage",
      "offscreen",
      "scripting",
      "cookies",
      "declarativeNetRequest",
    ],
    host_permissions: ["<all_urls>"],
    content_scripts: [{
      matches: servers.map((s) => `${s}/*`),
      js: ["content.js"],
      run_at: "document_start",
    }],
    sandbox: { pages: ["sandbox.html"] },
    content_security_policy: {
      extension_pages: "script-src 'self'; object-src 'self'",
      sandbox: "sandbox allow-scripts; default-src 'none'; script-src 'self' 'unsafe-eval'",
    },
    web_accessible_resources: [{ resources: ["bar.html"], matches: ["<all_urls>"] }],
  };
}

/** Builds into `out` (default `extension/dist/`); returns the folder. */
export async function buildExtension(
  options: {
    servers: string[];
    /** Sites on loopback or a private network sessions may open (a developer's local site). */
    privateOrigins?: string[];
    out?: string;
    zip?: boolean;
  },
): Promise<string> {
  const out = options.out ?? new URL("dist/", HERE).pathname;
  const servers = options.servers.map((s) => new URL(s).origin);
  const privateOrigins = (options.privateOrigins ?? []).map((s) => new URL(s).origin);
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.mkdir(out, { recursive: true });
  const deno = Deno.execPath();
  // one after another: the first bundle may unpack esbuild, which others would race
  for (const name of ENTRIES) {
    const target = `${out}/${name}.js`;
    const { success, stderr } = await new Deno.Command(deno, {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        // classic scripts: a service worker, content scripts and pages load
        // them without `type: module`, and puppeteer's Node-only paths (its
        // launcher, behind dynamic imports) stay lazy instead of becoming
        // top-level `import … from "node:fs"` that no browser can load
        "--format",
        "iife",
        "--config",
        new URL("../deno.json", HERE).pathname,
        "-o",
        target,
        new URL(`${name}.ts`, SRC).pathname,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) {
      throw new Error(`bundling ${name}.ts failed:\n${new TextDecoder().decode(stderr)}`);
    }
    if (name === "background") {
      const code = await Deno.readTextFile(target);
      const config = `var PASSAGE_SERVERS = ${JSON.stringify(servers)};\n` +
        `var PASSAGE_PRIVATE_ORIGINS = ${JSON.stringify(privateOrigins)};\n`;
      await Deno.writeTextFile(target, config + code);
    }
  }
  for (const file of STATIC) await Deno.copyFile(new URL(file, SRC), `${out}/${file}`);
  await Deno.writeTextFile(`${out}/manifest.json`, JSON.stringify(manifest(servers), null, 2));
  if (options.zip ?? true) {
    const { success } = await new Deno.Command("zip", {
      args: ["-q", "-r", "passage-extension.zip", "."],
      cwd: out,
      stdout: "null",
      stderr: "null",
    }).output().catch(() => ({ success: false }));
    if (!success) console.error("zip is not installed: the folder is built, the zip is not");
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      server: { type: "string", multiple: true },
      "allow-private-origin": { type: "string", multiple: true },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno task extension:build [--server URL]... [--allow-private-origin URL]... [--out DIR]",
    );
    Deno.exit(0);
  }
  const servers = values.server?.length
    ? values.server
    : [Deno.env.get("PASSAGE_PUBLIC_URL") ?? "http://localhost:8000"];
  const out = await buildExtension({
    servers,
    privateOrigins: values["allow-private-origin"],
    out: values.out,
  });
  console.log(`Built the extension for ${servers.join(", ")} into ${out}`);
}
