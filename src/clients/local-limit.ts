import { SMALL_OBJECT_BYTES } from "../lib/byte-lru";
import { memo } from "../lib/memo-budget";
import type { ClientTier } from "../lib/trace";
import { TIER_LIMITS } from "./tiers";

/**
 * A client's requests counted in this isolate: the tier's limit per period, in fixed windows
 * of Date.now(). A request served from this isolate's memory costs this isolate's CPU and
 * nothing shared, so this isolate is the authority for it, with no I/O on a hit's path (the
 * Rate Limiting binding was most of a hit's cost under `wrangler dev`: bench/RESULTS.md).
 * Requests that reach past memory (KV, the Cache API, BeatPass: what the deployment shares)
 * are also charged to the deployment-wide binding (limits.ts, `Client.chargeShared`).
 */
interface Window {
  start: number;
  count: number;
}

const windows = memo<Window>("local-limits", { sizeOf: () => SMALL_OBJECT_BYTES });

/** Counts one request for `limitKey`: whether the tier's limit for this window still holds. */
export function withinHere(limitKey: string, tier: ClientTier, now: number): boolean {
  const { limit, periodSeconds } = TIER_LIMITS[tier];
  const period = periodSeconds * 1000;
  const start = now - (now % period);
  const w = windows.get(limitKey);
  if (!w || w.start !== start) {
    windows.set(limitKey, { start, count: 1 });
    return true;
  }
  w.count++;
  return w.count <= limit;
}
