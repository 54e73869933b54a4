import type { Coordinator, Purpose, Turn } from "../cache/engine";
import { applyPurges, latestPurgeAt } from "../cache/purge";
import { cacheStats } from "../cache/stats";
import { logEvent } from "../lib/log";
import type { ClientRef } from "./fairness";
import { BUDGET_OBJECT_NAME, type Grant, type PermitRequest, type UpstreamBudget } from "./keeper";
import type { LoadOutcome } from "./leases";
import { decide, emptyWindow, type PermitClass, spend } from "./window";

/**
 * How an isolate asks the budget keeper (keeper.ts): one round trip per upstream-bound load
 * carries both the permit and the key's lease. When the keeper cannot be reached within
 * the timeout, fail safe: a viewer's miss may spend from a small per-isolate allowance
 * (FALLBACK_PERMITS_PER_MINUTE, the same sliding window); refreshes wait for the keeper,
 * since their viewers are being served a copy anyway.
 */
export const FALLBACK_PERMITS_PER_MINUTE = 5;
/** A key the keeper said to skip is not asked about again here for this long. */
export const SKIP_MEMO_MS = 5_000;
/**
 * A key whose refresh the keeper refused is not refreshed again here for this long. Its
 * viewers are served the stale copy meanwhile, and once the copy passes its hard window a
 * viewer's load asks at viewer priority regardless: the wait costs freshness, never an answer.
 * Shorter, and a full window costs a Durable Object request on nearly every stale hit.
 */
export const REFUSED_REFRESH_MEMO_MS = 30_000;
const SKIP_MEMO_MAX_KEYS = 5_000;

/** The keeper's RPC methods as seen through a stub (every answer is plain data). */
interface Keeper {
  acquire(req: PermitRequest): Promise<Grant>;
  complete(key: string, outcome: LoadOutcome): Promise<void>;
  awaitLoad(key: string): Promise<LoadOutcome>;
  pause(until: number): Promise<void>;
  recordPurge(resources: string[]): Promise<number>;
  purgesSince(since: number): Promise<Record<string, number>>;
}

/** The keeper's stub; every call is a (billed) Durable Object request, counted for /healthz and the benchmark. */
function keeperOf(ns: DurableObjectNamespace<UpstreamBudget> | undefined): Keeper | undefined {
  if (!ns) return undefined;
  const stub = ns.get(ns.idFromName(BUDGET_OBJECT_NAME)) as unknown as Keeper;
  const counted = <T>(call: () => Promise<T>): Promise<T> => {
    cacheStats.keeper_calls++;
    return call();
  };
  // Each method is called on the stub itself: an RPC stub has no Function.prototype to lean on.
  return {
    acquire: (req) => counted(() => stub.acquire(req)),
    complete: (key, outcome) => counted(() => stub.complete(key, outcome)),
    awaitLoad: (key) => counted(() => stub.awaitLoad(key)),
    pause: (until) => counted(() => stub.pause(until)),
    recordPurge: (resources) => counted(() => stub.recordPurge(resources)),
    purgesSince: (since) => counted(() => stub.purgesSince(since)),
  };
}

const CLASS_OF: Record<Purpose, PermitClass> = { foreground: "viewer", background: "refresh", scheduled: "scheduled" };

/** After a refused refresh, this isolate asks for no refresh of any key for at least this long. */
export const REFRESH_BACKOFF_MIN_MS = 1_000;

// Per isolate: the fallback allowance, keys recently found leased or just loaded elsewhere,
// and until when each background class is refused anyway (the keeper said when it frees).
const fallback = emptyWindow();
const skipped = new Map<string, number>();
const backoff = { refresh: 0, scheduled: 0 };

export interface BudgetOptions {
  ns: DurableObjectNamespace<UpstreamBudget> | undefined;
  perMinute: number;
  timeoutMs: number;
  /** How long a load for `purpose` may take: the lease's length. */
  leaseMs: (purpose: Purpose) => number;
  waitUntil(promise: Promise<unknown>): void;
  /** The viewer whose request this is, for its fair share of the window (fairness.ts). */
  client?: ClientRef;
  /** How long an ask for a permit took (ms), answered or not. */
  onAsked?(ms: number): void;
}

