import { applyPurges, latestPurgeAt } from "../cache/purge";
import { logEvent } from "../lib/log";
import { locationCoordinator } from "./coordination";
import type { KeyCoordinator } from "./coordinator";
import type { UpstreamBudget } from "./keeper";
import { CLASSES, type PermitClass, zero } from "./ledger";
import { Quota } from "./quota";
import { coordinatorOf, keeperOf, within } from "./stubs";

/**
 * This isolate's quota lease as it holds it between renewals: the Quota it spends from, the
 * 429 pause heard here, the isolate's id and salt, and renew(), which reports to the keeper
 * what the isolate did since the last renewal (spends, per-network counts, refusals,
 * newcomers waiting) and takes what it grants, asking its location's gate first when it has
 * no live lease (lease-gate.ts). Spending from the lease is permits.ts's; admission.ts
 * decides when a load needs it.
 */

/** Where a renewal goes and what it may wait: the keeper, this location's gate, the budget. */
export interface LeaseOptions {
  keeper: DurableObjectNamespace<UpstreamBudget> | undefined;
  coordinators: DurableObjectNamespace<KeyCoordinator> | undefined;
  /** The data centre (request.cf.colo): which location coordinator a viewer's miss asks. */
  location: string;
  perMinute: number;
  timeoutMs: number;
  waitUntil(promise: Promise<unknown>): void;
}

// ---- isolate state ----
let isolate: string | undefined;
/**
 * This isolate's place in spreads of per-key work (pacing.ts), different in every isolate.
 * Drawn before the quota's own draw, in this order, so that the simulation's seeded isolates
 * replay exactly as they did.
 */
let salt = String(Math.random());
/** The lease this isolate spends from. */
export const quota = new Quota();
let pausedUntil = 0;
let renewing: Promise<void> | undefined;
/** Bumped when the isolate starts from cold: a renewal still under way from before is ignored. */
let generation = 0;
/** Viewer spends per network group not yet reported, and refusals since the last renewal. */
let unreportedGroups = new Map<string, number>();
let refusedSinceReport = zero();
/** Viewers from networks new this minute waiting for a permit, for the next renewal to name. */
let newcomersWaiting = 0;
/** Groups past their share deployment-wide (from the keeper), until when. */
let capped: Record<string, number> = {};
/** Permits in use and not this isolate's to spend, as the keeper said at the last renewal (KeeperGrant.used)... */
let usedElsewhere = 0;

/** A wait as the whole seconds a viewer is told to retry after (at least one). */
export const retrySeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** This isolate's salt for spreads of per-key work (a new one when it starts cold). */
export function isolateSalt(): string {
  return salt;
}

/** Until when nothing leaves this isolate (BeatPass's 429, heard here or passed on). */
export function pausedUntilHere(): number {
  return pausedUntil;
}

/** BeatPass said 429 here: nothing leaves this isolate before `until`. */
export function pauseHere(until: number): boolean {
  if (until <= pausedUntil) return false;
  pausedUntil = until;
  quota.pause(until);
  logEvent("warn", "upstream_rate_limited", { retry_after_s: retrySeconds(until - Date.now()) });
  return true;
}

/** A viewer's permit spent for `group`, for the next renewal to report. */
export function reportGroupSpend(group: string): void {
  unreportedGroups.set(group, (unreportedGroups.get(group) ?? 0) + 1);
}

/** A load of `cls` refused here, for the next renewal to report. */
export function reportRefusal(cls: PermitClass): void {
  refusedSinceReport[cls]++;
}

/** A viewer from a network new this minute waits for a permit: the next renewal names it. */
export function reportNewcomerWaiting(): void {
  newcomersWaiting++;
}

/** Until when the keeper said `group` has had its share deployment-wide (0: it did not). */
export function cappedUntil(group: string): number {
  return capped[group] ?? 0;
}

/** Permits in use and not this isolate's to spend, as the keeper said at the last renewal. */
export function permitsUsedElsewhere(): number {
  return usedElsewhere;
}

