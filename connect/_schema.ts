/**
 * The type every schema of this package has (re-exported by `schemas.ts`
 * and `results.ts`), in a module of its own so that neither imports the other
 * for it.
 *
 * @module
 */
import type { z } from "zod";

/**
 * A zod schema: `parse()` returns an `Output` or throws, `safeParse()` says
 * which field is wrong. `Input` is its input type (`z.input`), `unknown`
 * unless given. Every schema of this package has this type, so all of zod's
 * API works on it.
 *
 * @example
 * ```ts
 * import { linkSchema, type Schema } from "@passage/connect/schemas";
 * import type { Link } from "@passage/connect";
 * const schema: Schema<Link> = linkSchema;
 * ```
 */
// deno-doc-ignore private-type-ref -- ZodType is zod's own type, documented at https://zod.dev
export type Schema<Output = unknown, Input = unknown> = z.ZodType<Output, Input>;
