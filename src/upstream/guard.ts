import { logEvent } from "../lib/log";
import type { RateLimitInfo } from "./client";

/**
 * Protects BeatPass (and our one token's budget) per route family:
 *
 * - Rate-limit gate: after a 429, no request of that family leaves until Retry-After has
 *   passed. The deadline is kept in memory and in KV, so other isolates and data centres
 *   stop too (KV is eventually consistent: a far location may send a few more requests
 *   within its ~60 s propagation, which Retry-After windows of a minute absorb).
 * - Circuit breaker (per isolate): after BREAKER_THRESHOLD consecutive 5xx/timeouts/network
 *   failures it opens for BREAKER_COOLDOWN_MS, then lets exactly one probe through; the
 *   probe's outcome closes or re-opens it.
 *
 * It also remembers the last rate-limit headers and the last failure for /healthz.
 */

export const BREAKER_THRESHOLD = 5;
export const BREAKER_COOLDOWN_MS = 30_000;
/** How long a "no gate in KV" answer is trusted before KV is asked again. */
const GATE_RECHECK_MS = 5_000;

export interface GateStore {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options: { expirationTtl: number }): Promise<void>;
}

interface FamilyState {
  blockedUntil: number;
  gateCheckedAt: number;
  failures: number;
  openUntil: number;
  probing: boolean;
}

const families = new Map<string, FamilyState>();
export const upstreamHealth: {
  rateLimit?: RateLimitInfo & { seenAt: number };
  lastError?: { code: string; at: number };
} = {};

const gateKey = (family: string) => `v1:meta:gate:${family}`;

function stateOf(family: string): FamilyState {
  let s = families.get(family);
  if (!s) {
    s = { blockedUntil: 0, gateCheckedAt: 0, failures: 0, openUntil: 0, probing: false };
    families.set(family, s);
  }
  return s;
}

export type Admission =
  | { ok: true; probe: boolean }
  | { ok: false; reason: "rate_limited" | "circuit_open"; retryAfterSeconds: number };

/** Decides whether a request of `family` may go to BeatPass now. */
export async function admit(store: GateStore, family: string, now: number): Promise<Admission> {
  const s = stateOf(family);
  if (now - s.gateCheckedAt > GATE_RECHECK_MS && now >= s.blockedUntil) {
    s.gateCheckedAt = now;
    try {
      const shared = Number(await store.get(gateKey(family)));
      if (Number.isFinite(shared) && shared > s.blockedUntil) s.blockedUntil = shared;
    } catch (err) {
      logEvent("warn", "gate_read_failed", { family, error: String(err) });
    }
  }
  if (now < s.blockedUntil) {
    return { ok: false, reason: "rate_limited", retryAfterSeconds: Math.ceil((s.blockedUntil - now) / 1000) };
  }
  if (s.failures >= BREAKER_THRESHOLD) {
    if (now < s.openUntil || s.probing) {
      const wait = Math.max(1, Math.ceil((s.openUntil - now) / 1000));
      return { ok: false, reason: "circuit_open", retryAfterSeconds: wait };
    }
    s.probing = true;
    return { ok: true, probe: true };
  }
  return { ok: true, probe: false };
}

/** Records how a request that was admitted ended. */
export function settle(family: string, outcome: "ok" | "failure" | "neutral", now: number, code?: string): void {
  const s = stateOf(family);
  const wasProbe = s.probing;
  s.probing = false;
  if (outcome === "ok") {
    if (s.failures >= BREAKER_THRESHOLD) logEvent("info", "breaker_closed", { family });
    s.failures = 0;
    return;
  }
  if (code) upstreamHealth.lastError = { code, at: now };
  if (outcome === "failure") {
    s.failures++;
    if (s.failures >= BREAKER_THRESHOLD) {
      s.openUntil = now + BREAKER_COOLDOWN_MS;
      if (s.failures === BREAKER_THRESHOLD || wasProbe)
        logEvent("warn", "breaker_open", { family, failures: s.failures });
    }
  }
}

/** Closes the gate for `family` until Retry-After has passed, here and (via KV) everywhere. */
export function blockFamily(
  store: GateStore,
  family: string,
  retryAfterSeconds: number,
  now: number,
  waitUntil: (p: Promise<unknown>) => void,
): void {
  const s = stateOf(family);
  const until = now + retryAfterSeconds * 1000;
  if (until <= s.blockedUntil) return;
  s.blockedUntil = until;
  logEvent("warn", "upstream_rate_limited", { family, retry_after_s: retryAfterSeconds });
  waitUntil(
    store
      .put(gateKey(family), String(until), { expirationTtl: Math.max(60, retryAfterSeconds + 60) })
      .catch((err: unknown) => logEvent("warn", "gate_write_failed", { family, error: String(err) })),
  );
}

export function recordRateLimit(info: RateLimitInfo, now: number): void {
  if (info.remaining !== undefined || info.limit !== undefined) upstreamHealth.rateLimit = { ...info, seenAt: now };
}

/** Breaker state per family, for /healthz. */
export function breakerStates(now: number): Record<string, "closed" | "open" | "half-open"> {
  const out: Record<string, "closed" | "open" | "half-open"> = {};
  for (const [family, s] of families) {
    out[family] = s.failures < BREAKER_THRESHOLD ? "closed" : now < s.openUntil ? "open" : "half-open";
  }
  return out;
}

/** Forgets all state (tests). */
export function resetGuard(): void {
  families.clear();
  delete upstreamHealth.rateLimit;
  delete upstreamHealth.lastError;
}
