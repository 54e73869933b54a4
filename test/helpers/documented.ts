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
} as const;

/** README, "How caching works": a family's breaker opens after this many failures in a row... */
export const DOCUMENTED_BREAKER_THRESHOLD = 5;
/** ...and rests BeatPass this long before one probe. */
export const DOCUMENTED_BREAKER_COOLDOWN_MS = 30_000;

/** README, "Routes": the largest page size. */
export const DOCUMENTED_MAX_PER_PAGE = 50;

/** README, "Errors": purge webhook bodies over 8 KiB are refused. */
export const DOCUMENTED_MAX_PURGE_BODY_BYTES = 8 * 1024;
