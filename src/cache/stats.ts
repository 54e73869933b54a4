/**
 * Per-isolate counters of what the cache did, reported by /healthz and read by the
 * benchmark (KV writes matter: the free plan allows 1,000 a day).
 */
export const cacheStats = {
  hits: { memory: 0, cache_api: 0, kv: 0 },
  misses: 0,
  stale_served: 0,
  stale_if_error_served: 0,
  coalesced: 0,
  upstream_loads: 0,
  background_refreshes: 0,
  /** Requests to the one budget keeper (lease renewals, pauses, purges, hot-key folds). */
  keeper_calls: 0,
  /** Requests to the per-location and per-key coordinators (one load per key), counted apart. */
  coordinator_calls: 0,
  /** Writes of cached data (the bookkeeping writes below are counted apart). */
  kv_writes: 0,
  /** Hot-key counts folded into the keeper's scores. */
  hot_folds: 0,
  kv_write_failures: 0,
  kv_writes_skipped_unchanged: 0,
  kv_writes_skipped_rate: 0,
};

export function resetCacheStats(): void {
  for (const k of Object.keys(cacheStats.hits) as (keyof typeof cacheStats.hits)[]) cacheStats.hits[k] = 0;
  for (const k of Object.keys(cacheStats) as (keyof typeof cacheStats)[]) {
    if (k !== "hits") cacheStats[k] = 0;
  }
}
