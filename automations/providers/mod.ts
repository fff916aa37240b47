/**
 * The providers that ship with Passage: one folder each, listed here once.
 * An explicit list of static imports, not a directory read at start: Deno
 * Deploy (and `deno compile`) only include modules the module graph names, so
 * every built-in provider is reachable from here. Providers of your own live
 * outside the repository and load from `PASSAGE_PROVIDERS_DIR` (catalog.ts).
 *
 * @module
 */
import type { Provider } from "../define.ts";
import doordash from "./doordash/mod.ts";
import geico from "./geico/mod.ts";
import pge from "./pge/mod.ts";
import tmobile from "./tmobile/mod.ts";
import verizon from "./verizon/mod.ts";

/** Every built-in provider, in the order the sandbox index lists them. */
export const BUILTIN_PROVIDERS: readonly Provider[] = [tmobile, verizon, pge, doordash, geico];
