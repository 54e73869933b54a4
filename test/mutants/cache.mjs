import { T } from "./files.mjs";

const ENGINE = "src/cache/engine.ts";
const TIERS = "src/cache/tiers.ts";
const MEMORY = "src/cache/memory.ts";
const PURGE = "src/cache/purge.ts";
const KEYS = "src/cache/keys.ts";
const POLICY = "src/cache/policy.ts";
const CATALOG = "src/routes/catalog.ts";
const REQUESTS = "src/schemas/requests.ts";

/** Freshness, the tiers, purges and keys: what decides whether BeatPass is asked again. */
export const CACHE = [
  {
    id: "engine-stale-served-as-fresh",
    file: ENGINE,
    from: `if (ageMs < policy.soft * 1000) {`,
    to: `if (ageMs < policy.hard * 1000) {`,
    tests: [T.resilience, T.cache],
    why: "Copies past their soft TTL would be served as fresh and never refreshed before the hard TTL.",
  },
  {
    id: "engine-hard-window-ignored",
    file: ENGINE,
    from: `if (ageMs < policy.hard * 1000) {
      refreshInBackground`,
    to: `if (ageMs < policy.staleIfError * 1000) {
      refreshInBackground`,
    tests: [T.resilience, T.cache],
    why: "Day-old copies would be served without waiting for fresh data, though BeatPass is healthy.",
  },
  {
    id: "engine-stale-if-error-unbounded",
    file: ENGINE,
    from: `if (found && now - found.entry.fetchedAt < policy.staleIfError * 1000 && opts.serveStaleOn(err)) {`,
    to: `if (found && opts.serveStaleOn(err)) {`,
    tests: [T.resilience, T.cache],
    why: "Arbitrarily old data would be served during an outage, past the promised stale-if-error window.",
  },
  {
    id: "engine-answer-keeps-copy",
    file: ENGINE,
    from: `if (found && !opts.serveStaleOn(err)) deps.waitUntil(deleteFromTiers(deps.kv, key));`,
    to: `void deleteFromTiers;`,
    tests: [T.resilience],
    why: "A track BeatPass says is gone would go on being served from the tiers.",
  },
  {
    id: "engine-no-coalescing",
    file: ENGINE,
    from: `const running = inflight.get(opts.key);
  if (running) return running;`,
    to: `const running = undefined;`,
    tests: [T.resilience],
    why: "100 concurrent misses for one key would make 100 upstream requests.",
  },
  {
    id: "engine-purge-ignored",
    file: ENGINE,
    from: `const found = stored && stored.entry.fetchedAt >= (opts.invalidBefore ?? 0) ? stored : undefined;`,
    to: `const found = stored;`,
    tests: [T.consumers],
    why: "A signed purge would change nothing: the old copy keeps being served.",
  },
  {
    id: "catalog-403-hidden-by-stale",
    file: CATALOG,
    from: `[403, 404, 410].includes(err.status ?? 0)`,
    to: `[404, 410].includes(err.status ?? 0)`,
    tests: [T.resilience],
    why: "A track BeatPass made private (403) would keep being served from a stale copy.",
  },
  {
    id: "tiers-kv-age-ignored",
    file: TIERS,
    from: `fetchedAt: metadata.fetched_at,`,
    to: `fetchedAt: Date.now(),`,
    tests: [T.cache, T.resilience],
    why: "A KV copy's age would be forgotten: old data from KV served as fresh.",
  },
  {
    id: "tiers-cache-api-age-ignored",
    file: TIERS,
    from: `const fetchedAt = Number(res.headers.get(H_FETCHED));`,
    to: `const fetchedAt = Date.now();`,
    tests: [T.cache, T.resilience],
    why: "A Cache API copy's age would be forgotten: old data served as fresh.",
  },
  {
    id: "tiers-kv-expires-early",
    file: TIERS,
    from: `expirationTtl: Math.max(KV_MIN_TTL_SECONDS, keepSeconds)`,
    to: `expirationTtl: KV_MIN_TTL_SECONDS`,
    tests: [T.cache],
    why: "The last-known-good copy would vanish after a minute, leaving nothing to serve in an outage.",
  },
  {
    id: "tiers-kv-rewrites-unchanged",
    file: TIERS,
    from: `if (kvCopy && kvCopy.etag === entry.etag && now - kvCopy.storedAt < (keepSeconds * 1000) / 2) return "unchanged";`,
    to: ``,
    tests: [T.kvDiscipline],
    why: "Every refresh would rewrite KV with the same content (KV writes are the costly, rate-limited tier).",
  },
  {
    id: "tiers-kv-write-rate-unlimited",
    file: TIERS,
    from: `if (lastWriteAt !== undefined && now - lastWriteAt < KV_MIN_WRITE_INTERVAL_MS) return "rate";`,
    to: ``,
    tests: [T.unitCache, T.kvDiscipline],
    why: "Changing content could be written to one KV key more than once a second, which KV refuses.",
  },
  {
    id: "tiers-kv-read-failure-fails-request",
    file: TIERS,
    from: `logEvent("warn", "kv_read_failed", { key, error: String(err) });
    return undefined;`,
    to: `throw err;`,
    tests: [T.cache, T.resilience],
    why: "A KV outage would fail every request instead of going to BeatPass.",
  },
  {
    id: "tiers-kv-write-failure-forgotten",
    file: TIERS,
    from: `entry.kv = kvCopy;
          if (lastKvWrite.get(key)?.at === now) lastKvWrite.delete(key);`,
    to: ``,
    tests: [T.resilience, T.unitCache],
    why: "A failed KV write would be remembered as done, so KV would never get the copy.",
  },
  {
    id: "memory-bytes-unbounded",
    file: MEMORY,
    from: `while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {`,
    to: `while (this.map.size > this.maxEntries) {`,
    tests: [T.unitCache],
    why: "A burst of large answers could take an isolate past its 128 MB.",
  },
  {
    id: "memory-fifo-not-lru",
    file: MEMORY,
    from: `this.map.delete(key);
    this.map.set(key, entry);
    return entry;`,
    to: `return entry;`,
    tests: [T.unitCache],
    why: "The hottest keys would be evicted first under pressure, as if nobody read them.",
  },
  {
    id: "purge-lists-not-invalidated",
    file: PURGE,
    from: `const EMBEDS_OTHERS = new Set([
  "tracks",`,
    to: `const EMBEDS_OTHERS = new Set([`,
    tests: [T.consumers],
    why: "A purged track's old price would live on in cached track lists.",
  },
  {
    id: "purge-sync-rare",
    file: PURGE,
    from: `export const PURGE_SYNC_MS = 5_000;`,
    to: `export const PURGE_SYNC_MS = 3_600_000;`,
    tests: [T.consumers],
    why: "Isolates that already loaded the record would learn of a purge made elsewhere only after an hour.",
  },
  {
    id: "purge-record-overwritten",
    file: PURGE,
    from: `const record = await readRecord(kv);
  for (const r of [...resources, ANY]) record[r] = now;`,
    to: `const record: Record<string, number> = {};
  for (const r of [...resources, ANY]) record[r] = now;`,
    tests: [T.consumers],
    why: "Each purge would erase the record of the ones before it, for every other isolate.",
  },
  {
    id: "purge-own-resource-ignored",
    file: PURGE,
    from: `if (res && value) t = Math.max(t, times.get(\`\${res.kind}:\${value}\`) ?? 0);`,
    to: ``,
    tests: [T.consumers],
    why: "Purging a track would not invalidate the track itself, only lists.",
  },
  {
    id: "keys-param-order",
    file: KEYS,
    from: `.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))`,
    to: ``,
    tests: [T.unitUpstream, T.cache],
    why: "The same request with its parameters in another order would be another cache key and another upstream call.",
  },
  {
    id: "keys-long-keys-unhashed",
    file: KEYS,
    from: `if (plain.length * 3 <= MAX_PLAIN_KEY_BYTES ||`,
    to: `if (true ||`,
    tests: [T.unitUpstream, T.cache],
    why: "Long search keys would exceed KV's 512-byte key limit and never be stored.",
  },
  {
    id: "policy-windows-not-nested",
    file: POLICY,
    from: `if (!(p.soft <= p.hard && p.hard <= p.staleIfError)) {`,
    to: `if (false) {`,
    tests: [T.unitCache, T.errors],
    why: "A CACHE_POLICY with hard below soft would be accepted and make freshness incoherent.",
  },
  {
    id: "requests-search-keeps-unknown-params",
    file: REQUESTS,
    from: `export const searchQuerySchema = z.object({`,
    to: `export const searchQuerySchema = z.looseObject({`,
    tests: [T.validation, T.cache],
    why: "Junk query parameters would become part of search cache keys: unlimited cold keys for one search.",
  },
  {
    id: "requests-no-query-keeps-unknown-params",
    file: REQUESTS,
    from: `export const noQuerySchema = z.object({});`,
    to: `export const noQuerySchema = z.looseObject({});`,
    tests: [T.validation, T.cache],
    why: "On routes that take no query, any ?junk=... would make a new cache key and an upstream call.",
  },
  {
    id: "requests-with-keeps-unknown-params",
    file: REQUESTS,
    from: `z.object({ with: z.optional(commaListSchema(allowed)) });`,
    to: `z.looseObject({ with: z.optional(commaListSchema(allowed)) });`,
    tests: [T.validation, T.cache],
    why: "Entity routes would key (and maybe forward) unknown query parameters.",
  },
  {
    id: "requests-list-keeps-unknown-params",
    file: REQUESTS,
    from: `export const listQuerySchema = z.pipe(z.object(listShape), z.transform(toListParams));`,
    to: `export const listQuerySchema = z.pipe(z.looseObject(listShape), z.transform(toListParams));`,
    tests: [T.validation, T.cache],
    why: "List routes would key unknown query parameters.",
    equivalent: "toListParams builds a new object from page and per_page only, so extra keys never leave the schema",
  },
];
