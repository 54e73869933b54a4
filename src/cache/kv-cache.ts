import { logEvent } from "../lib/log";

/**
 * Cache-aside over KV for upstream data that has already been normalised and serialised.
 *
 * Freshness is decided here from `stored_at` in the entry's metadata, not from KV's own
 * expiry: KV cannot expire sooner than 60 s and its deletes take up to a minute to reach
 * every location. The KV expiry is only garbage collection.
 *
 * A KV failure (read or write) is logged and treated as a miss: the cache may make a
 * request slower, never make it fail. Writes run in waitUntil, off the response path.
 */

/** KV refuses an expirationTtl below 60 seconds. */
export const KV_MIN_TTL_SECONDS = 60;

export interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

export interface EntryMetadata {
  stored_at: number;
}

export interface CacheResult {
  body: string;
  outcome: "hit" | "miss";
  /** When the body was fetched from upstream (ms since epoch). */
  storedAt: number;
}

/** Returns the fresh cached body for `key`, or loads, returns and stores a new one. */
export async function cached(
  kv: KVNamespace,
  key: string,
  ttlSeconds: number,
  load: () => Promise<string>,
  ctx: WaitUntil,
  now: () => number = Date.now,
): Promise<CacheResult> {
  const entry = await readEntry(kv, key);
  if (entry && now() - entry.storedAt < ttlSeconds * 1000) {
    return { body: entry.body, outcome: "hit", storedAt: entry.storedAt };
  }
  const body = await load();
  const storedAt = now();
  const metadata: EntryMetadata = { stored_at: storedAt };
  ctx.waitUntil(
    kv
      .put(key, body, { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, ttlSeconds), metadata })
      .catch((err: unknown) => logEvent("warn", "kv_write_failed", { key, error: String(err) })),
  );
  return { body, outcome: "miss", storedAt };
}

async function readEntry(kv: KVNamespace, key: string): Promise<{ body: string; storedAt: number } | undefined> {
  try {
    const { value, metadata } = await kv.getWithMetadata<EntryMetadata>(key, "text");
    if (value === null || typeof metadata?.stored_at !== "number") return undefined;
    return { body: value, storedAt: metadata.stored_at };
  } catch (err) {
    logEvent("warn", "kv_read_failed", { key, error: String(err) });
    return undefined;
  }
}
