import type { LoadOutcome } from "../budget/leases";
import { type Entry, newEntry } from "./entry";
import { LoadRefused, type LookupOptions, type Purpose, policyOf, type Turn } from "./lookup";
import { cacheStats } from "./stats";
import { adoptNewerFromKv, type TierDeps, writeTiers } from "./tiers";

/**
 * One load per key: concurrent loads of a key in this isolate share one promise (coalescing),
 * each asks the coordinator for its turn (load, wait for another isolate's, skip, refused),
 * stores what it brought in the tiers, and a failure worth remembering is this key's answer
 * for a while (the key-failure memo). src/cache/engine.ts decides when a load is needed.
 */

const inflight = new Map<string, Promise<Entry>>();
// Keys whose last load failed, with the error, until when (bounded: swept when full).
const recentFailures = new Map<string, { until: number; error: unknown }>();
const RECENT_FAILURES_MAX = 1000;
// Entries that arrived from another isolate's load (for the "collapsed" report).
const sharedLoads = new WeakSet<Entry>();

// Keys whose load a request is being charged for, before that load is in flight.
const charging = new Map<string, Promise<void>>();

/**
 * Only a load this request would start costs the client: joining one in flight is free, and
 * so is joining one whose request is still being charged (a page of cards for one cold track
 * asks for it several times at once). If that charge is refused, the joiner pays its own.
 */
export async function chargeMiss(deps: TierDeps, key: string): Promise<void> {
  if (inflight.has(key) || !deps.admitMiss) return;
  const pending = charging.get(key);
  if (pending) {
    if (
      await pending.then(
        () => true,
        () => false,
      )
    )
      return;
    return chargeMiss(deps, key);
  }
  const charge = deps.admitMiss();
  charging.set(key, charge);
  try {
    await charge;
  } finally {
    charging.delete(key);
  }
}

/** Loads `key` unless a load for it is already running here; stores the result. */
export function loadOnce(deps: TierDeps, opts: LookupOptions, previous: Entry | undefined, purpose: Purpose) {
  const running = inflight.get(opts.key);
  if (running) return running;
  const promise = coordinatedLoad(deps, opts, previous, purpose).finally(() => inflight.delete(opts.key));
  inflight.set(opts.key, promise);
  // Keep the load alive even if the request that started it goes away; its waiters need it.
  deps.waitUntil(promise.catch(() => undefined));
  return promise;
}

async function coordinatedLoad(
  deps: TierDeps,
  opts: LookupOptions,
  previous: Entry | undefined,
  purpose: Purpose,
  retried = false,
): Promise<Entry> {
  const failed = recentFailures.get(opts.key);
  if (failed && deps.now() < failed.until) throw failed.error;
  opts.precheck?.();
  const freshFrom = deps.now() - opts.policy.soft * 1000;
  const turn: Turn = deps.coordinator
    ? await deps.coordinator.begin(
        opts.key,
        purpose,
        Math.max(previous?.fetchedAt ?? 0, opts.invalidBefore ?? 0) || undefined,
        freshFrom,
      )
    : { kind: "load", finish: () => undefined };
  switch (turn.kind) {
    case "refused":
      throw new LoadRefused(turn.reason, turn.retryAfterSeconds);
    case "skip":
      if (turn.loadedAt && previous) skippedAsLoaded(deps, opts, previous, turn.loadedAt, turn.etag);
      throw new LoadRefused("skipped", 0);
    case "wait": {
      let outcome: LoadOutcome;
      try {
        outcome = await turn.outcome;
      } catch {
        // The coordinator went quiet mid-wait (timeout, reset): like a load that timed out.
        throw new LoadRefused("shared_timeout", 5);
      }
      // The load this one waited on was refused for its own client's share, which is not this
      // viewer's: it asks again, in its own name (once).
      if (outcome.kind === "refused" && outcome.reason === "client" && !retried)
        return coordinatedLoad(deps, opts, previous, purpose, true);
      return fromSharedLoad(deps, opts, previous, outcome);
    }
  }
  cacheStats.upstream_loads++;
  let entry: Entry;
  try {
    entry = await newEntry(await opts.load(purpose), deps.now());
  } catch (err) {
    const status = opts.answerStatus?.(err);
    if (status === undefined) {
      turn.finish({ kind: "failed" });
      rememberFailure(deps, opts, err);
      throw err;
    }
    entry = await newEntry("", deps.now(), status);
  }
  recentFailures.delete(opts.key);
  turn.finish({ kind: "data", body: entry.body, etag: entry.etag, fetchedAt: entry.fetchedAt, status: entry.status });
  writeTiers(deps, opts.key, entry, previous, policyOf(opts, entry).staleIfError);
  return entry;
}

function rememberFailure(deps: TierDeps, opts: LookupOptions, err: unknown): void {
  const ms = opts.failureMemoMs?.(err);
  if (!ms) return;
  const now = deps.now();
  if (recentFailures.size >= RECENT_FAILURES_MAX) {
    for (const [k, f] of recentFailures) if (f.until <= now) recentFailures.delete(k);
    if (recentFailures.size >= RECENT_FAILURES_MAX) recentFailures.clear();
  }
  recentFailures.set(opts.key, { until: now + ms, error: err });
}

/** Forgets remembered failures and in-flight loads (a cold isolate: tests, the simulation). */
export function resetLoads(): void {
  recentFailures.clear();
  inflight.clear();
  charging.clear();
}

/**
 * Another isolate refreshed the key: a copy with the same ETag is current as of that load
 * (KV may not say so: unchanged content is not rewritten there); other content is in KV.
 */
function skippedAsLoaded(deps: TierDeps, opts: LookupOptions, previous: Entry, loadedAt: number, etag?: string) {
  if (loadedAt <= previous.fetchedAt) return;
  if (etag !== previous.etag) {
    deps.waitUntil(adoptNewerFromKv(deps, opts.key, previous.fetchedAt, opts.policy.staleIfError));
    return;
  }
  const current: Entry = { ...previous, fetchedAt: loadedAt };
  writeTiers(deps, opts.key, current, previous, policyOf(opts, current).staleIfError, { kv: false });
}

/** Another isolate loaded the key: keep its outcome in the fast tiers (it wrote KV itself). */
function fromSharedLoad(deps: TierDeps, opts: LookupOptions, previous: Entry | undefined, outcome: LoadOutcome) {
  if (outcome.kind === "refused")
    throw new LoadRefused(outcome.reason, Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)));
  if (outcome.kind !== "data") {
    throw new LoadRefused(outcome.kind === "failed" ? "shared_failure" : "shared_timeout", 5);
  }
  const entry: Entry = { body: outcome.body, etag: outcome.etag, fetchedAt: outcome.fetchedAt };
  if (outcome.status) entry.status = outcome.status;
  sharedLoads.add(entry);
  writeTiers(deps, opts.key, entry, previous, policyOf(opts, entry).staleIfError, { kv: false });
  return entry;
}

/** True while a load for `key` is in flight in this isolate (tests and the refresher use it). */
export function isLoading(key: string): boolean {
  return inflight.has(key);
}

/** Whether `entry` arrived from another isolate's load (the engine reports it as collapsed). */
export function isSharedLoad(entry: Entry): boolean {
  return sharedLoads.has(entry);
}
