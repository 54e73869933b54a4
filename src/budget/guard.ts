import { recordError } from "../upstream/health";
import * as breaker from "./breaker";
import { pausedUntilHere, retrySeconds as seconds } from "./isolate-lease";

/**
 * Before each request to BeatPass (the upstream client, src/upstream/get.ts), whatever the
 * load's permit: the 429 pause heard here (isolate-lease.ts) and the family's breaker
 * (breaker.ts); after it, how it ended, for the breaker and /healthz.
 */

export type Admission =
  | { ok: true; probe: boolean }
  | { ok: false; reason: "rate_limited" | "circuit_open"; retryAfterSeconds: number };

/** Whether a request of `family` would be refused now (the pause, the breaker), taking nothing. */
export function check(family: string, now: number): Admission {
  const pausedUntil = pausedUntilHere();
  if (now < pausedUntil) return { ok: false, reason: "rate_limited", retryAfterSeconds: seconds(pausedUntil - now) };
  const open = breaker.openUntil(family, now);
  if (open) return { ok: false, reason: "circuit_open", retryAfterSeconds: seconds(open - now) };
  return { ok: true, probe: false };
}

/** As check, taking the breaker's probe when one is due: the request goes now if ok. */
export function admit(family: string, now: number): Admission {
  const checked = check(family, now);
  if (!checked.ok) return checked;
  const { ok, probe } = breaker.pass(family, now);
  return ok ? { ok: true, probe } : { ok: false, reason: "circuit_open", retryAfterSeconds: 1 };
}

/** How a request that was admitted ended (for the breaker and /healthz). */
export function settle(family: string, key: string, outcome: "ok" | "failure" | "neutral", now: number, code?: string) {
  if (code && outcome !== "ok") recordError(code, now);
  breaker.record(family, key, outcome, now);
}
