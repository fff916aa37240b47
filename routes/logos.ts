/**
 * `GET /logos/{id}.{ext}`: an account's logo, as claim pages and the console
 * show it. Served only as the image type its magic bytes said at upload, with
 * `nosniff` and a CSP that runs nothing even if it is opened as a document;
 * the id changes with the content, so it is cached for a year.
 */
import type { Hono } from "hono";
import { readLogo } from "../lib/account_logos.ts";
import { PassageError } from "../lib/errors.ts";
import type { AppEnv } from "../lib/http.ts";

const FILE = /^([0-9a-f]{32})\.(png|jpg|webp)$/;

export function registerLogoRoutes(app: Hono<AppEnv>): void {
  app.get("/logos/:file", async (c) => {
    const match = FILE.exec(c.req.param("file"));
    const logo = match ? await readLogo(c.var.services.kv, match[1]) : null;
    if (!logo) throw new PassageError("not_found", "No logo at this address");
    return c.body(logo.bytes as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": logo.type,
      "Cache-Control": "public, max-age=31536000, immutable",
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'none'; sandbox",
      "Cross-Origin-Resource-Policy": "same-origin",
    });
  });
}
