import { logEvent } from "../lib/log";
import { type Entry, newEntry } from "./entry";
import type { FamilyPolicy } from "./policy";
import { cacheStats } from "./stats";
import { deleteFromTiers, readTiers, type Tier, type TierDeps, writeTiers } from "./tiers";

/**
 * The cache engine: one call answers "give me the body for this key" from the tiers or from
 * BeatPass, deciding freshness from each entry's fetch time and the family's policy:
 *
 *   fresh (age < soft)          serve it.
 *   stale (soft <= age < hard)  serve it now; one background refresh per key (waitUntil).
 *   older, or absent            load from upstream; concurrent misses for one key in this
 *                               isolate share a single load (coalescing). If that load fails
 *                               and a copy younger than staleIfError exists, serve the copy.
 *
 * An error that does not justify stale data (BeatPass saying 404/410/403) is an answer: the
 * copy is dropped from every tier so the resource stops being served.
 *
 * It knows nothing of Hono or BeatPass: `load` yields a body string or throws, and
 * `serveStaleOn` says which errors justify falling back to a stale copy.
 */

export type ServeState = "fresh" | "stale" | "stale-if-error" | "miss";

export interface Served {
  entry: Entry;
  state: ServeState;
  /** Age of the served body in ms at the time of the answer. */
  ageMs: number;
  tier?: Tier;
  /** This miss waited on another request's load. */
  collapsed?: boolean;
  /** Why a stale copy was served instead of fresh data. */
  error?: unknown;
}

export type Loader = (purpose: "foreground" | "background") => Promise<string>;

export interface LookupOptions {
  key: string;
  policy: FamilyPolicy;
  load: Loader;
  serveStaleOn: (err: unknown) => boolean;
  /** Copies fetched before this moment (a purge) are treated as absent. */
  invalidBefore?: number;
}

const inflight = new Map<string, Promise<Entry>>();

/** Answers from cache when it can, from upstream when it must, stale when upstream fails. */
export async function getOrLoad(deps: TierDeps, opts: LookupOptions): Promise<Served> {
  const { key, policy } = opts;
  const stored = await readTiers(deps, key, policy.staleIfError);
  const found = stored && stored.entry.fetchedAt >= (opts.invalidBefore ?? 0) ? stored : undefined;
  const now = deps.now();

  if (found) {
    const ageMs = now - found.entry.fetchedAt;
    if (ageMs < policy.soft * 1000) {
      return { entry: found.entry, state: "fresh", ageMs, tier: found.tier };
    }
    if (ageMs < policy.hard * 1000) {
      refreshInBackground(deps, opts, found.entry);
      cacheStats.stale_served++;
      return { entry: found.entry, state: "stale", ageMs, tier: found.tier };
    }
  }

  const collapsed = inflight.has(key);
  try {
    const entry = await loadOnce(deps, opts, found?.entry, "foreground");
    if (collapsed) cacheStats.coalesced++;
    else cacheStats.misses++;
    return { entry, state: "miss", ageMs: Math.max(0, deps.now() - entry.fetchedAt), collapsed };
  } catch (err) {
    if (found && now - found.entry.fetchedAt < policy.staleIfError * 1000 && opts.serveStaleOn(err)) {
      cacheStats.stale_if_error_served++;
      return {
        entry: found.entry,
        state: "stale-if-error",
        ageMs: now - found.entry.fetchedAt,
        tier: found.tier,
        error: err,
      };
    }
    if (found && !opts.serveStaleOn(err)) deps.waitUntil(deleteFromTiers(deps.kv, key));
    throw err;
  }
}

/** Loads `key` from upstream unless a load for it is already running here; stores the result. */
export function loadOnce(
  deps: TierDeps,
  opts: LookupOptions,
  previous: Entry | undefined,
  purpose: "foreground" | "background",
): Promise<Entry> {
  const running = inflight.get(opts.key);
  if (running) return running;
  const promise = (async () => {
    cacheStats.upstream_loads++;
    const body = await opts.load(purpose);
    const entry = await newEntry(body, deps.now());
    writeTiers(deps, opts.key, entry, previous, opts.policy.staleIfError);
    return entry;
  })().finally(() => inflight.delete(opts.key));
  inflight.set(opts.key, promise);
  // Keep the load alive even if the request that started it goes away; its waiters need it.
  deps.waitUntil(promise.catch(() => undefined));
  return promise;
}

function refreshInBackground(deps: TierDeps, opts: LookupOptions, previous: Entry): void {
  if (inflight.has(opts.key)) return;
  cacheStats.background_refreshes++;
  const refresh = loadOnce(deps, opts, previous, "background").catch(async (err: unknown) => {
    logEvent("warn", "background_refresh_failed", {
      key: opts.key,
      error: err instanceof Error ? err.message : String(err),
    });
    if (!opts.serveStaleOn(err)) await deleteFromTiers(deps.kv, opts.key);
  });
  deps.waitUntil(refresh);
}

/** True while a load for `key` is in flight in this isolate (tests and the refresher use it). */
export function isLoading(key: string): boolean {
  return inflight.has(key);
}
