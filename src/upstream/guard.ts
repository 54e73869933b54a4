import { logEvent } from "../lib/log";

/** BeatPass's X-RateLimit-* headers of its last answer (here, not in client.ts: the guard keeps them). */
export interface RateLimitInfo {
  limit?: number;
  remaining?: number;
  resetAt?: number;
}

/**
 * This isolate's view of BeatPass's health, consulted before every upstream request:
 *
 * - The 429 pause: after a 429 no request leaves until Retry-After has passed. It covers
 *   every family, because BeatPass counts one limit for the token across endpoints
 *   (docs/beatpass-api/REFERENCE.md §2) and cannot tell us which limit tripped. The budget keeper spreads it
 *   to every other isolate (src/budget/); this copy saves the round trip meanwhile.
 * (One key's repeated failures are that key's problem: the cache engine remembers its error
 * for KEY_FAILURE_MS, src/cache/engine.ts, so they never reach this far.)
 * - A circuit breaker per family: it opens only when BREAKER_THRESHOLD *distinct* keys have
 *   failed within BREAKER_WINDOW_MS with no success between, so one client repeating one
 *   failing id cannot stall the family for everyone. Open for BREAKER_COOLDOWN_MS, then
 *   exactly one probe; the probe's outcome closes or re-opens it.
 *
 * It also remembers the last rate-limit headers and the last failure for /healthz.
 */

export const BREAKER_THRESHOLD = 5;
export const BREAKER_WINDOW_MS = 30_000;
export const BREAKER_COOLDOWN_MS = 30_000;
export const KEY_FAILURE_MS = 10_000;

interface FamilyState {
  /** Distinct keys that failed since the last success, with when. */
  failing: Map<string, number>;
  /** 0 while closed; else when the next probe may go. */
  openUntil: number;
  probing: boolean;
}

const families = new Map<string, FamilyState>();
let pausedUntil = 0;

export const upstreamHealth: {
  rateLimit?: RateLimitInfo & { seenAt: number };
  lastError?: { code: string; at: number };
} = {};

function stateOf(family: string): FamilyState {
  let s = families.get(family);
  if (!s) {
    s = { failing: new Map(), openUntil: 0, probing: false };
    families.set(family, s);
  }
  return s;
}

export type Admission =
  | { ok: true; probe: boolean }
  | { ok: false; reason: "rate_limited" | "circuit_open"; retryAfterSeconds: number };

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** Whether a request of `family` would be refused now, without taking the breaker's probe. */
export function check(family: string, now: number): Admission {
  if (now < pausedUntil) return { ok: false, reason: "rate_limited", retryAfterSeconds: seconds(pausedUntil - now) };
  const s = families.get(family);
  if (s && s.openUntil > 0 && (now < s.openUntil || s.probing)) {
    return { ok: false, reason: "circuit_open", retryAfterSeconds: seconds(s.openUntil - now) };
  }
  return { ok: true, probe: false };
}

/** Decides whether a request of `family` may go to BeatPass now (taking the probe if due). */
export function admit(family: string, now: number): Admission {
  const checked = check(family, now);
  if (!checked.ok) return checked;
  const s = stateOf(family);
  if (s.openUntil > 0) {
    if (now < s.openUntil || s.probing) {
      return { ok: false, reason: "circuit_open", retryAfterSeconds: seconds(s.openUntil - now) };
    }
    s.probing = true;
    return { ok: true, probe: true };
  }
  return { ok: true, probe: false };
}

/** Records how a request that was admitted ended. */
export function settle(
  family: string,
  key: string,
  outcome: "ok" | "failure" | "neutral",
  now: number,
  code?: string,
): void {
  const s = stateOf(family);
  const wasProbe = s.probing;
  s.probing = false;
  if (outcome === "ok") {
    if (s.openUntil > 0) logEvent("info", "breaker_closed", { family });
    s.failing.clear();
    s.openUntil = 0;
    return;
  }
  if (code) upstreamHealth.lastError = { code, at: now };
  if (outcome !== "failure") return;
  if (wasProbe) {
    s.openUntil = now + BREAKER_COOLDOWN_MS;
    logEvent("warn", "breaker_open", { family, failing_keys: s.failing.size, probe: true });
    return;
  }
  for (const [k, at] of s.failing) if (now - at > BREAKER_WINDOW_MS) s.failing.delete(k);
  s.failing.set(key, now);
  if (s.openUntil === 0 && s.failing.size >= BREAKER_THRESHOLD) {
    s.openUntil = now + BREAKER_COOLDOWN_MS;
    logEvent("warn", "breaker_open", { family, failing_keys: s.failing.size });
  }
}

/** BeatPass answered 429: stop asking it, here at once, until Retry-After has passed. */
export function pause(retryAfterSeconds: number, now: number): boolean {
  const until = now + retryAfterSeconds * 1000;
  if (until <= pausedUntil) return false;
  pausedUntil = until;
  logEvent("warn", "upstream_rate_limited", { retry_after_s: retryAfterSeconds });
  return true;
}

export function recordRateLimit(info: RateLimitInfo, now: number): void {
  if (info.remaining !== undefined || info.limit !== undefined) upstreamHealth.rateLimit = { ...info, seenAt: now };
}

/** Breaker state per family, for /healthz. */
export function breakerStates(now: number): Record<string, "closed" | "open" | "half-open"> {
  const out: Record<string, "closed" | "open" | "half-open"> = {};
  for (const [family, s] of families) {
    out[family] = s.openUntil === 0 ? "closed" : now < s.openUntil ? "open" : "half-open";
  }
  return out;
}

/** Forgets all state (tests). */
export function resetGuard(): void {
  families.clear();
  pausedUntil = 0;
  delete upstreamHealth.rateLimit;
  delete upstreamHealth.lastError;
}
