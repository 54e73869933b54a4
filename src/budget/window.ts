/**
 * The upstream budget as plain data and pure functions, so the Durable Object, the
 * per-isolate fallback and the fleet simulation all decide with the same code.
 *
 * The bucket's tokens come back WINDOW_MS (plus TRANSIT_MS) after they were spent: a sliding window, the way
 * BeatPass counts (docs/beatpass-api/REFERENCE.md §2: "60 requests per minute means 60 within any 60-second
 * window"). A classic token bucket refilled at N/min with a burst of N would let 2N through
 * in one 60-second window; this never grants more than N in any window.
 */

export type PermitClass = "viewer" | "refresh" | "scheduled";

export const WINDOW_MS = 60_000;
/**
 * How long a permit stays spent: BeatPass's window plus the time a request may take to reach
 * it after its grant (keeper to isolate, isolate to BeatPass). Counted from the grant alone,
 * that transit's jitter let the fleet simulation (sim/) see 241-242 requests arrive within
 * one of BeatPass's 60 s windows for a budget of 240.
 */
export const TRANSIT_MS = 2_000;
export const HELD_MS = WINDOW_MS + TRANSIT_MS;
/** 80% of BeatPass's documented 300/min: the rest is the operator's other use of the token. */
export const DEFAULT_UPSTREAM_BUDGET_PER_MINUTE = 240;

/**
 * The share of the window each class must leave unspent, for the classes above it. Viewers
 * waiting on a miss have no copy to fall back on; refreshes and refresh-ahead only keep
 * copies young, and their viewers are served the stale copy meanwhile.
 */
export const CLASS_RESERVE: Record<PermitClass, { share: number; why: string }> = {
  viewer: { share: 0, why: "a viewer waiting on a miss has nothing else to be shown: it may spend the last permit" },
  refresh: {
    share: 0.25,
    why: "a stale-while-revalidate refresh has a copy already being served: it leaves a quarter for viewers' misses",
  },
  scheduled: {
    share: 0.5,
    why: "refresh-ahead is an optimisation for keys still fresh: it runs only while half the window is unspent",
  },
};

export interface BudgetWindow {
  /** When each permit of the last WINDOW_MS was granted, oldest first. */
  grants: number[];
  /** No permit until then (BeatPass answered 429 with Retry-After). */
  pausedUntil: number;
}

export type Decision = { ok: true } | { ok: false; reason: "paused" | "budget"; retryAfterMs: number };

export function emptyWindow(): BudgetWindow {
  return { grants: [], pausedUntil: 0 };
}

/** Drops grants that have left the window. */
export function prune(w: BudgetWindow, now: number): void {
  let i = 0;
  while (i < w.grants.length && (w.grants[i] as number) <= now - HELD_MS) i++;
  if (i > 0) w.grants.splice(0, i);
}

/** Permits class `cls` may still take now (after prune). */
export function headroom(w: BudgetWindow, cls: PermitClass, perMinute: number): number {
  const usable = perMinute - Math.floor(CLASS_RESERVE[cls].share * perMinute);
  return Math.max(0, usable - w.grants.length);
}

/** Whether `cls` may spend one request now; does not change the window. */
export function decide(w: BudgetWindow, cls: PermitClass, now: number, perMinute: number): Decision {
  if (now < w.pausedUntil) return { ok: false, reason: "paused", retryAfterMs: w.pausedUntil - now };
  prune(w, now);
  if (headroom(w, cls, perMinute) > 0) return { ok: true };
  // The class gets a permit once enough of the oldest grants have aged out.
  const usable = perMinute - Math.floor(CLASS_RESERVE[cls].share * perMinute);
  const freeing = w.grants[Math.max(0, w.grants.length - usable)];
  const retryAfterMs = freeing === undefined ? HELD_MS : freeing + HELD_MS - now;
  return { ok: false, reason: "budget", retryAfterMs: Math.max(1, retryAfterMs) };
}

export function spend(w: BudgetWindow, now: number): void {
  w.grants.push(now);
}

/** Stops every permit until `until` (a later pause wins; an earlier one changes nothing). */
export function pauseUntil(w: BudgetWindow, until: number): boolean {
  if (until <= w.pausedUntil) return false;
  w.pausedUntil = until;
  return true;
}
