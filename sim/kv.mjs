import { rng } from "./random.mjs";

/**
 * Workers KV as the Worker sees it from many data centres (Cloudflare's KV docs, "How KV works"):
 *
 * - a central store, which a put reaches up to `kvWritePropagationS` after it is made (uniform);
 * - a read cache in every data centre: a read that misses it fetches from the central store
 *   (slow) and keeps what it found, including "no such key", for `kvReadCacheS`; a read
 *   within that time gets the kept answer (fast), however stale;
 * - the data centre that wrote a key reads its own write at once;
 * - at most one write per second to a key (a faster one fails, as KV's 429 does);
 * - values expire at their expirationTtl.
 *
 * Every read and write is counted: KV bills each read, cached or not, found or not.
 */
export class SimKv {
  /** key -> versions, oldest first: { value, metadata, expiresAt, visibleAt }. */
  #versions = new Map();
  /** data centre -> key -> { version | null, until }. */
  #cached = new Map();
  #lastWrite = new Map();
  reads = 0;
  writes = 0;
  rejectedWrites = 0;

  constructor(queue, p, random = rng(p.seed + 2)) {
    this.queue = queue;
    this.p = p;
    this.random = random;
  }

  /** What the central store holds for `key` now (undefined: nothing, or expired). */
  central(key) {
    const now = this.queue.now;
    const versions = this.#versions.get(key);
    if (!versions) return undefined;
    for (let i = versions.length - 1; i >= 0; i--) {
      const v = versions[i];
      if (v.visibleAt <= now) {
        // Older versions can never be read again.
        if (i > 0) versions.splice(0, i);
        return v.expiresAt > now ? v : undefined;
      }
    }
    return undefined;
  }

  /** A read from data centre `dc`: the version seen (or undefined) and how long it took. */
  read(dc, key) {
    this.reads++;
    const now = this.queue.now;
    const cache = this.#cacheOf(dc);
    const kept = cache.get(key);
    if (kept && kept.until > now) {
      const v = kept.version;
      return { version: v && v.expiresAt > now ? v : undefined, ms: this.p.kvHotReadMs };
    }
    const version = this.central(key);
    cache.set(key, { version, until: now + this.p.kvReadCacheS * 1000 });
    return { version, ms: this.p.kvColdReadMs };
  }

  /** A put from data centre `dc`; throws as KV does past one write per second per key. */
  write(dc, key, value, options = {}) {
    const now = this.queue.now;
    const last = this.#lastWrite.get(key);
    if (last !== undefined && now - last < 1000) {
      this.rejectedWrites++;
      throw new Error("KV PUT failed: 429 Too Many Requests (one write per second per key)");
    }
    this.writes++;
    this.#lastWrite.set(key, now);
    const ttl = options.expirationTtl;
    const version = {
      value: String(value),
      metadata: options.metadata ?? null,
      expiresAt: ttl ? now + ttl * 1000 : Number.POSITIVE_INFINITY,
      visibleAt: now + this.random() * this.p.kvWritePropagationS * 1000,
    };
    const versions = this.#versions.get(key) ?? [];
    versions.push(version);
    this.#versions.set(key, versions);
    this.#cacheOf(dc).set(key, { version, until: now + this.p.kvReadCacheS * 1000 });
  }

  /**
   * The KVNamespace binding for code running in data centre `dc`. `deliver(ms, fn)` answers
   * after `ms` of simulated time (and never, if the calling isolate has died meanwhile).
   */
  binding(dc, deliver) {
    const get = (key, type) => {
      const { version, ms } = this.read(dc, key);
      return deliver(ms, () => decode(version, typeof type === "object" ? type.type : type));
    };
    return {
      get,
      getWithMetadata: (key, type) => {
        const { version, ms } = this.read(dc, key);
        return deliver(ms, () => ({
          value: decode(version, typeof type === "object" ? type.type : type),
          metadata: version ? structuredClone(version.metadata) : null,
        }));
      },
      put: (key, value, options) =>
        deliver(this.p.kvWriteMs, () => {
          this.write(dc, key, value, options);
        }),
    };
  }

  #cacheOf(dc) {
    const cache = this.#cached.get(dc) ?? new Map();
    this.#cached.set(dc, cache);
    return cache;
  }
}

function decode(version, type = "text") {
  if (!version) return null;
  return type === "json" ? JSON.parse(version.value) : version.value;
}
