import { logEvent } from "../lib/log";
import { cacheStats } from "./stats";

/**
 * Which keys viewers ask for most, so the scheduled refresh can renew them before they go
 * stale. Each isolate counts its own requests in memory and, at most every
 * HOT_FLUSH_INTERVAL_MS, folds its counts into one shared KV record with exponential decay
 * (old scores halve at each fold), so the record follows current traffic. The interval
 * bounds the KV writes this costs to one per isolate per interval.
 */
export const HOT_FLUSH_INTERVAL_MS = 5 * 60_000;
export const HOT_KEY_LIMIT = 200;
const LOCAL_MAX_KEYS = 5000;
export const HOT_RECORD_KEY = "v1:meta:hot";

const local = new Map<string, number>();
let lastFlushAt = Date.now();

export function recordHit(key: string): void {
  if (!local.has(key) && local.size >= LOCAL_MAX_KEYS) return;
  local.set(key, (local.get(key) ?? 0) + 1);
}

/** Folds local counts into the shared record when the interval has passed. */
export function maybeFlushHotKeys(kv: KVNamespace, waitUntil: (p: Promise<unknown>) => void, now: number): void {
  if (now - lastFlushAt < HOT_FLUSH_INTERVAL_MS || local.size === 0) return;
  lastFlushAt = now;
  const counts = new Map(local);
  local.clear();
  waitUntil(
    (async () => {
      const merged = await readShared(kv);
      for (const k of Object.keys(merged)) merged[k] = (merged[k] ?? 0) / 2;
      for (const [k, n] of counts) merged[k] = (merged[k] ?? 0) + n;
      const top = Object.fromEntries(
        Object.entries(merged)
          .sort((a, b) => b[1] - a[1])
          .slice(0, HOT_KEY_LIMIT),
      );
      cacheStats.kv_meta_writes++;
      await kv.put(HOT_RECORD_KEY, JSON.stringify(top));
    })().catch((err: unknown) => logEvent("warn", "hot_keys_flush_failed", { error: String(err) })),
  );
}

/** The hottest keys: the shared record plus this isolate's unflushed counts. */
export async function hotKeys(kv: KVNamespace, limit = HOT_KEY_LIMIT): Promise<string[]> {
  const merged = await readShared(kv);
  for (const [k, n] of local) merged[k] = (merged[k] ?? 0) + n;
  return Object.entries(merged)
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([k]) => k);
}

async function readShared(kv: KVNamespace): Promise<Record<string, number>> {
  try {
    const raw = await kv.get<Record<string, number>>(HOT_RECORD_KEY, "json");
    return raw && typeof raw === "object" ? { ...raw } : {};
  } catch (err) {
    logEvent("warn", "hot_keys_read_failed", { error: String(err) });
    return {};
  }
}

/** Forgets local counts (tests). */
export function resetHotKeys(now = Date.now()): void {
  local.clear();
  lastFlushAt = now;
}
