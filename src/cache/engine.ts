import type { LoadOutcome } from "../budget/leases";
import { logEvent } from "../lib/log";
import { type Entry, newEntry } from "./entry";
import { loggableKey } from "./keys";
import type { FamilyPolicy } from "./policy";
import { cacheStats } from "./stats";
import { adoptNewerFromKv, memory, readTiers, type Tier, type TierDeps, writeTiers } from "./tiers";

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

export type ServeState = "fresh" | "stale" | "stale-if-error" | "miss";
export type Purpose = "foreground" | "background" | "scheduled";

export interface Served {
  entry: Entry;
  state: ServeState;
  /** Age of the served body in ms at the time of the answer. */
  ageMs: number;
  tier?: Tier;
  /** This miss waited on another request's load (here or in another isolate). */
  collapsed?: boolean;
  /** Why a stale copy was served instead of fresh data. */
  error?: unknown;
}

export type Loader = (purpose: Purpose) => Promise<string>;

export type Turn =
  | { kind: "load"; finish(outcome: LoadOutcome): void }
  | { kind: "wait"; outcome: Promise<LoadOutcome> }
  | { kind: "skip"; loadedAt?: number; etag?: string }
  | { kind: "refused"; reason: RefusalReason; retryAfterSeconds: number };

/** Why a load was not let through (src/budget/admission.ts says what each means). */
export type RefusalReason = "paused" | "budget" | "client" | "unavailable";

export interface Coordinator {
  /**
   * Whether a background refresh of `key`, stale for `staleForMs` of a `windowMs` long stale
   * window, is held back now without asking anyone (a refusal or skip remembered, or this
   * isolate's place in the spread of refreshes): checked before a refresh is started.
   */
  holdsBack?(key: string, staleForMs: number, windowMs: number): boolean;
  /** `since`: the fetch time of the copy held, if any; `freshFrom`: the oldest fetch time still fresh. */
  begin(key: string, purpose: Purpose, since: number | undefined, freshFrom: number): Promise<Turn>;
  /** Upstream said 429: stop every isolate until Retry-After has passed (resolves once they are told). */
  pause(retryAfterSeconds: number): Promise<void>;
}

/** A load that did not happen here: refused, skipped, or shared with a load that failed. */
export class LoadRefused extends Error {
  constructor(
    readonly reason: RefusalReason | "skipped" | "shared_failure" | "shared_timeout",
    readonly retryAfterSeconds: number,
  ) {
    super(`load refused: ${reason}`);
    this.name = "LoadRefused";
  }
}

export interface LookupOptions {
  key: string;
  policy: FamilyPolicy;
  load: Loader;
  serveStaleOn: (err: unknown) => boolean;
  /** The status to cache when `err` is the upstream's answer (404...); undefined for failures. */
  answerStatus?: (err: unknown) => number | undefined;
  /** Windows for those negative entries (default: `policy`). */
  negativePolicy?: FamilyPolicy;
  /** Copies fetched before this moment (a purge) are treated as absent. */
  invalidBefore?: number;
  /**
   * How long a load failure is this key's answer (ms), or undefined: repeats within it get the
   * same error without asking anyone, so one broken resource costs BeatPass one request.
   */
  failureMemoMs?: (err: unknown) => number | undefined;
  /** Throws when a load would be refused anyway (checked before the coordinator spends a permit). */
  precheck?: () => void;
}

const inflight = new Map<string, Promise<Entry>>();
// Keys whose last load failed, with the error, until when (bounded: swept when full).
const recentFailures = new Map<string, { until: number; error: unknown }>();
const RECENT_FAILURES_MAX = 1000;

const policyOf = (opts: LookupOptions, entry: Entry) =>
  entry.status ? (opts.negativePolicy ?? opts.policy) : opts.policy;

/**
 * The answers that need no await: a copy in this isolate's memory within its hard window,
 * fresh, or stale (served as it is while its refresh starts in the background). Most requests
 * end here; getOrLoad starts with it, and the read routes (and so the fleet simulation) call
 * it first, so a hit costs no promise.
 */
export function fromMemory(deps: TierDeps, opts: LookupOptions): Served | undefined {
  if (deps.fast && !deps.fast.memory) return undefined;
  const entry = memory.get(opts.key);
  if (!entry || entry.fetchedAt < (opts.invalidBefore ?? 0)) return undefined;
  const ageMs = deps.now() - entry.fetchedAt;
  const policy = policyOf(opts, entry);
  if (ageMs >= policy.hard * 1000) return undefined;
  cacheStats.hits.memory++;
  if (ageMs < policy.soft * 1000) return { entry, state: "fresh", ageMs, tier: "memory" };
  refreshInBackground(deps, opts, entry);
  cacheStats.stale_served++;
  return { entry, state: "stale", ageMs, tier: "memory" };
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
    collapsed = inflight.has(key);
    const { entry, shared } = await loadOnce(deps, opts, found?.entry, "foreground")
      .catch((err: unknown) => {
        // A refusal for the client who started the load is not this viewer's: it asks in its own name.
        if (!(collapsed && err instanceof LoadRefused && err.reason === "client")) throw err;
        collapsed = false;
        return chargeMiss(deps, key).then(() => loadOnce(deps, opts, found?.entry, "foreground"));
      })
      .then((e) => ({ entry: e, shared: sharedLoads.has(e) }));
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

/** Only a load this request would start costs the client: joining one in flight is free. */
async function chargeMiss(deps: TierDeps, key: string): Promise<void> {
  if (!inflight.has(key) && deps.admitMiss) await deps.admitMiss();
}

// Entries that arrived from another isolate's load (for the "collapsed" report).
const sharedLoads = new WeakSet<Entry>();

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
export function resetEngine(): void {
  recentFailures.clear();
  inflight.clear();
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

function refreshInBackground(deps: TierDeps, opts: LookupOptions, previous: Entry): void {
  if (inflight.has(opts.key)) return;
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

/** True while a load for `key` is in flight in this isolate (tests and the refresher use it). */
export function isLoading(key: string): boolean {
  return inflight.has(key);
}
