/**
 * JSON values of any size in KV. A value that fits in one KV value (64 KiB) is
 * stored inline; a larger one is split into chunks, written before the record
 * that refers to them, so a screenshot or a long order history can never exceed
 * KV's limit by accident. Chunks carry the same `expireIn` as their owner.
 */
import { blobChunkKey } from "./kv_keys.ts";

/** Stands in for a value that was stored in chunks. */
export interface BlobRef {
  type: "chunked";
  chunkId: string;
  count: number;
}

/** Largest serialized value kept inline. */
const CHUNK_BYTES = 60_000;
/** Chunks per commit, well under the 800 KiB commit limit. */
const CHUNKS_PER_COMMIT = 10;

export function isBlobRef(value: unknown): value is BlobRef {
  return typeof value === "object" && value !== null && (value as BlobRef).type === "chunked" &&
    typeof (value as BlobRef).chunkId === "string";
}

/** Returns `value` itself if it fits, else writes its chunks and returns a reference. */
export async function storeJson<T>(
  kv: Deno.Kv,
  value: T,
  expireIn?: number,
): Promise<T | BlobRef> {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  if (bytes.byteLength <= CHUNK_BYTES && !isBlobRef(value)) return value;
  return await writeChunks(kv, bytes, expireIn);
}

/** Returns `bytes` themselves if they fit in one value, else writes chunks and returns a reference. */
export async function storeBytes(
  kv: Deno.Kv,
  bytes: Uint8Array,
  expireIn?: number,
): Promise<Uint8Array | BlobRef> {
  if (bytes.byteLength <= CHUNK_BYTES) return bytes;
  return await writeChunks(kv, bytes, expireIn);
}

async function writeChunks(kv: Deno.Kv, bytes: Uint8Array, expireIn?: number): Promise<BlobRef> {
  const chunkId = crypto.randomUUID();
  const count = Math.ceil(bytes.byteLength / CHUNK_BYTES);
  for (let first = 0; first < count; first += CHUNKS_PER_COMMIT) {
    const op = kv.atomic();
    for (let i = first; i < Math.min(count, first + CHUNKS_PER_COMMIT); i++) {
      op.set(blobChunkKey(chunkId, i), bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES), {
        expireIn,
      });
    }
    if (!(await op.commit()).ok) throw new Error("Could not store a large value");
  }
  return { type: "chunked", chunkId, count };
}

/** The value `storeJson` stored (inline values come back as they are). */
export async function loadJson<T>(kv: Deno.Kv, stored: T | BlobRef): Promise<T> {
  if (!isBlobRef(stored)) return stored;
  return JSON.parse(new TextDecoder().decode(await readChunks(kv, stored)));
}

/** The bytes `storeBytes` stored, or null when a chunk is gone (expired or deleted). */
export async function loadBytes(
  kv: Deno.Kv,
  stored: Uint8Array | BlobRef,
): Promise<Uint8Array | null> {
  if (!isBlobRef(stored)) return stored;
  return await readChunks(kv, stored).catch(() => null);
}

async function readChunks(kv: Deno.Kv, stored: BlobRef): Promise<Uint8Array> {
  const keys = Array.from({ length: stored.count }, (_, i) => blobChunkKey(stored.chunkId, i));
  const parts: Uint8Array[] = [];
  for (let i = 0; i < keys.length; i += 10) {
    for (const entry of await kv.getMany<Uint8Array[]>(keys.slice(i, i + 10))) {
      if (!entry.value) throw new Error(`Chunk ${String(entry.key)} of a stored value is missing`);
      parts.push(entry.value);
    }
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    bytes.set(p, offset);
    offset += p.byteLength;
  }
  return bytes;
}

/** Deletes the chunks behind a reference (inline values have none). */
export async function deleteJson(kv: Deno.Kv, stored: unknown): Promise<void> {
  if (!isBlobRef(stored)) return;
  for (let i = 0; i < stored.count; i += CHUNKS_PER_COMMIT) {
    const op = kv.atomic();
    for (let j = i; j < Math.min(stored.count, i + CHUNKS_PER_COMMIT); j++) {
      op.delete(blobChunkKey(stored.chunkId, j));
    }
    await op.commit();
  }
}
