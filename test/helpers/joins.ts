import { env } from "cloudflare:test";
import type { Env } from "../../src/env";
import { storedKey } from "./kv";

/**
 * Tells when concurrent requests for one cold key have all reached the load: each has started
 * it or is waiting on it. With the load held at the fake (fake.hold), a test waits for this
 * before it releases, instead of guessing how long the requests take to get there.
 *
 * A request's last await before it starts or joins the load is its KV read of the key (its
 * last look for a copy), or, when it read before any load was running, the charge to its miss
 * budget that follows. Both are watched through the bindings the requests are given (`env`:
 * `base` with those two wrapped, for call()'s override): `reachedLoad(n)` is true once `n` reads of the key have completed
 * and no miss charge is in flight. Checked from a timer (vi.waitFor), that means every one of
 * them has joined: what follows those awaits runs without another.
 */
export function loadWatch(
  key: string,
  base: Partial<Env> = {},
): { env: Partial<Env>; reachedLoad(requests: number): boolean } {
  const kv = base.BEATPASS_CACHE ?? env.BEATPASS_CACHE;
  const stored = storedKey(key);
  let reads = 0;
  let charging = 0;
  const watchedKv = new Proxy(kv, {
    get(target, method) {
      const value = Reflect.get(target, method);
      if (typeof value !== "function") return value;
      if (method !== "getWithMetadata") return value.bind(target);
      return async (...args: unknown[]) => {
        try {
          return await value.apply(target, args);
        } finally {
          if (args[0] === stored) reads++;
        }
      };
    },
  });
  const misses = base.MISS_LIMIT_ANON ?? env.MISS_LIMIT_ANON;
  if (!misses) throw new Error("wrangler.toml binds MISS_LIMIT_ANON");
  const watchedMisses: RateLimit = {
    async limit(options) {
      charging++;
      try {
        return await misses.limit(options);
      } finally {
        charging--;
      }
    },
  };
  return {
    env: { ...base, BEATPASS_CACHE: watchedKv, MISS_LIMIT_ANON: watchedMisses },
    reachedLoad: (requests) => reads >= requests && charging === 0,
  };
}