/**
 * Renews this isolate's lease (one renewal at a time): reports its spends, per-network counts
 * and refusals since the last renewal, and takes what the keeper grants. `extra`: permits
 * wanted beyond the demand seen (refresh-ahead says how many it means to spend).
 */
export function renew(o: LeaseOptions, extra: Partial<Record<PermitClass, number>> = {}): Promise<void> {
  if (renewing) return renewing;
  const keeper = keeperOf(o.keeper);
  if (!keeper) {
    quota.failed(Date.now());
    return Promise.resolve();
  }
  isolate ??= crypto.randomUUID();
  renewing = askKeeper(o, keeper, isolate, extra).finally(() => {
    renewing = undefined;
  });
  return renewing;
}

async function askKeeper(
  o: LeaseOptions,
  keeper: NonNullable<ReturnType<typeof keeperOf>>,
  id: string,
  extra: Partial<Record<PermitClass, number>>,
): Promise<void> {
  // Without a live lease, the location's gate first (lease-gate.ts): an answer another isolate
  // here was just given costs no keeper call. With one, the renewal goes straight on.
  const gate = quota.hasLease(Date.now()) ? undefined : coordinatorOf(o.coordinators, locationCoordinator(o.location));
  const gen = generation;
  let peers: number | undefined;
  if (gate) {
    const asked = (async () => gate.leaseTurn(id, newcomersWaiting > 0))();
    const turn = await within(asked, o.timeoutMs).catch((err: unknown) => {
      // Without it this isolate asks the keeper itself: one more call, nothing unsafe.
      logEvent("warn", "coordinator_unavailable", { step: "lease_gate", error: String(err) });
      return undefined;
    });
    if (gen !== generation) return;
    if (turn?.kind === "heard") {
      quota.heard(turn.heard);
      newcomersWaiting = 0;
      if (turn.heard.pausedUntil > Date.now()) pauseHere(turn.heard.pausedUntil);
      return;
    }
    peers = turn?.peers;
  }
  const ask = quota.ask(id, o.location, Date.now(), extra, newcomersWaiting, peers);
  newcomersWaiting = 0;
  const groups = [...unreportedGroups];
  const refused = refusedSinceReport;
  unreportedGroups = new Map();
  refusedSinceReport = zero();
  try {
    const grant = await within(keeper.lease({ ...ask, perMinute: o.perMinute, groups, refused }), o.timeoutMs);
    if (gen !== generation) return;
    quota.apply(grant, ask.spent);
    capped = grant.capped;
    usedElsewhere = grant.used;
    if (grant.pausedUntil > Date.now()) pauseHere(grant.pausedUntil);
    if (grant.purgedAt > latestPurgeAt())
      o.waitUntil(within(keeper.purgesSince(latestPurgeAt()), o.timeoutMs).then(applyPurges, () => undefined));
  } catch (err: unknown) {
    if (gen !== generation) return;
    quota.failed(Date.now());
    // Reported next time instead.
    for (const [g, n] of groups) unreportedGroups.set(g, (unreportedGroups.get(g) ?? 0) + n);
    for (const cls of CLASSES) refusedSinceReport[cls] += refused[cls];
    logEvent("warn", "budget_unavailable", {
      step: "lease",
      error: err instanceof Error ? err.message : String(err),
    });
  }
  // The location's next asker goes on, or takes this answer as its own.
  if (gate && peers !== undefined)
    o.waitUntil(within(gate.leaseTold(quota.told(Date.now())), o.timeoutMs).catch(() => undefined));
}

/** Forgets the lease, the pause and every report (a cold isolate: resetAdmission). */
export function resetIsolateLease(): void {
  generation++;
  isolate = undefined;
  salt = String(Math.random());
  quota.reset();
  unreportedGroups = new Map();
  refusedSinceReport = zero();
  capped = {};
  usedElsewhere = 0;
  newcomersWaiting = 0;
  pausedUntil = 0;
  renewing = undefined;
}
