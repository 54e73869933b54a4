import { logEvent } from "../lib/log";
import type { Entry } from "./entry";
import { loggableKey } from "./keys";
import { chargeMiss, isLoading, isSharedLoad, loadOnce } from "./loads";
import { LoadRefused, type LookupOptions, policyOf, type Served } from "./lookup";
import { cacheStats } from "./stats";
import { memory, readTiers, type TierDeps } from "./tiers";

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
 * BeatPass saying 404/410/403 is an answer, not a failure: it is cached as a negative entry
 * (`status` set, empty body) under its own, shorter windows, so repeats cost nothing upstream.
 *
 * A coordinator (admission, src/budget/admission.ts) may stand in front of every load: it
 * lets the load go (with a permit of the deployment's budget), refuses it, says another
 * isolate is loading the key (wait for its outcome), or that a refresh is not needed (skip).
 * Without one, loads are coalesced only within this isolate.
 *
 * It knows nothing of Hono or BeatPass: `load` yields a body string or throws, `serveStaleOn`
 * says which errors justify a stale copy and `answerStatus` which are answers to cache.
 */

// What a lookup is and how a load runs live beside this module; re-exported so callers import
// the engine only.
export { isLoading, loadOnce } from "./loads";
export {
  type Coordinator,
  type Loader,
  LoadRefused,
  type LookupOptions,
  type Purpose,
  type RefusalReason,
  type Served,
  type ServeState,
  type Turn,
} from "./lookup";

/**
 * The answers that need no await: a copy in this isolate's memory within its hard window,
 * fresh, or stale (served as it is while its refresh starts in the background). Most requests
 * end here; getOrLoad starts with it, and the read routes (and so the fleet simulation) call
 * it first, so a hit costs no promise.
 */
export function fromMemory(deps: TierDeps, opts: LookupOptions): Served | undefined {
  const hit = peekMemory(deps, opts);
  if (hit) takeMemoryHit(deps, opts, hit);
  return hit;
}

/** What `fromMemory` would answer, with nothing counted or started: the hit lane looks first. */
export function peekMemory(deps: TierDeps, opts: LookupOptions): Served | undefined {
  if (deps.fast && !deps.fast.memory) return undefined;
  const entry = memory.get(opts.key);
  if (!entry || entry.fetchedAt < (opts.invalidBefore ?? 0)) return undefined;
  const ageMs = deps.now() - entry.fetchedAt;
  const policy = policyOf(opts, entry);
  if (ageMs >= policy.hard * 1000) return undefined;
  return { entry, state: ageMs < policy.soft * 1000 ? "fresh" : "stale", ageMs, tier: "memory" };
}

/** A peeked hit, served: counted, and a stale one's refresh started in the background. */
export function takeMemoryHit(deps: TierDeps, opts: LookupOptions, hit: Served): void {
  cacheStats.hits.memory++;
  if (hit.state === "fresh") return;
  refreshInBackground(deps, opts, hit.entry);
  cacheStats.stale_served++;
}

/** Answers from cache when it can, from upstream when it must, stale when upstream fails. */
export async function getOrLoad(deps: TierDeps, opts: LookupOptions): Promise<Served> {
  const hit = fromMemory(deps, opts);
  if (hit) return hit;
  // Past memory the request uses what the deployment shares (KV, the Cache API, BeatPass).
  await deps.chargeShared?.();
  const { key } = opts;
  const stored = await readTiers(deps, key, opts.policy.staleIfError);
  const found = stored && stored.entry.fetchedAt >= (opts.invalidBefore ?? 0) ? stored : undefined;
  const now = deps.now();

  if (found) {
    const policy = policyOf(opts, found.entry);
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

  let collapsed = false;
  try {
    await chargeMiss(deps, key);
    collapsed = isLoading(key);
    const { entry, shared } = await loadOnce(deps, opts, found?.entry, "foreground")
      .catch((err: unknown) => {
        // A refusal for the client who started the load is not this viewer's: it asks in its own name.
        if (!(collapsed && err instanceof LoadRefused && err.reason === "client")) throw err;
        collapsed = false;
        return chargeMiss(deps, key).then(() => loadOnce(deps, opts, found?.entry, "foreground"));
      })
      .then((e) => ({ entry: e, shared: isSharedLoad(e) }));
    if (collapsed || shared) cacheStats.coalesced++;
    else cacheStats.misses++;
    return { entry, state: "miss", ageMs: Math.max(0, deps.now() - entry.fetchedAt), collapsed: collapsed || shared };
  } catch (err) {
    const keep = found && policyOf(opts, found.entry).staleIfError * 1000;
    if (found && keep && now - found.entry.fetchedAt < keep && opts.serveStaleOn(err)) {
      cacheStats.stale_if_error_served++;
      return {
        entry: found.entry,
        state: "stale-if-error",
        ageMs: now - found.entry.fetchedAt,
        tier: found.tier,
        error: err,
      };
    }
    throw err;
  }
}

function refreshInBackground(deps: TierDeps, opts: LookupOptions, previous: Entry): void {
  if (isLoading(opts.key)) return;
  const policy = policyOf(opts, previous);
  const staleForMs = deps.now() - previous.fetchedAt - policy.soft * 1000;
  if (deps.coordinator?.holdsBack?.(opts.key, staleForMs, (policy.hard - policy.soft) * 1000)) return;
  cacheStats.background_refreshes++;
  const refresh = loadOnce(deps, opts, previous, "background").catch((err: unknown) => {
    if (err instanceof LoadRefused && err.reason === "skipped") return;
    logEvent("warn", "background_refresh_failed", {
      key: loggableKey(opts.key),
      error: err instanceof Error ? err.message : String(err),
    });
  });
  deps.waitUntil(refresh);
}
