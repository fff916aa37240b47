/**
 * Imported first by a test file that wants the fixture providers
 * (tests/fixtures/providers) in the catalog: it names their folder in
 * `PASSAGE_PROVIDERS_DIR` before the catalog module loads, exactly as an
 * operator's environment would.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The folder of fixture provider folders. */
export const FIXTURE_PROVIDERS_DIR = fileURLToPath(
  new URL("./fixtures/providers", import.meta.url),
);

Deno.env.set("PASSAGE_PROVIDERS_DIR", FIXTURE_PROVIDERS_DIR);
