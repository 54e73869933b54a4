import type { UpstreamBudget } from "../budget/keeper";
import { keeperOf } from "../budget/stubs";
import { ENTRY_OVERHEAD_BYTES, SMALL_OBJECT_BYTES, stringBytes } from "../lib/byte-lru";
import { fnv1a } from "../lib/hash";
import { logEvent } from "../lib/log";
import { MEMO_BUDGET_BYTES, registerMemo } from "../lib/memo-budget";
import { cacheStats } from "./stats";

/**
 * Which keys viewers ask for most, so the scheduled refresh can renew them before they go
 * stale. Each isolate counts its own requests in memory and, at most every
 * HOT_FLUSH_INTERVAL_MS, folds its counts into the keeper's scores (src/budget/hot-scores.ts:
 * they decay, so the list follows current traffic). The interval bounds what this costs to
 * one keeper request per isolate per interval. (It was one KV record every isolate rewrote:
 * at scale, more than KV's one write per second per key.)
 *
 * No one client can steer the list. The refresh spends real upstream requests on whatever is
 * hot, so a key only counts once requests for it came from at least HOT_MIN_CLIENTS distinct
 * clients (by limit key: IPv4 address, IPv6 /64 or API key) in this isolate within one flush
 * interval; until then it is left out of the list and out of the fold. Distinct clients rather
 * than cache hits, because a single client manufactures cache hits by asking twice, while
 * distinct clients cost an attacker distinct IP /64s or keys, each separately rate-limited.
 * (The price: a key asked for by few clients in each of many isolates is not refreshed ahead;
 * it is still served from cache and refreshed on demand.)
 *
 * Memory stays small: per key, a count and at most HOT_MIN_CLIENTS 32-bit client
 * fingerprints (afterwards requests are just counted). The map holds at most its byte budget
 * (src/lib/memo-budget.ts); when it is full, the keys not yet counting are dropped to make room
 * (when they are a quarter of it or more), so junk keys cannot crowd out the ones that count.
 */
export const HOT_FLUSH_INTERVAL_MS = 5 * 60_000;
export const HOT_KEY_LIMIT = 200;
/** Distinct clients a key needs (per isolate and flush interval) before it counts as hot. */
export const HOT_MIN_CLIENTS = 3;
/** Client key for requests that come without one (no data route should; see app.ts). */
export const UNKNOWN_CLIENT = "unknown";
const LOCAL_MAX_BYTES = MEMO_BUDGET_BYTES["hot-keys"];

interface Tally {
  /** Requests for the key (from every client). */
  n: number;
  /** Fingerprints of the distinct clients seen, up to HOT_MIN_CLIENTS. */
  clients: number[];
}

const local = new Map<string, Tally>();
// Key text, the Map slot, the Tally and its fingerprints.
const tallyBytes = (key: string) =>
  stringBytes(key) + ENTRY_OVERHEAD_BYTES + 2 * SMALL_OBJECT_BYTES + 4 * HOT_MIN_CLIENTS;
let localBytes = 0;
/** Bytes of the entries of `local` that have HOT_MIN_CLIENTS clients. */
let qualifiedBytes = 0;
registerMemo("hot-keys", {
  get bytes() {
    return localBytes;
  },
  clear: clearLocal,
});

function clearLocal(): void {
  local.clear();
  localBytes = 0;
  qualifiedBytes = 0;
}
/**
 * When this isolate next folds its counts: first at a moment drawn from half an interval to
 * one and a half after it started (an interval on average), then every interval. Isolates
 * started together (a deploy) would otherwise all fold in the same second: 733 keeper calls in
 * one second of the fleet simulation at 10,000 req/s.
 */
let nextFlushAt = firstFlushAt(Date.now());

function firstFlushAt(start: number): number {
  return start + (0.5 + Math.random()) * HOT_FLUSH_INTERVAL_MS;
}

/** FNV-1a, 32 bits: fingerprints only ever merge clients (undercount), never split one. */
const fingerprint = fnv1a;

/** Counts one request for `key` by the client whose limit key is `clientKey`. */
export function recordHit(key: string, clientKey: string | undefined): void {
  let tally = local.get(key);
  if (!tally) {
    const bytes = tallyBytes(key);
    if (localBytes + bytes > LOCAL_MAX_BYTES && !makeRoom()) return;
    tally = { n: 0, clients: [] };
    local.set(key, tally);
    localBytes += bytes;
  }
  tally.n++;
  if (tally.clients.length >= HOT_MIN_CLIENTS) return;
  const fp = fingerprint(clientKey ?? UNKNOWN_CLIENT);
  if (tally.clients.includes(fp)) return;
  tally.clients.push(fp);
  if (tally.clients.length === HOT_MIN_CLIENTS) qualifiedBytes += tallyBytes(key);
}

/**
 * Drops every key not yet counting, if that frees a quarter of the map (so a sweep costs O(1)
 * per key recorded); otherwise false, and the new key is not recorded.
 */
function makeRoom(): boolean {
  if (localBytes - qualifiedBytes < LOCAL_MAX_BYTES / 4) return false;
  for (const [k, t] of local) if (t.clients.length < HOT_MIN_CLIENTS) local.delete(k);
  localBytes = qualifiedBytes;
  return true;
}

/** This isolate's counts of the keys that count. */
function countingKeys(): [string, number][] {
  const out: [string, number][] = [];
  for (const [k, t] of local) if (t.clients.length >= HOT_MIN_CLIENTS) out.push([k, t.n]);
  return out;
}

/** Folds local counts into the keeper's scores when the interval has passed. */
export function maybeFlushHotKeys(
  ns: DurableObjectNamespace<UpstreamBudget> | undefined,
  waitUntil: (p: Promise<unknown>) => void,
  now: number,
): void {
  if (now < nextFlushAt || local.size === 0) return;
  nextFlushAt = now + HOT_FLUSH_INTERVAL_MS;
  const counts = countingKeys();
  clearLocal();
  const keeper = keeperOf(ns);
  if (counts.length === 0 || !keeper) return;
  cacheStats.hot_folds++;
  waitUntil(
    keeper.foldHot(counts).catch((err: unknown) => logEvent("warn", "hot_keys_flush_failed", { error: String(err) })),
  );
}

/** The hottest keys: the keeper's scores plus this isolate's unflushed counts. */
export async function hotKeys(
  ns: DurableObjectNamespace<UpstreamBudget> | undefined,
  limit = HOT_KEY_LIMIT,
): Promise<string[]> {
  const merged: Record<string, number> = {};
  const keeper = keeperOf(ns);
  try {
    if (keeper)
      (await keeper.hotKeys(limit)).forEach((k, i) => {
        merged[k] = limit - i;
      });
  } catch (err) {
    logEvent("warn", "hot_keys_read_failed", { error: String(err) });
  }
  for (const [k, n] of countingKeys()) merged[k] = (merged[k] ?? 0) + n;
  return Object.entries(merged)
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([k]) => k);
}

/** Forgets local counts and draws the first fold's moment afresh, as a new isolate (tests, the simulation). */
export function resetHotKeys(now = Date.now()): void {
  clearLocal();
  nextFlushAt = firstFlushAt(now);
}
