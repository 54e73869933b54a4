import type { Coordinator as LoadCoordinator, Purpose, Turn } from "../cache/engine";
import { logEvent } from "../lib/log";
import * as breaker from "./breaker";
import { keyShard, locationCoordinator } from "./coordination";
import type { Coordination } from "./coordinator";
import {
  pausedUntilHere,
  pauseHere,
  quota,
  renew,
  reportRefusal,
  resetIsolateLease,
  retrySeconds as seconds,
} from "./isolate-lease";
import type { LoadOutcome } from "./leases";
import type { PermitClass } from "./ledger";
import { backoff, coldWindows, placeAhead, REFUSED_REFRESH_MEMO_MS, remember, resetPacing, skipped } from "./pacing";
import { decidedHere, type PermitOptions, resetPermits, takePermit } from "./permits";
import { type Coordinator, coordinatorOf, keeperOf, within } from "./stubs";

/**
 * Admission: the one place that answers "may this load go to BeatPass now, and if not, why".
 * One set of reasons, each the viewer's problem code:
 *
 *   paused        BeatPass said 429: nothing leaves until its Retry-After (upstream_rate_limited)
 *   circuit_open  the family's breaker is open (upstream_unavailable)
 *   budget        this isolate's lease is spent and the keeper has none to give (upstream_budget_exhausted)
 *   unavailable   no lease, and the keeper cannot be reached (upstream_budget_exhausted)
 *   client        this client's network has had its share (client_miss_budget)
 *
 * A load first asks its coordinator (coordination.ts) whether someone is loading the key
 * already, then spends a permit of this isolate's quota lease (permits.ts): no round trip to
 * the keeper unless the isolate has no live lease. Renewals (isolate-lease.ts) go in the
 * background and carry the spends, per-network counts and refusals the keeper needs. Nothing
 * here grows with the number of isolates: with the keeper gone, an isolate spends what its
 * lease holds and then refuses (a stale copy is served where one exists). Which refreshes are
 * held back is pacing.ts's; before each request to BeatPass itself, guard.ts asks the pause
 * and the breaker again.
 */

export type Refusal = "paused" | "circuit_open" | "budget" | "unavailable" | "client";

/** Viewers refused for budget within this long make the public /healthz say "degraded". */
const DEGRADED_WINDOW_MS = 60_000;

const CLASS_OF: Record<Purpose, PermitClass> = { foreground: "viewer", background: "refresh", scheduled: "scheduled" };

/** When a viewer was last refused (not for its network's share), for /healthz. */
let viewerRefusedAt = Number.NEGATIVE_INFINITY;

/** What admission needs besides a permit's options: the key lease's length, a timing hook. */
export interface AdmissionOptions extends PermitOptions {
  /** How long a load for `purpose` may take: the key lease's length. */
  leaseMs(purpose: Purpose): number;
  /** How long a load's coordinator took to answer (Server-Timing `coord`). */
  onCoordinate?(ms: number): void;
}

/** The cache engine's coordinator for one request's loads (src/cache/engine.ts). */
export function admission(o: AdmissionOptions): LoadCoordinator {
  return {
    holdsBack(key, staleForMs, windowMs) {
      const now = Date.now();
      if (backoff.refresh > now || (skipped.get(key) ?? 0) > now) return true;
      const known = quota.fleetKnownAt;
      if (known === undefined) {
        // Not known yet how many share the deployment: begin asks first (the lease it needs anyway).
        coldWindows.set(key, windowMs);
        return false;
      }
      // A copy stale for long is as new to an isolate that has just started: isolates started
      // together (a deploy) would otherwise all refresh it in the same second.
      return placeAhead(key, Math.min(staleForMs, now - known), windowMs) > 0;
    },
    async begin(key, purpose, since, freshFrom) {
      let now = Date.now();
      const cls = CLASS_OF[purpose];
      if (cls !== "viewer" && (backoff[cls] > now || (skipped.get(key) ?? 0) > now)) return { kind: "skip" };
      const coldWindow = coldWindows.get(key);
      if (coldWindow !== undefined && cls === "refresh") {
        coldWindows.delete(key);
        // A new isolate's stale copy is being served meanwhile: it learns the fleet's size
        // first, then waits its place like the others. Waiting, not skipping: this refresh
        // still takes the others' load when its turn comes.
        if (quota.fleetKnownAt === undefined) await renew(o);
        const wait = placeAhead(key, Date.now() - (quota.fleetKnownAt ?? 0), coldWindow);
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        now = Date.now();
      }
      const early = decidedHere(o, cls, now);
      if (early) return refuse(cls, purpose, key, early.reason, early.retryAt, now);
      // A cold isolate asks for its lease while the coordinator is asked.
      if (quota.needsLease(now)) void renew(o);
      const coordinator = coordinatorOf(
        o.coordinators,
        cls === "viewer" ? locationCoordinator(o.location) : keyShard(key),
      );
      const c = await coordinate(o, coordinator, { key, cls, leaseMs: o.leaseMs(purpose), since, freshFrom });
      if (c && c.kind !== "go") return turnFor(o, coordinator, c, key, purpose, now);
      const permit = await takePermit(o, cls, Date.now());
      if (!permit.ok) {
        const outcome: LoadOutcome = { kind: "refused", reason: permit.reason, retryAfterMs: permit.retryAt - now };
        if (coordinator && c)
          o.waitUntil(within(coordinator.complete(key, outcome), o.timeoutMs).catch(() => undefined));
        return refuse(cls, purpose, key, permit.reason, permit.retryAt, now);
      }
      return {
        kind: "load",
        finish: (outcome) => {
          if (coordinator && c)
            o.waitUntil(within(coordinator.complete(key, outcome), o.timeoutMs).catch(() => undefined));
        },
      };
    },
    // The viewer who met the 429 is answered once the keeper (which tells every coordinator)
    // and this location's coordinator have heard: no isolate starts another load meanwhile.
    async pause(retryAfterSeconds) {
      const until = Date.now() + retryAfterSeconds * 1000;
      pauseHere(until);
      const keeper = keeperOf(o.keeper);
      const here = coordinatorOf(o.coordinators, locationCoordinator(o.location));
      await Promise.allSettled([
        keeper && within(keeper.pause(until), o.timeoutMs),
        here && within(here.pause(until), o.timeoutMs),
      ]);
    },
  };
}

