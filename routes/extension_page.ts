/**
 * `GET /extension`: how to install the browser extension; and
 * `GET /extension/passage-extension.zip`: the extension, once it has been
 * built (`config.extensionZipPath`), else a 404 `extension_not_built`.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../lib/http.ts";
import { PassageError } from "../lib/errors.ts";
import { newNonce, sendPage } from "./_layout.tsx";
import { ExtensionPage } from "./_extension_view.tsx";

async function zipSize(path: string): Promise<number | null> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? info.size : null;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

export function registerExtensionPage(app: Hono<AppEnv>): void {
  app.get("/extension", async (c) => {
    const nonce = newNonce();
    const zipBuilt = (await zipSize(c.var.services.config.extensionZipPath)) !== null;
    return sendPage(c, nonce, ExtensionPage({ nonce, zipBuilt }));
  });

  app.get("/extension/passage-extension.zip", async (c) => {
    const path = c.var.services.config.extensionZipPath;
    const size = await zipSize(path);
    if (size === null) {
      throw new PassageError("extension_not_built", "The browser extension has not been built yet");
    }
    const file = await Deno.open(path, { read: true });
    return new Response(file.readable, {
      headers: {
        "Content-Type": "application/zip",
        "Content-Length": String(size),
        "Content-Disposition": 'attachment; filename="passage-extension.zip"',
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
      },
    });
  });
}