export function budgetCoordinator(o: BudgetOptions): Coordinator {
  // Built on first use: most requests are cache hits and never ask.
  let stub: Keeper | undefined;
  const keeper = () => {
    stub ??= keeperOf(o.ns);
    return stub;
  };
  return {
    async begin(key, purpose, since, freshFrom) {
      const now = Date.now();
      const stub = keeper();
      const cls = CLASS_OF[purpose];
      if (cls !== "viewer" && (backoff[cls] > now || (skipped.get(key) ?? 0) > now)) return { kind: "skip" };
      let grant: Grant;
      try {
        if (!stub) throw new Error("UPSTREAM_BUDGET is not bound");
        const leaseMs = o.leaseMs(purpose);
        grant = await within(
          stub.acquire({
            key,
            cls,
            perMinute: o.perMinute,
            leaseMs,
            since,
            freshFrom,
            client: purpose === "foreground" ? o.client : undefined,
          }),
          o.timeoutMs,
        );
      } catch (err) {
        o.onAsked?.(Date.now() - now);
        return fallbackTurn(key, purpose, now, err);
      }
      o.onAsked?.(Date.now() - now);
      if (grant.purgedAt > latestPurgeAt() && stub) {
        o.waitUntil(within(stub.purgesSince(latestPurgeAt()), o.timeoutMs).then(applyPurges, () => undefined));
      }
      return turnFor(grant, key, purpose, now);
    },
    pause(retryAfterSeconds) {
      const stub = keeper();
      if (!stub) return;
      o.waitUntil(
        within(stub.pause(Date.now() + retryAfterSeconds * 1000), o.timeoutMs).catch((err: unknown) =>
          logEvent("warn", "budget_unavailable", { step: "pause", error: String(err) }),
        ),
      );
    },
  };

  function turnFor(grant: Grant, key: string, purpose: Purpose, now: number): Turn {
    switch (grant.kind) {
      case "go":
        return {
          kind: "load",
          finish: (outcome: LoadOutcome) => {
            const stub = keeper();
            if (stub) o.waitUntil(within(stub.complete(key, outcome), o.timeoutMs).catch(() => undefined));
          },
        };
      case "wait":
        return {
          kind: "wait",
          outcome: within(keeper()?.awaitLoad(key) as Promise<LoadOutcome>, o.leaseMs(purpose) + o.timeoutMs),
        };
      case "shared":
        return { kind: "wait", outcome: Promise.resolve(grant.outcome) };
      case "skip":
        remember(key, now);
        return { kind: "skip", loadedAt: grant.loadedAt, etag: grant.etag };
      case "denied":
        // A refresh's viewers are served the stale copy: asking again on every stale hit until
        // the window frees would cost a Durable Object request per hit, most of them refused.
        // The class has no headroom until the keeper's retry time, for any key.
        if (purpose !== "foreground") {
          remember(key, now, REFUSED_REFRESH_MEMO_MS);
          const cls = CLASS_OF[purpose] as keyof typeof backoff;
          backoff[cls] = now + Math.max(REFRESH_BACKOFF_MIN_MS, grant.retryAfterMs);
        }
        return { kind: "refused", reason: grant.reason, retryAfterSeconds: Math.ceil(grant.retryAfterMs / 1000) };
    }
  }
}

/** Records a purge with the keeper (the one record every isolate follows); returns its time. */
export async function recordPurgeWithKeeper(
  ns: DurableObjectNamespace<UpstreamBudget> | undefined,
  resources: string[],
  timeoutMs: number,
): Promise<number> {
  const keeper = keeperOf(ns);
  if (!keeper) throw new Error("UPSTREAM_BUDGET is not bound");
  return within(keeper.recordPurge(resources), timeoutMs);
}

function fallbackTurn(key: string, purpose: Purpose, now: number, err: unknown): Turn {
  const decision = purpose === "foreground" ? decide(fallback, "viewer", now, FALLBACK_PERMITS_PER_MINUTE) : undefined;
  const allowed = decision?.ok === true;
  if (allowed) spend(fallback, now);
  logEvent("warn", "budget_unavailable", { purpose, allowed, error: err instanceof Error ? err.message : String(err) });
  if (allowed) return { kind: "load", finish: () => undefined };
  if (purpose !== "foreground") remember(key, now);
  const retryAfterMs = decision && !decision.ok ? decision.retryAfterMs : 10_000;
  return { kind: "refused", reason: "unavailable", retryAfterSeconds: Math.ceil(retryAfterMs / 1000) };
}

function remember(key: string, now: number, ms = SKIP_MEMO_MS): void {
  if (skipped.size >= SKIP_MEMO_MAX_KEYS) {
    for (const [k, until] of skipped) if (until <= now) skipped.delete(k);
    if (skipped.size >= SKIP_MEMO_MAX_KEYS) skipped.clear();
  }
  skipped.set(key, now + ms);
}

/** Rejects when `promise` has not settled within `ms` (the keeper is slow or unreachable). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`budget keeper did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Forgets the fallback allowance, skip memo and backoffs (tests, a recycled isolate). */
export function resetBudgetClient(): void {
  fallback.grants.length = 0;
  fallback.pausedUntil = 0;
  skipped.clear();
  backoff.refresh = backoff.scheduled = 0;
}
