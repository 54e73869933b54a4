import type { Heard } from "./lease-gate";
import type { LeaseGrant } from "./ledger";

/** After a failed renewal (keeper unreachable), the next is not tried before this. */
export const RENEW_BACKOFF_MS = 5_000;

/**
 * What the keeper last said to this isolate, the part of its answer that is not the lease
 * itself (quota.ts, which builds on this, keeps the permits): when to ask again, the pause,
 * the room left for newcomers, how many isolates share the budget. Heard from the keeper, or
 * from another isolate of the same location through its gate (lease-gate.ts), and passed on
 * to the gate in turn.
 */
export class KeeperAnswer {
  /** Nothing more from the keeper before then (budget spent, paused, or unreachable). */
  protected retryAt = 0;
  protected pausedUntil = 0;
  /** The keeper could not be reached at the last try. */
  unreachable = false;
  /** Permits the keeper has left for newcomers, as it said last (before any answer: ask). */
  newcomerRoom = Number.POSITIVE_INFINITY;
  /** When this isolate's newcomers may ask for that room (the keeper spaces refused isolates' asks). */
  newcomerAt = 0;
  /** Isolates that asked the keeper within the last lease, as it said last (this one alone before it answers). */
  isolates = 1;
  /** When this isolate first heard that (from the keeper, its location's gate, or the keeper's silence). */
  fleetKnownAt: number | undefined;

  /**
   * What the keeper told another isolate of this location moments ago (lease-gate.ts), taken
   * as if told here: no ask before its retry time. This isolate's own lease is not touched.
   */
  heard(h: Heard): void {
    this.retryAt = Math.max(this.retryAt, h.retryAt);
    this.unreachable = h.kind === "failed";
    this.newcomerRoom = this.unreachable ? 0 : h.newcomerRoom;
    this.newcomerAt = h.newcomerAt;
    this.isolates = Math.max(1, h.isolates);
    this.fleetKnownAt ??= Date.now();
    this.pausedUntil = Math.max(this.pausedUntil, h.pausedUntil);
  }

  /** Whether a newcomer here may ask the keeper for a permit of the room it said is left. */
  mayAskForNewcomer(now: number): boolean {
    return this.newcomerRoom > 0 && now >= this.newcomerAt;
  }

  /** What this isolate last heard, for the rest of its location (lease-gate.ts). */
  told(now: number): Heard {
    // "Nothing more before retryAt" holds for the others too, even when this ask got a few.
    const kind = this.unreachable ? "failed" : this.retryAt > now ? "refused" : "granted";
    return {
      kind,
      retryAt: this.retryAt,
      newcomerRoom: this.unreachable ? 0 : this.newcomerRoom,
      newcomerAt: this.newcomerAt,
      isolates: this.isolates,
      pausedUntil: this.pausedUntil,
    };
  }

  /** The keeper did not answer: spend what is left, and do not ask again for a while. */
  failed(now: number): void {
    this.fleetKnownAt ??= now;
    this.retryAt = now + RENEW_BACKOFF_MS;
    this.unreachable = true;
    this.newcomerRoom = 0;
  }

  /** BeatPass asked for a pause (heard here, from a coordinator or from the keeper). */
  pause(until: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, until);
  }

  /** Takes what a renewal's grant says besides the permits. */
  protected answered(grant: LeaseGrant): void {
    this.retryAt = grant.retryAt;
    this.newcomerRoom = grant.newcomerRoom;
    this.newcomerAt = grant.newcomerAt;
    this.isolates = Math.max(1, grant.isolates);
    this.fleetKnownAt ??= Date.now();
    this.pausedUntil = Math.max(this.pausedUntil, grant.pausedUntil);
    this.unreachable = false;
  }

  /** Forgets every answer (a cold isolate). */
  protected forgetAnswers(): void {
    this.retryAt = this.pausedUntil = 0;
    this.unreachable = false;
    this.newcomerRoom = Number.POSITIVE_INFINITY;
    this.newcomerAt = 0;
    this.isolates = 1;
    this.fleetKnownAt = undefined;
  }

  /** Why nothing more may be spent before retryAt. */
  protected refusal(): "paused" | "budget" | "unavailable" {
    return this.unreachable ? "unavailable" : "budget";
  }
}
