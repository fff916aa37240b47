/** Reads a console form (already CSRF-checked by the guard) with a zod schema, as the API reads JSON. */
import type { Context } from "hono";
import type { z } from "zod";
import { parseInput } from "../../lib/http.ts";
import type { AppEnv } from "../../lib/http.ts";

export async function readForm<T extends z.ZodType>(
  c: Context<AppEnv>,
  schema: T,
): Promise<z.output<T>> {
  const form = await c.req.parseBody();
  const { _csrf: _, ...fields } = form;
  return parseInput(schema, fields, "form");
}
