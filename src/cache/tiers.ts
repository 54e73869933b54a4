import { SMALL_OBJECT_BYTES, stringBytes } from "../lib/byte-lru";
import { logEvent } from "../lib/log";
import { memo, registerMemo } from "../lib/memo-budget";
import type { Coordinator } from "./engine";
import type { Entry, KvMetadata } from "./entry";
import { loggableKey } from "./keys";
import { MemoryTier } from "./memory";
import { cacheStats } from "./stats";

/**
 * The three storage tiers, fastest first:
 *   memory     per isolate, microseconds, lost on eviction;
 *   Cache API  per data centre (caches.default), free writes, evicted under pressure;
 *   KV         global and durable: the last-known-good copy that survives everything.
 * A read walks them in order and back-fills the faster ones. A write goes to memory at
 * once and to the other two in waitUntil; KV writes are rationed (see shouldWriteKv).
 * Every tier failure is logged and treated as a miss: the cache never fails a request.
 */

export type Tier = "memory" | "cache_api" | "kv";

export interface TierDeps {
  kv: KVNamespace;
  waitUntil(promise: Promise<unknown>): void;
  now(): number;
  /** The fast tiers in use (both by default); KV is always on. */
  fast?: { memory: boolean; cacheApi: boolean };
  /** The deployment-wide budget and per-key leases (src/budget/); without one, loads are only coalesced here. */
  coordinator?: Coordinator;
  /** Throws when the requesting client may not cause another upstream load now. */
  admitMiss?: () => Promise<void>;
  /** Charges the request to its client's deployment-wide limit before it reads past memory. */
  chargeShared?: () => Promise<void>;
}

const ALL_FAST = { memory: true, cacheApi: true };

/** KV refuses an expirationTtl below 60 seconds. */
export const KV_MIN_TTL_SECONDS = 60;
/** KV allows one write per second per key; we stay under it. */
export const KV_MIN_WRITE_INTERVAL_MS = 1000;

export const memory = new MemoryTier();
registerMemo("memory-tier", memory);
// What this isolate last wrote to KV per key: it knows KV's content even when the entry in
// hand came from a load that raced another one and carries no KV record of its own. Losing
// an old key costs little (the rate rule only concerns the last second), so LRU by bytes.
const lastKvWrite = memo<{ at: number; etag: string }>("last-kv-write", {
  sizeOf: (w) => stringBytes(w.etag) + SMALL_OBJECT_BYTES,
});

// The Cache API needs a URL; this host is never fetched, only used as a key. The epoch
// segment lets one call make every Cache API entry of this isolate unreachable at once
// (the Cache API has no "delete all"; the orphans age out under their max-age).
let cacheApiEpoch = 0;
const cacheUrl = (key: string) => `https://beatpass-edge.internal/${cacheApiEpoch}/${encodeURIComponent(key)}`;

/** Forgets every Cache API entry this isolate wrote (tests use it between cases). */
export function abandonCacheApiEntries(): void {
  cacheApiEpoch++;
}

/** Starts this isolate's tiers from cold: memory, Cache API entries, KV write times (tests). */
export function resetTiers(): void {
  memory.clear();
  lastKvWrite.clear();
  abandonCacheApiEntries();
}
const H_FETCHED = "X-Beatpass-Edge-Fetched-At";
const H_STATUS = "X-Beatpass-Edge-Status";
const H_KV = "X-Beatpass-Edge-Kv";

/** Finds `key` in the fastest tier that has it and copies it into the faster ones. */
export async function readTiers(
  deps: TierDeps,
  key: string,
  keepSeconds: number,
): Promise<{ entry: Entry; tier: Tier } | undefined> {
  const fast = deps.fast ?? ALL_FAST;
  const inMemory = fast.memory ? memory.get(key) : undefined;
  if (inMemory) {
    // A copy past its hard window (fromMemory answered and counted the younger ones).
    cacheStats.hits.memory++;
    return { entry: inMemory, tier: "memory" };
  }

  const fromCache = fast.cacheApi ? await readCacheApi(key) : undefined;
  if (fromCache) {
    if (fast.memory) memory.set(key, fromCache);
    return { entry: fromCache, tier: "cache_api" };
  }

  const fromKv = await readKv(deps.kv, key);
  if (fromKv) {
    if (fast.memory) memory.set(key, fromKv);
    if (fast.cacheApi) deps.waitUntil(writeCacheApi(key, fromKv, keepSeconds));
    return { entry: fromKv, tier: "kv" };
  }
  return undefined;
}

/**
 * Stores a freshly loaded entry. `previous` is what the tiers held before (if anything):
 * KV is written only when the content changed or its copy is past half its lifetime, and
 * at most once a second per key.
 */
