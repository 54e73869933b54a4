import { fnv1a } from "../lib/hash";
import { isolateSalt, quota } from "./isolate-lease";

/**
 * Which loads this isolate holds back for a while, so the same question is not asked again
 * and again: keys a coordinator said to skip, refreshes refused (the stale copy is served
 * meanwhile), and each stale key's place in the spread of the fleet's refreshes. State only:
 * admission.ts consults it before a refresh asks its coordinator.
 */

/** A key a coordinator said to skip is not asked about again here for this long. */
export const SKIP_MEMO_MS = 5_000;
/**
 * A key whose refresh was refused is not refreshed again here for this long: its viewers are
 * served the stale copy meanwhile, and once it passes its hard window a viewer's miss asks
 * at viewer priority regardless.
 */
export const REFUSED_REFRESH_MEMO_MS = 30_000;
const SKIP_MEMO_MAX_KEYS = 5_000;
/**
 * A key's copies go stale in every isolate at once (they hold the same load), and each would
 * ask the key's shard then: each isolate waits its own share of a spread as long as the
 * deployment's isolates need to ask at no more than this many a second (the keeper says how
 * many there are), at most a quarter of the stale window. The first to ask refreshes the key;
 * the others are handed its load or told to skip, one call each.
 */
export const REFRESH_ASKS_PER_S = 100;
/** Stale windows of refreshes a new isolate is about to ask for, until it knows the fleet (holdsBack, begin). */
export const coldWindows = new Map<string, number>();

/** Keys not asked about again here before a time (remember). */
export const skipped = new Map<string, number>();
/** No refresh, or no refresh-ahead, asks before then (after a refusal). */
export const backoff = { refresh: 0, scheduled: 0 };

/**
 * How long this isolate's place in the spread of `key`'s refreshes is still ahead of `elapsed`
 * (0: reached). The others' asks are what is spread, so an isolate alone refreshes at once.
 */
export function placeAhead(key: string, elapsed: number, windowMs: number): number {
  const salt = isolateSalt();
  const spread = Math.min(Math.ceil(((quota.isolates - 1) * 1000) / REFRESH_ASKS_PER_S), windowMs / 4);
  return spread >= 1 ? Math.max(0, (fnv1a(salt + key) % spread) - elapsed) : 0;
}

/** `key` is not asked about again here for `ms`. */
export function remember(key: string, now: number, ms = SKIP_MEMO_MS): void {
  if (skipped.size >= SKIP_MEMO_MAX_KEYS) {
    for (const [k, until] of skipped) if (until <= now) skipped.delete(k);
    if (skipped.size >= SKIP_MEMO_MAX_KEYS) skipped.clear();
  }
  skipped.set(key, now + ms);
}

/** Holds nothing back (a cold isolate: resetAdmission; its new salt is isolate-lease.ts's). */
export function resetPacing(): void {
  skipped.clear();
  coldWindows.clear();
  backoff.refresh = backoff.scheduled = 0;
}
