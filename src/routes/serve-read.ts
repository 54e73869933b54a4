import {
  fromMemory,
  getOrLoad,
  LoadRefused,
  type LookupOptions,
  peekMemory,
  type Served,
  takeMemoryHit,
} from "../cache/engine";
import { maybeFlushHotKeys, recordHit } from "../cache/hot";
import { cacheTagsForKey, purgesLoaded, syncPurges } from "../cache/purge";
import type { TierDeps } from "../cache/tiers";
import type { Env } from "../env";
import { problemForRefusal, problemForUpstream } from "../http/upstream-problem";
import type { Trace } from "../lib/trace";
import { UpstreamError } from "../upstream/client";

/**
 * Answering one validated read (routes/read-route.ts builds it): purges synced, the hit
 * counted, the cache engine asked, and what went wrong turned into the viewer's problem.
 * The route handlers and the fleet simulation (sim/) both call `serveRead`.
 */

/** What the viewer gets for a failed lookup of `subject` (an ApiError, or `err` itself). */
export function problemFor(err: unknown, subject: string): unknown {
  if (err instanceof UpstreamError) return problemForUpstream(err, subject);
  if (err instanceof LoadRefused) return problemForRefusal(err);
  return err;
}

/** A cached 404/410/403 is the answer: a problem a shared cache may keep, tagged like the data would be. */
export function throwIfNegative(served: Served, path: string, subject: string, key: string): void {
  const status = served.entry.status;
  if (!status) return;
  const problem = problemForUpstream(new UpstreamError("status", path, { status }), subject);
  problem.headers["Cache-Tag"] = cacheTagsForKey(key).join(",");
  throw problem;
}

/** Notes in the trace how a lookup was answered (the first lookup of a request names it). */
function noteServed(trace: Trace | undefined, served: Served): void {
  if (trace && trace.cache === undefined) {
    trace.cache =
      served.state === "fresh" ? "hit" : served.state === "miss" && served.collapsed ? "collapsed" : served.state;
    if (served.tier && served.state !== "miss") trace.tier = served.tier;
  }
}

/** Runs a cache lookup and notes in the trace how it was answered and how long it took. */
export async function traced(trace: Trace | undefined, lookup: () => Promise<Served>): Promise<Served> {
  const started = Date.now();
  const upstreamBefore = (trace?.upstreamMs ?? 0) + (trace?.budgetMs ?? 0);
  try {
    const served = await lookup();
    noteServed(trace, served);
    return served;
  } finally {
    if (trace) {
      const upstream = (trace.upstreamMs ?? 0) + (trace.budgetMs ?? 0) - upstreamBefore;
      trace.cacheMs = (trace.cacheMs ?? 0) + Math.max(0, Date.now() - started - upstream);
    }
  }
}

/** One validated read, as `serveRead` answers it. */
export interface ReadRequest {
  env: Env;
  deps: TierDeps;
  trace?: Trace;
  /** The client's limit key, counted for refresh-ahead's hot list. */
  clientKey?: string;
  /** The route's path and what it names ("track 7"), for problems. */
  path: string;
  subject: string;
  /** The lookup, built once purges are synced (its `invalidBefore` depends on them). */
  options: () => LookupOptions;
}

/**
 * A read route's answer once its input is valid: purges synced, the hit counted for
 * refresh-ahead, the hot list flushed when due, then the cache engine (through `traced`), a
 * cached 404/410/403 thrown as its problem, any failure mapped to the viewer's problem.
 * A copy in memory within its hard window is answered synchronously (a Served, not a
 * Promise): most requests end there, and the fleet simulation (sim/) calls this function for every request.
 */
export function serveRead(req: ReadRequest): Served | Promise<Served> {
  const { env, deps } = req;
  const syncing = syncPurges(env.BEATPASS_CACHE, deps.waitUntil, deps.now());
  if (syncing) return syncing.then(() => serveSynced(req));
  return serveSynced(req);
}

function serveSynced(req: ReadRequest): Served | Promise<Served> {
  const { deps, trace } = req;
  const opts = req.options();
  counted(req, opts.key);
  const hit = fromMemory(deps, opts);
  if (hit) {
    noteMemoryHit(trace, hit);
    throwIfNegative(hit, req.path, req.subject, opts.key);
    return hit;
  }
  return traced(trace, () => getOrLoad(deps, opts)).then(
    (served) => {
      throwIfNegative(served, req.path, req.subject, opts.key);
      return served;
    },
    (err: unknown) => {
      throw problemFor(err, req.subject);
    },
  );
}

/**
 * `serveRead`'s answer when it is a copy of data in this isolate's memory (purges already
 * synced), found with nothing counted or started: `take` then does what serveRead does for
 * it. Undefined otherwise, and the request goes the whole way (the hit lane,
 * src/routes/hit-lane.ts, asks this first and charges its client in between).
 */
export function memoryAnswer(req: ReadRequest): { served: Served; take(): void } | undefined {
  const { env, deps } = req;
  if (!purgesLoaded()) return undefined;
  const opts = req.options();
  const hit = peekMemory(deps, opts);
  // A cached 404/410/403 is a problem, which the whole way builds.
  if (!hit || hit.entry.status) return undefined;
  return {
    served: hit,
    take() {
      syncPurges(env.BEATPASS_CACHE, deps.waitUntil, deps.now());
      counted(req, opts.key);
      takeMemoryHit(deps, opts, hit);
      noteMemoryHit(req.trace, hit);
    },
  };
}

/** The read counted for refresh-ahead's hot list, which is flushed when due. */
function counted(req: ReadRequest, key: string): void {
  recordHit(key, req.clientKey);
  maybeFlushHotKeys(req.env.UPSTREAM_BUDGET, req.deps.waitUntil, req.deps.now());
}

function noteMemoryHit(trace: Trace | undefined, hit: Served): void {
  noteServed(trace, hit);
  // What `traced` adds for an answer that took no time.
  if (trace) trace.cacheMs ??= 0;
}