export function writeTiers(
  deps: TierDeps,
  key: string,
  entry: Entry,
  previous: Entry | undefined,
  keepSeconds: number,
  options: { kv?: boolean } = {},
): void {
  const fast = deps.fast ?? ALL_FAST;
  const recent = lastKvWrite.get(key);
  const kvCopy = previous?.kv ?? (recent ? { etag: recent.etag, storedAt: recent.at } : undefined);
  if (kvCopy) entry.kv = kvCopy;
  if (fast.memory) memory.set(key, entry);

  const now = deps.now();
  // A load shared from another isolate was written to KV by that isolate.
  const decision = options.kv === false ? "unchanged" : shouldWriteKv(entry, kvCopy, recent?.at, now, keepSeconds);
  if (decision === "write") {
    lastKvWrite.set(key, { at: now, etag: entry.etag });
    cacheStats.kv_writes++;
    const metadata: KvMetadata = { fetched_at: entry.fetchedAt, etag: entry.etag };
    if (entry.status) metadata.status = entry.status;
    // Recorded before the write lands so the Cache API copy carries it too; undone on failure
    // so the next refresh tries KV again.
    entry.kv = { etag: entry.etag, storedAt: now };
    deps.waitUntil(
      deps.kv
        .put(key, entry.body, { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, keepSeconds), metadata })
        .catch(async (err: unknown) => {
          cacheStats.kv_write_failures++;
          logEvent("warn", "kv_write_failed", { key: loggableKey(key), error: String(err) });
          entry.kv = kvCopy;
          if (lastKvWrite.get(key)?.at === now) lastKvWrite.delete(key);
          if (fast.cacheApi) await writeCacheApi(key, entry, keepSeconds);
        }),
    );
  } else if (decision === "unchanged") cacheStats.kv_writes_skipped_unchanged++;
  else cacheStats.kv_writes_skipped_rate++;

  if (fast.cacheApi) deps.waitUntil(writeCacheApi(key, entry, keepSeconds));
}

export function shouldWriteKv(
  entry: Entry,
  kvCopy: Entry["kv"],
  lastWriteAt: number | undefined,
  now: number,
  keepSeconds: number,
): "write" | "unchanged" | "rate" {
  if (lastWriteAt !== undefined && now - lastWriteAt < KV_MIN_WRITE_INTERVAL_MS) return "rate";
  if (kvCopy && kvCopy.etag === entry.etag && now - kvCopy.storedAt < (keepSeconds * 1000) / 2) return "unchanged";
  return "write";
}

async function readKv(kv: KVNamespace, key: string): Promise<Entry | undefined> {
  try {
    const { value, metadata } = await kv.getWithMetadata<KvMetadata>(key, "text");
    if (value === null || typeof metadata?.fetched_at !== "number" || typeof metadata.etag !== "string")
      return undefined;
    cacheStats.hits.kv++;
    const entry: Entry = {
      body: value,
      etag: metadata.etag,
      fetchedAt: metadata.fetched_at,
      kv: { etag: metadata.etag, storedAt: metadata.fetched_at },
    };
    if (typeof metadata.status === "number") entry.status = metadata.status;
    return entry;
  } catch (err) {
    logEvent("warn", "kv_read_failed", { key: loggableKey(key), error: String(err) });
    return undefined;
  }
}

async function readCacheApi(key: string): Promise<Entry | undefined> {
  try {
    const res = await caches.default.match(cacheUrl(key));
    if (!res) return undefined;
    const fetchedAt = Number(res.headers.get(H_FETCHED));
    const etag = res.headers.get("ETag");
    if (!Number.isFinite(fetchedAt) || !etag) return undefined;
    const entry: Entry = { body: await res.text(), etag, fetchedAt };
    const status = Number(res.headers.get(H_STATUS));
    if (status) entry.status = status;
    const kvMeta = res.headers.get(H_KV)?.split(" ");
    if (kvMeta?.length === 2) entry.kv = { etag: kvMeta[0] ?? "", storedAt: Number(kvMeta[1]) };
    cacheStats.hits.cache_api++;
    return entry;
  } catch (err) {
    logEvent("warn", "cache_api_read_failed", { key: loggableKey(key), error: String(err) });
    return undefined;
  }
}

async function writeCacheApi(key: string, entry: Entry, keepSeconds: number): Promise<void> {
  try {
    const headers = new Headers({
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": `public, max-age=${keepSeconds}`,
      ETag: entry.etag,
      [H_FETCHED]: String(entry.fetchedAt),
    });
    if (entry.kv) headers.set(H_KV, `${entry.kv.etag} ${entry.kv.storedAt}`);
    if (entry.status) headers.set(H_STATUS, String(entry.status));
    await caches.default.put(cacheUrl(key), new Response(entry.body, { headers }));
  } catch (err) {
    logEvent("warn", "cache_api_write_failed", { key: loggableKey(key), error: String(err) });
  }
}

/** Takes KV's copy of `key` into the fast tiers when it is newer than `than` (loaded elsewhere). */
export async function adoptNewerFromKv(deps: TierDeps, key: string, than: number, keepSeconds: number): Promise<void> {
  const fromKv = await readKv(deps.kv, key);
  if (!fromKv || fromKv.fetchedAt <= than) return;
  const fast = deps.fast ?? ALL_FAST;
  if (fast.memory) memory.set(key, fromKv);
  if (fast.cacheApi) await writeCacheApi(key, fromKv, keepSeconds);
}
