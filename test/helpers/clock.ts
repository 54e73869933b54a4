import { vi } from "vitest";

/**
 * A controllable clock: the Worker reads time only through Date.now(), so stepping it here
 * moves every TTL, gate and breaker deadline without waiting. (Timers such as the upstream
 * timeout still run on real time.)
 */
export function useClock(start = Date.now()) {
  let t = start;
  vi.spyOn(Date, "now").mockImplementation(() => t);
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}
