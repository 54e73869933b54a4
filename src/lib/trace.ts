/**
 * What one request did, filled in as it goes and written out once by the observe
 * middleware (one log line, Server-Timing). Plain data: no Hono, no secrets.
 */
export interface Trace {
  /** hit / stale / stale-if-error / miss / collapsed. */
  cache?: string;
  /** Which tier served a hit. */
  tier?: string;
  upstreamStatus?: number;
  /** Time spent waiting on BeatPass in this request, ms. */
  upstreamMs?: number;
  /** Time spent in the cache lookup before any upstream call, ms. */
  cacheMs?: number;
  /** Time a load waited for its permit, ms (0 with a live lease: only a renewal is waited for). */
  budgetMs?: number;
  /** Time spent asking a coordinator whether another isolate is loading the key, ms. */
  coordMs?: number;
  /** The data centre that served the request (request.cf.colo). */
  colo?: string;
}

export type ClientTier = "anon" | "standard" | "partner";

/** Who is calling, for limits and logs: an API key's id, or "anon" (IPs are never logged). */
export interface Client {
  tier: ClientTier;
  /** Key id (the first 12 hex digits of its hash) for keyed clients. */
  keyId?: string;
  /**
   * What this client's limits are counted under: `key:<id>` for a keyed client, otherwise its
   * IPv4 address or IPv6 /64 (`ip:...`, see src/clients/ip.ts). Never logged: it holds an IP.
   */
  limitKey: string;
  /**
   * Charges this request to the client's deployment-wide request limit (at most once; throws
   * 429 when spent). Set by clientLimits; the cache engine calls it when the request reaches
   * past this isolate's memory (src/clients/local-limit.ts).
   */
  chargeShared?: () => Promise<void>;
}
