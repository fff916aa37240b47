/**
 * Newest-first pages over a time-ordered index (`[...prefix, id] → id`), with an
 * opaque cursor: the base64url of the last id handed out.
 */
import { PassageError } from "./errors.ts";

/** One page of records, newest first. */
export interface Page<T> {
  records: T[];
  hasMore: boolean;
  nextCursor: string | null;
}

/** Deno KV reads at most this many keys in one `getMany`. */
const GET_MANY_LIMIT = 10;

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

/**
 * Reads one page of the index under `prefix` and the records its ids point
 * to (`recordKey`), in batches KV accepts. Ids whose record is gone are skipped.
 */
export async function pageOf<T>(
  kv: Deno.Kv,
  prefix: readonly Deno.KvKeyPart[],
  idPrefix: string,
  query: { limit?: number; cursor?: string },
  recordKey: (id: string) => Deno.KvKey,
): Promise<Page<T>> {
  const limit = query.limit ?? 20;
  const selector: Deno.KvListSelector = query.cursor
    ? { prefix: [...prefix], end: [...prefix, decodeCursor(query.cursor, idPrefix)] }
    : { prefix: [...prefix] };
  const ids: string[] = [];
  for await (const entry of kv.list<string>(selector, { reverse: true, limit: limit + 1 })) {
    ids.push(entry.value);
  }
  const page = ids.slice(0, limit);
  const records: T[] = [];
  for (let i = 0; i < page.length; i += GET_MANY_LIMIT) {
    const batch = page.slice(i, i + GET_MANY_LIMIT).map(recordKey);
    for (const entry of await kv.getMany<T[]>(batch)) {
      if (entry.value !== null) records.push(entry.value);
    }
  }
  const hasMore = ids.length > limit;
  return { records, hasMore, nextCursor: hasMore ? encodeCursor(page[page.length - 1]) : null };
}