async function coordinate(
  o: AdmissionOptions,
  coordinator: Coordinator | undefined,
  req: Parameters<Coordinator["begin"]>[0],
): Promise<Coordination | undefined> {
  if (!coordinator) return undefined;
  const started = Date.now();
  try {
    return await within(coordinator.begin(req), o.timeoutMs);
  } catch (err) {
    // Without it the load goes alone: coalescing is lost, the budget is not (the permit is ours).
    logEvent("warn", "coordinator_unavailable", { error: err instanceof Error ? err.message : String(err) });
    return undefined;
  } finally {
    o.onCoordinate?.(Date.now() - started);
  }
}

function turnFor(
  o: AdmissionOptions,
  coordinator: Coordinator | undefined,
  c: Exclude<Coordination, { kind: "go" }>,
  key: string,
  purpose: Purpose,
  now: number,
): Turn {
  switch (c.kind) {
    case "wait":
      return {
        kind: "wait",
        outcome: within(coordinator?.awaitLoad(key) as Promise<LoadOutcome>, o.leaseMs(purpose) + o.timeoutMs),
      };
    case "shared":
      return { kind: "wait", outcome: Promise.resolve(c.outcome) };
    case "skip":
      remember(key, now);
      return { kind: "skip", loadedAt: c.loadedAt, etag: c.etag };
    case "paused":
      pauseHere(c.until);
      return refuse(CLASS_OF[purpose], purpose, key, "paused", c.until, now);
  }
}

function refuse(
  cls: PermitClass,
  purpose: Purpose,
  key: string,
  reason: Exclude<Refusal, "circuit_open">,
  retryAt: number,
  now: number,
): Turn {
  reportRefusal(cls);
  if (cls === "viewer" && reason !== "client") viewerRefusedAt = now;
  // A refresh's viewers are served the stale copy: asking again on every stale hit until the
  // budget frees would only be refused again.
  if (purpose !== "foreground") {
    remember(key, now, REFUSED_REFRESH_MEMO_MS);
    backoff[cls as "refresh" | "scheduled"] = Math.max(backoff[cls as "refresh"], retryAt, now + 1_000);
  }
  return { kind: "refused", reason, retryAfterSeconds: seconds(retryAt - now) };
}

/** This isolate's side, for /healthz: its lease, the pause, breakers, recent refusals. */
export function admissionHealth(now: number) {
  const pausedUntil = pausedUntilHere();
  return {
    ...quota.view(now),
    paused_until: pausedUntil > now ? new Date(pausedUntil).toISOString() : null,
    viewers_refused_recently: now - viewerRefusedAt < DEGRADED_WINDOW_MS,
    breakers: breaker.breakerStates(now),
  };
}

/** Starts this isolate's admission from cold (tests, the simulation's recycled isolates). */
export function resetAdmission(): void {
  resetIsolateLease();
  resetPermits();
  resetPacing();
  viewerRefusedAt = Number.NEGATIVE_INFINITY;
  breaker.resetBreakers();
}
