import type { Context } from "hono";
import type { CacheResult } from "../cache/kv-cache";
import type { AppEnv } from "../env";

/** RFC 9211 cache name: identifies this layer in a Cache-Status chain. */
export const CACHE_STATUS_NAME = "beatpass-edge";

/**
 * Sends a cached or freshly loaded JSON body with the HTTP caching headers that match it:
 * Cache-Control from the route's TTL, Age and a Cache-Status that says hit or miss.
 */
export function cachedJson(c: Context<AppEnv>, result: CacheResult, ttlSeconds: number, now = Date.now()): Response {
  const ageSeconds = Math.max(0, Math.floor((now - result.storedAt) / 1000));
  const headers: Record<string, string> = {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": `public, max-age=${ttlSeconds}`,
  };
  if (result.outcome === "hit") {
    headers.Age = String(ageSeconds);
    headers["Cache-Status"] = `${CACHE_STATUS_NAME}; hit; ttl=${Math.max(0, ttlSeconds - ageSeconds)}`;
  } else {
    headers["Cache-Status"] = `${CACHE_STATUS_NAME}; fwd=miss; stored`;
  }
  return c.body(result.body, 200, headers);
}
