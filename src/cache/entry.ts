/**
 * One cached answer, the same in every tier: the serialised body, its strong ETag (a
 * SHA-256 of the body, also used to tell whether content changed), when it was fetched from
 * BeatPass, and what we know of its KV copy (for the KV write discipline).
 */
export interface Entry {
  body: string;
  etag: string;
  fetchedAt: number;
  /** Set for a negative entry: the status BeatPass answered with. */
  status?: number;
  /** The KV copy's ETag and write time, when known. */
  kv?: { etag: string; storedAt: number };
}

/** Stored as KV metadata (KV allows 1024 bytes). */
export interface KvMetadata {
  fetched_at: number;
  etag: string;
  status?: number;
}

const encoder = new TextEncoder();

/** A strong ETag: 128 bits of the body's SHA-256, quoted per RFC 9110. */
export async function etagFor(body: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(body));
  const hex = [...new Uint8Array(digest).slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `"${hex}"`;
}

export async function newEntry(body: string, fetchedAt: number, status?: number): Promise<Entry> {
  if (status === undefined) return { body, etag: await etagFor(body), fetchedAt };
  return { body, etag: await etagFor(`${status} ${body}`), fetchedAt, status };
}
