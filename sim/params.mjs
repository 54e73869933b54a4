/**
 * Every number the fleet simulation assumes about the world, in one place, each with where it
 * comes from. What the Worker itself decides (TTLs, budgets, leases, limits) is not here: it is
 * read from the Worker's own code and wrangler.toml. Scenarios (sim/scenarios.mjs) override
 * the traffic-shaped ones.
 */
export const PARAMS = {
  seed: { value: 20261202, source: "any fixed value: the run is deterministic for a given seed" },

  // ---- the fleet ----
  dataCentres: { value: 50, source: "scenario; Cloudflare runs 300+ locations" },
  isolatesPerDc: { value: 2, source: "scenario; a busy location runs several isolates of one Worker" },
  dcTrafficSkew: {
    value: 0.8,
    source: "assumed: visitors concentrate in a few metros; Zipf exponent over data centres",
  },
  isolateMeanLifetimeS: {
    value: 900,
    source:
      "assumed: Cloudflare publishes no figure; isolates are evicted for memory, idleness and deploys (exponential, mean 15 min)",
  },
  isolateDrainS: { value: 30, source: "Workers: waitUntil work may run up to 30 s after the response" },

  // ---- storage ----
  cacheApiMs: { value: 1, source: "assumed: Cache API is local to the data centre (sub-millisecond to a few ms)" },
  kvHotReadMs: {
    value: 3,
    source: "Cloudflare KV docs: hot reads served from the location's cache in single-digit ms",
  },
  kvColdReadMs: {
    value: 60,
    source: "assumed: a read that misses the location's cache goes to a central store (tens of ms)",
  },
  kvReadCacheS: {
    value: 60,
    source: "Cloudflare KV docs: reads are cached at the location for cacheTtl, default 60 s",
  },
  kvWriteMs: { value: 30, source: "assumed: a put is acknowledged by the location, tens of ms" },
  kvWritePropagationS: {
    value: 60,
    source:
      "Cloudflare KV docs: a write may take up to 60 s or more to be visible in other locations; drawn uniformly from 0 to this per write, after which a location still sees its cached read until that expires (kvReadCacheS)",
  },
  objectServiceMs: {
    value: 1,
    source:
      "Cloudflare's Durable Objects docs: one object runs one call at a time and handles about 1,000 simple requests a second (1 ms each)",
  },
  keeperRttMs: {
    value: [10, 300],
    source:
      "assumed: round trip from a data centre to an object placed elsewhere (the keeper, a key shard), uniform by distance, from a neighbouring metro (10 ms) to the other side of the world (~300 ms)",
  },
  keeperCapacityPerS: {
    value: 1000,
    source: "Cloudflare's Durable Objects docs: about 1,000 simple requests a second per object (objectServiceMs)",
  },
  localObjectRttMs: {
    value: 2,
    source: "assumed: a location's own coordinator is created by, and placed beside, the isolates that use it",
  },

  // ---- BeatPass ----
  upstreamLimitPerMinute: {
    value: 300,
    source: "docs/beatpass-api/REFERENCE.md §2: 300 requests/min per token, sliding window",
  },
  otherUserPerMinute: {
    value: 60,
    source:
      "issue #26: BeatPass's other user of the token spends 60 a minute (the 20% the default budget of 240 leaves of 300); one request a second, counted in BeatPass's window",
  },
  upstreamRetryAfterS: { value: 60, source: "docs/beatpass-api/REFERENCE.md §2: 429 carries Retry-After: 60" },
  upstreamLatencyMedianMs: { value: 180, source: "assumed: a Laravel API behind a CDN, median" },
  upstreamLatencySigma: { value: 0.6, source: "assumed: log-normal spread (p99 ~ 4x the median)" },
  upstream5xxShare: { value: 0.001, source: "assumed: occasional 5xx (0.1% of requests)" },
  outageLatencyMs: { value: 40, source: "assumed: during an outage the origin's load balancer answers 503 quickly" },
  contentChangeShare: {
    value: 0.2,
    source: "assumed: one reload in five finds a track changed (play count, price): new ETag, new KV write",
  },

  // ---- traffic ----
  requestsPerSecond: { value: 1000, source: "scenario" },
  keys: { value: 20_000, source: "assumed: distinct URLs embedded across the web (tracks, albums, lists, searches)" },
  keySkew: { value: 1.0, source: "assumed: embed popularity is heavy-tailed (Zipf s = 1)" },
  viewers: { value: 500_000, source: "assumed: distinct viewer IPs over the run" },
  routeMix: {
    value: { track: 0.55, card: 0.2, album: 0.05, artist: 0.05, list: 0.05, search: 0.1 },
    source:
      "assumed: mostly single tracks (JSON and cards; a card reads the same cached track), some lists and searches",
  },
  durationS: { value: 1800, source: "issue #13: every scenario covers at least 30 simulated minutes" },
  preloadS: {
    value: 3600,
    source:
      "assumed: the deployment has served this catalogue before; KV starts with a copy of every key, fetched at a random moment of the last hour (the flash track and attackers' URLs are new)",
  },

  // ---- measuring ----
  cpuMsPerHit: {
    value: 0.1,
    source: "bench/RESULTS.md: workerd CPU per cached answer is ~0.06-0.1 ms; the higher end",
  },
  cpuMsPerMiss: {
    value: 1.5,
    source: "bench/RESULTS.md: a miss adds validation, JSON parse and projection of BeatPass's body (~1-2 ms)",
  },
};

/** The parameter values alone, with `overrides` applied (unknown names are an error). */
export function params(overrides = {}) {
  const out = {};
  for (const [name, p] of Object.entries(PARAMS)) out[name] = p.value;
  for (const [name, v] of Object.entries(overrides)) {
    if (!(name in PARAMS)) throw new Error(`unknown simulation parameter: ${name}`);
    out[name] = v;
  }
  return out;
}
