import { KeeperAnswer } from "./keeper-answer";
import { LEASE_MS, type LeaseAsk, type LeaseGrant, type PermitClass, zero } from "./ledger";

/**
 * An isolate's side of its quota lease (ledger.ts has the keeper's): permits to spend
 * locally, with no round trip, in three pools. A viewer's miss may spend from any pool, a
 * stale copy's refresh from the refresh or scheduled pool, refresh-ahead from its own: the
 * keeper sized each pool within its class's share of the budget.
 *
 * Renewal: in the background while permits remain (when a quarter or less of the last grant
 * is left, or about half the lease has passed (RENEW_AFTER), with demand since), awaited only when there is no
 * live lease. What it asks for is this isolate's demand since the last renewal (permits
 * taken and refused), at that rate for a whole LEASE_MS, so a busy isolate asks for more and
 * an idle one for little. Never before the keeper's `retryAt` (the budget is spent, or BeatPass
 * asked for a pause): a refusal until then is decided here. What the keeper said besides the
 * permits (that retry time, the pause, the newcomers' room) is kept by keeper-answer.ts.
 */

/** What a new isolate asks for before it has any demand to go by. */
export const INITIAL_WANT: Record<PermitClass, number> = { viewer: 4, refresh: 0, scheduled: 0 };
/**
 * A busy isolate renews after this share of a lease at the latest, drawn afresh at each
 * renewal from [RENEW_AFTER.from, RENEW_AFTER.from + RENEW_AFTER.spread): isolates that
 * started together (a deploy, a cold fleet) would otherwise renew in step for ever; the
 * fleet simulation's 10,000 req/s run saw 910 keeper calls in one second against a mean of 64.
 */
export const RENEW_AFTER = { from: 0.35, spread: 0.3 };

const POOLS: Record<PermitClass, PermitClass[]> = {
  viewer: ["viewer", "refresh", "scheduled"],
  refresh: ["refresh", "scheduled"],
  scheduled: ["scheduled"],
};

export type Take =
  | { ok: true; pool: PermitClass }
  | { ok: false; reason: "paused" | "budget" | "unavailable"; retryAt: number }
  | { ok: false; reason: "renew" };

export class Quota extends KeeperAnswer {
  /** The keeper's name for this isolate's lease chain; the counts below are cumulative within it. */
  private chain: string | undefined;
  /** Cumulative per pool: what the keeper granted, and what was spent from it here. */
  private granted = zero();
  private spentFrom = zero();
  private spentTotal = 0;
  /** Spend times not yet acknowledged by the keeper (oldest first). */
  private unreported: number[] = [];
  private expires = 0;
  private lastGrant = 0;
  private renewedAt = 0;
  private renewAfter: number;
  /** Permits asked for (taken or refused) per class since the last renewal was sent. */
  private demand = zero();
  private everGranted = false;

  constructor(private readonly random: () => number = Math.random) {
    super();
    this.renewAfter = this.drawRenewAfter();
  }

  /**
   * Why `cls` cannot have a permit before `retryAt`, decided here without a renewal; undefined
   * when it may have one (now, or once a renewal is answered). A refusal counts as demand.
   */
  blocked(
    cls: PermitClass,
    now: number,
    newcomer = false,
  ): { reason: "paused" | "budget" | "unavailable"; retryAt: number } | undefined {
    let refusal: { reason: "paused" | "budget" | "unavailable"; retryAt: number } | undefined;
    if (now < this.pausedUntil) refusal = { reason: "paused", retryAt: this.pausedUntil };
    else if (newcomer && this.mayAskForNewcomer(now)) refusal = undefined;
    else if ((now >= this.expires || this.leftIn(cls) === 0) && now < this.retryAt)
      refusal = { reason: this.refusal(), retryAt: this.retryAt };
    if (refusal) this.demand[cls]++;
    return refusal;
  }

  /** Spends one permit for `cls` if the lease holds one; else says why not. */
  take(cls: PermitClass, now: number, countDemand = true): Take {
    if (countDemand) this.demand[cls]++;
    if (now < this.pausedUntil) return { ok: false, reason: "paused", retryAt: this.pausedUntil };
    if (now >= this.expires) {
      if (now < this.retryAt) return { ok: false, reason: this.refusal(), retryAt: this.retryAt };
      return { ok: false, reason: "renew" };
    }
    for (const pool of POOLS[cls]) {
      if (this.granted[pool] - this.spentFrom[pool] > 0) {
        this.spentFrom[pool]++;
        this.spentTotal++;
        this.unreported.push(now);
        return { ok: true, pool };
      }
    }
    // Spent before it expired: the keeper may have more (others returned theirs), unless it said when.
    if (now < this.retryAt) return { ok: false, reason: this.refusal(), retryAt: this.retryAt };
    return { ok: false, reason: "renew" };
  }

