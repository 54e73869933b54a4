import { DOCUMENTED_MISS_LIMITS } from "./documented";

/**
 * Workers Rate Limiting counts per key in windows aligned to the period on the wall clock, and
 * every key's window rolls over at the same instant. miniflare's bindings do so in a service
 * of their own, on the real clock, which a test can neither read nor move (useClock() moves
 * only this isolate's Date.now()).
 */

/**
 * A Workers Rate Limiting binding that counts the way Cloudflare's does (and miniflare's:
 * per key, in windows aligned to the period, refusing without counting once the limit is
 * reached) but on this isolate's Date.now(): under useClock() the test decides where in the
 * window it is, so a burst cannot cross into the next one. For tests of what the Worker does
 * with a binding's verdicts. The numbers wrangler.toml gives the real bindings are held to the
 * README by test/e2e/start.test.ts, and the real bindings' counting is tested with inOneWindow
 * below (test/unit/miss-budget.test.ts, test/integration/consumers-limits.test.ts).
 */
export function clockedRateLimit({ limit, periodSeconds }: { limit: number; periodSeconds: number }): RateLimit {
  const counts = new Map<string, { window: number; count: number }>();
  return {
    async limit({ key }) {
      const window = Math.floor(Date.now() / (periodSeconds * 1000));
      const seen = counts.get(key);
      const count = seen?.window === window ? seen.count : 0;
      if (count >= limit) return { success: false };
      counts.set(key, { window, count: count + 1 });
      return { success: true };
    },
  };
}

/** The anonymous tier's miss budget (README: 30 a minute) on the test's clock, as call()'s env override. */
export function clockedMissBudget(): { MISS_LIMIT_ANON: RateLimit } {
  return { MISS_LIMIT_ANON: clockedRateLimit(DOCUMENTED_MISS_LIMITS.anon) };
}

// The real clock, taken before any test replaces Date.now (useClock).
const wallClock = Date.now.bind(Date);

/**
 * For tests of the real bindings: runs `burst` until one run lies within a single window of
 * `periodSeconds` (60, or 10 for the render limits) on the wall clock, and returns what that
 * run returned. A run that crossed a window boundary is thrown away whole, so `burst` must
 * start afresh each time (new clients, its own counts: it gets the attempt number) and return
 * everything the test asserts about the window: once it has returned, the window may roll
 * over at any moment.
 *
 * The check is exact: the window is read before the first and after the last of the burst's
 * requests, so every count the bindings made lies between the two readings. A run that
 * crossed is followed by one that starts at the beginning of a window; a third is never
 * needed unless a burst takes most of a window.
 */
export async function inOneWindow<T>(
  burst: (attempt: number) => Promise<T>,
  { periodSeconds = 60, attempts = 3 }: { periodSeconds?: number; attempts?: number } = {},
): Promise<T> {
  const windowOf = () => Math.floor(wallClock() / (periodSeconds * 1000));
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const window = windowOf();
    const result = await burst(attempt);
    if (windowOf() === window) return result;
  }
  throw new Error(`${attempts} bursts in a row crossed a ${periodSeconds} s window: each took most of one`);
}
