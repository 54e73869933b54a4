/**
 * Numbers the README promises, written here on their own rather than imported from src/: a
 * test that reads its expected value from the code under test follows the code when it
 * changes, and then catches nothing.
 */

/** README, "Configuration": per-client limits per 60 s. */
export const DOCUMENTED_LIMITS = {
  anon: { limit: 120, periodSeconds: 60 },
  standard: { limit: 600, periodSeconds: 60 },
  partner: { limit: 3000, periodSeconds: 60 },
} as const;

/** README, "How caching works": the windows per family, in seconds. */
export const DOCUMENTED_POLICY = {
  entity: { soft: 300, hard: 3600, staleIfError: 86_400 },
  list: { soft: 120, hard: 900, staleIfError: 21_600 },
  search: { soft: 60, hard: 300, staleIfError: 3600 },
  taxonomy: { soft: 3600, hard: 86_400, staleIfError: 604_800 },
  media: { soft: 86_400, hard: 604_800, staleIfError: 2_592_000 },
  /** BeatPass's 404/410/403, cached as answers. */
  negative: { soft: 60, hard: 600, staleIfError: 600 },
} as const;

/** README, "How caching works": a family's breaker opens after this many failures in a row... */
export const DOCUMENTED_BREAKER_THRESHOLD = 5;
/** ...and rests BeatPass this long before one probe. */
export const DOCUMENTED_BREAKER_COOLDOWN_MS = 30_000;

/** README, "Routes": the largest page size. */
export const DOCUMENTED_MAX_PER_PAGE = 50;

/** README, "Errors": purge webhook bodies over 8 KiB are refused. */
export const DOCUMENTED_MAX_PURGE_BODY_BYTES = 8 * 1024;

/** README, "Configuration": cache misses (requests that go to BeatPass) per client per 60 s. */
export const DOCUMENTED_MISS_LIMITS = {
  anon: { limit: 30, periodSeconds: 60 },
  standard: { limit: 120, periodSeconds: 60 },
  partner: { limit: 600, periodSeconds: 60 },
} as const;

/** docs/configuration.md and docs/widgets.md: SVG and PNG cards drawn afresh per client per 10 s. */
export const DOCUMENTED_RENDER_LIMITS = {
  anon: { limit: 10, periodSeconds: 10 },
  standard: { limit: 40, periodSeconds: 10 },
  partner: { limit: 200, periodSeconds: 10 },
} as const;

/** docs/widgets.md, "Being refused": how long a refused client is remembered, how long a refusal waits, how many wait at once. */
export const DOCUMENTED_REFUSAL_MEMORY_MS = 1000;
export const DOCUMENTED_REFUSAL_PAUSE_MS = 250;
export const DOCUMENTED_MAX_PAUSED = 256;

/** docs/widgets.md, "PNG cards": the widths a link preview is drawn at. */
export const DOCUMENTED_PNG_WIDTHS = [200, 300, 400, 600, 800, 1200] as const;

/** README, "How caching works": a key is refreshed ahead once this many distinct clients asked for it. */
export const DOCUMENTED_HOT_MIN_CLIENTS = 3;

/** In-isolate memos together stay within this, by their own estimate (an isolate has 128 MB). */
export const DOCUMENTED_MEMO_BUDGET_BYTES = 32 * 1024 * 1024;

/** README, "Budget": BeatPass requests per minute for the whole deployment (80% of 300). */
export const DOCUMENTED_UPSTREAM_BUDGET_PER_MINUTE = 240;
/**
 * docs/caching.md, "Fair shares": the share of the budget's minute one network group (an
 * anonymous IPv4 /24 or IPv6 /48, or one API key) may hold, and the part of each lease kept
 * for networks that have not spent this minute.
 */
export const DOCUMENTED_GROUP_SHARE = {
  anon: 0.1,
  standard: 0.25,
  partner: 0.5,
  newVisitors: 0.2,
  /** The share of the budget in use from which shares apply. */
  pressure: 0.5,
} as const;
/** docs/caching.md, "Quota leases": how long a lease may be spent from, and the most one isolate holds. */
export const DOCUMENTED_LEASE = { ms: 30_000, maxShare: 0.25 } as const;
/** README, "Budget": a key that just failed (5xx, timeout, network) is not asked for again for this long. */
export const DOCUMENTED_KEY_FAILURE_MS = 10_000;
/** docs/caching.md, "Coordinators": for this long after a load, its coordinator hands its body to later misses. */
export const DOCUMENTED_RELAY_MS = 60_000;