  /** Puts back a permit taken from `pool` (the load was refused after all): it was never spent. */
  giveBack(pool: PermitClass): void {
    if (this.spentFrom[pool] === 0 || this.unreported.length === 0) return;
    this.spentFrom[pool]--;
    this.spentTotal--;
    this.unreported.pop();
  }

  /** Whether a renewal should be sent now (background, or awaited when `take` said "renew"). */
  dueForRenewal(now: number): boolean {
    if (now < this.retryAt) return false;
    if (now >= this.expires) return true;
    const asked = this.demand.viewer + this.demand.refresh + this.demand.scheduled;
    if (asked === 0) return false;
    const left = this.left();
    return left <= Math.max(1, Math.floor(this.lastGrant / 4)) || now - this.renewedAt >= this.renewAfter;
  }

  /** The renewal to send: spends since the last acknowledged report, and the demand ahead. */
  ask(
    isolate: string,
    location: string,
    now: number,
    extra: Partial<Record<PermitClass, number>> = {},
    newcomers = 0,
    peers?: number,
  ): LeaseAsk {
    // Demand is measured over at least a third of a lease: a burst of a few misses in one
    // second does not ask for a whole lease at that rate (unspent permits stay held).
    const elapsed = Math.max(LEASE_MS / 3, now - this.renewedAt);
    const want = zero();
    for (const cls of ["viewer", "refresh", "scheduled"] as PermitClass[]) {
      const rate = this.demand[cls] / elapsed;
      const ahead = this.everGranted ? Math.ceil(rate * LEASE_MS) : INITIAL_WANT[cls];
      want[cls] = Math.max(0, ahead + (extra[cls] ?? 0) - this.leftIn(cls));
    }
    this.demand = zero();
    this.renewedAt = now;
    this.renewAfter = this.drawRenewAfter();
    return {
      isolate,
      location,
      chain: this.chain,
      spent: this.spentTotal,
      spentAt: [...this.unreported],
      want,
      newcomers,
      ...(peers === undefined ? {} : { peers }),
    };
  }

  /** Takes the keeper's answer to an ask sent with `spentTotal` spends reported. */
  apply(grant: LeaseGrant, reportedUpTo: number): void {
    if (grant.chain !== this.chain) {
      // A new chain (the first, or the keeper no longer knows the old one): counts restart.
      this.chain = grant.chain;
      this.spentFrom = zero();
      this.spentTotal = 0;
      this.unreported = [];
      this.granted = zero();
    } else {
      const acked = this.unreported.length - (this.spentTotal - reportedUpTo);
      if (acked > 0) this.unreported.splice(0, acked);
    }
    const before = this.granted.viewer + this.granted.refresh + this.granted.scheduled;
    this.granted = { ...grant.granted };
    this.lastGrant = Math.max(0, this.granted.viewer + this.granted.refresh + this.granted.scheduled - before);
    this.expires = grant.expires;
    this.answered(grant);
    this.everGranted = true;
  }

  /** Whether a lease is live: permits may be spent from it without hearing from the keeper. */
  hasLease(now: number): boolean {
    return now < this.expires;
  }

  /** Spends not yet acknowledged by a renewal. */
  get unreportedCount(): number {
    return this.unreported.length;
  }

  /** Forgets the lease (a cold isolate: tests, the simulation's recycled isolates). */
  reset(): void {
    this.chain = undefined;
    this.granted = zero();
    this.spentFrom = zero();
    this.spentTotal = 0;
    this.unreported = [];
    this.expires = this.lastGrant = this.renewedAt = 0;
    this.demand = zero();
    this.everGranted = false;
    this.forgetAnswers();
  }

  get spent(): number {
    return this.spentTotal;
  }

  /** Permits the last renewal added (how large a lease this isolate's demand earns). */
  get lastGrantSize(): number {
    return this.lastGrant;
  }

  /** Whether there is no live lease (a miss must wait for a renewal). */
  needsLease(now: number): boolean {
    return now >= this.expires && now >= this.retryAt;
  }

  /** For /healthz. */
  view(now: number) {
    return {
      permits_left: now < this.expires ? this.left() : 0,
      expires_in_s: Math.max(0, Math.round((this.expires - now) / 1000)),
      keeper_unreachable: this.unreachable,
    };
  }

  /** Permits left to spend, any pool. */
  left(): number {
    return this.leftIn("viewer");
  }

  private leftIn(cls: PermitClass): number {
    let n = 0;
    for (const pool of POOLS[cls]) n += Math.max(0, this.granted[pool] - this.spentFrom[pool]);
    return n;
  }

  private drawRenewAfter(): number {
    return LEASE_MS * (RENEW_AFTER.from + RENEW_AFTER.spread * this.random());
  }
}
