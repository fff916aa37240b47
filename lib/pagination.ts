/**
 * Newest-first pages over a time-ordered index (`[...prefix, id] → id`), with an
 * opaque cursor: the base64url of the last id handed out.
 */
import { PassageError } from "./errors.ts";

/** One page of ids, newest first. */
export interface IdPage {
  ids: string[];
  hasMore: boolean;
  nextCursor: string | null;
}

function encodeCursor(id: string): string {
  return btoa(id).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

function decodeCursor(cursor: string, idPrefix: string): string {
  try {
    const id = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    if (new RegExp(`^${idPrefix}_[0-9A-Z]{26}$`).test(id)) return id;
  } catch { /* fall through */ }
  throw new PassageError("invalid_cursor", "cursor is not one this API handed out", {
    param: "cursor",
  });
}

/** Reads one page of the index under `prefix`. */
export async function pageOfIds(
  kv: Deno.Kv,
  prefix: readonly Deno.KvKeyPart[],
  idPrefix: string,
  query: { limit?: number; cursor?: string },
): Promise<IdPage> {
  const limit = query.limit ?? 20;
  const selector: Deno.KvListSelector = query.cursor
    ? { prefix: [...prefix], end: [...prefix, decodeCursor(query.cursor, idPrefix)] }
    : { prefix: [...prefix] };
  const ids: string[] = [];
  for await (const entry of kv.list<string>(selector, { reverse: true, limit: limit + 1 })) {
    ids.push(entry.value);
  }
  const page = ids.slice(0, limit);
  const hasMore = ids.length > limit;
  return { ids: page, hasMore, nextCursor: hasMore ? encodeCursor(page[page.length - 1]) : null };
}
