import { logEvent } from "../lib/log";

/**
 * A circuit breaker per family (guard.ts asks it): it opens only when BREAKER_THRESHOLD
 * *distinct* keys have failed within BREAKER_WINDOW_MS with no success between, so one client
 * repeating one failing id cannot stall the family for everyone. Open for BREAKER_COOLDOWN_MS,
 * then exactly one probe; the probe's outcome closes or re-opens it. (One key's repeated
 * failures are that key's problem: the cache engine remembers its error for KEY_FAILURE_MS.)
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

function stateOf(family: string): FamilyState {
  let s = families.get(family);
  if (!s) {
    s = { failing: new Map(), openUntil: 0, probing: false };
    families.set(family, s);
  }
  return s;
}

/** When the family's breaker lets a request through again (0: it does now), without taking the probe. */
export function openUntil(family: string, now: number): number {
  const s = families.get(family);
  return s && s.openUntil > 0 && (now < s.openUntil || s.probing) ? s.openUntil : 0;
}

/** Takes the family's probe if one is due: true when the request may go. */
export function pass(family: string, now: number): { ok: boolean; probe: boolean } {
  const s = stateOf(family);
  if (s.openUntil === 0) return { ok: true, probe: false };
  if (now < s.openUntil || s.probing) return { ok: false, probe: false };
  s.probing = true;
  return { ok: true, probe: true };
}

/** Records how a request that was let through ended. */
export function record(family: string, key: string, outcome: "ok" | "failure" | "neutral", now: number): void {
  const s = stateOf(family);
  const wasProbe = s.probing;
  s.probing = false;
  if (outcome === "ok") {
    if (s.openUntil > 0) logEvent("info", "breaker_closed", { family });
    s.failing.clear();
    s.openUntil = 0;
    return;
  }
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

/** Breaker state per family, for /healthz. */
export function breakerStates(now: number): Record<string, "closed" | "open" | "half-open"> {
  const out: Record<string, "closed" | "open" | "half-open"> = {};
  for (const [family, s] of families) {
    out[family] = s.openUntil === 0 ? "closed" : now < s.openUntil ? "open" : "half-open";
  }
  return out;
}

export function resetBreakers(): void {
  families.clear();
}
