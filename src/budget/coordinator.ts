import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { type Heard, LeaseGate, type LeaseTurn } from "./lease-gate";
import { LeaseTable, type LoadOutcome } from "./leases";
import type { PermitClass } from "./ledger";

/**
 * One load per key (binding COORDINATORS, names from coordination.ts): the first isolate to
 * ask about a key holds its lease and loads it; others that ask meanwhile wait for that
 * load's outcome, or, for refresh-ahead, move on. A load finished moments ago is handed to a
 * miss that KV has not reached yet, and a refresh of an older copy is told the key's newer
 * fetch time and ETag instead of loading it again (leases.ts). No budget is spent here: the
 * loader spends a permit of its own lease (quota.ts) once it holds the key.
 *
 * A location's coordinator also keeps its isolates' turns to ask the keeper for a lease
 * (lease-gate.ts): one at a time, and an answer already known is passed on instead.
 *
 * The keeper tells every coordinator of a 429 pause and of purges: a paused coordinator
 * answers every ask with the pause, so an isolate that has not heard of it yet learns it
 * here, before it sends anything.
 */
export interface CoordinateRequest {
  key: string;
  cls: PermitClass;
  /** How long the load may take: the lease's length. */
  leaseMs: number;
  /** The fetch time of the copy the caller holds, if any. */
  since?: number;
  /** The oldest fetch time the caller would still call fresh (now minus its soft window). */
  freshFrom: number;
}

export type Coordination =
  | { kind: "go" }
  | { kind: "wait" }
  | { kind: "shared"; outcome: Extract<LoadOutcome, { kind: "data" }> }
  | { kind: "skip"; loadedAt?: number; etag?: string }
  | { kind: "paused"; until: number };

export class KeyCoordinator extends DurableObject<Env> {
  private readonly leases = new LeaseTable();
  private readonly gate = new LeaseGate();
  private pausedUntil = 0;
  private purgedAt = 0;

  /** Whether the caller loads `key` now, waits for another's load, takes a recent one, or skips. */
  begin(req: CoordinateRequest): Coordination {
    const now = Date.now();
    if (now < this.pausedUntil) return { kind: "paused", until: this.pausedUntil };
    // Someone is loading it: a viewer or a refresh waits for that outcome (a refresh waits in
    // the background, and then holds the new copy like the loader does); refresh-ahead moves on.
    if (this.leases.held(req.key, now)) return req.cls === "scheduled" ? { kind: "skip" } : { kind: "wait" };
    // Loaded since the caller's copy, recently enough to be fresh for it and after the last
    // purge: hand the body over while it is kept, otherwise tell a refresh the copy is current.
    const after = Math.max(req.since ?? 0, req.freshFrom - 1, this.purgedAt);
    const loaded = this.leases.loadedAfter(req.key, after);
    if (loaded) {
      const outcome = this.leases.relay(req.key, now);
      if (outcome) return { kind: "shared", outcome };
      if (req.cls !== "viewer") return { kind: "skip", loadedAt: loaded.fetchedAt, etag: loaded.etag };
    }
    this.leases.take(req.key, now, req.leaseMs);
    return { kind: "go" };
  }

  /** The holder's outcome, handed to everyone waiting on the key. */
  complete(key: string, outcome: LoadOutcome): void {
    this.leases.complete(key, outcome, Date.now());
  }

  /** Waits for the holder of `key`'s lease to finish. */
  awaitLoad(key: string): Promise<LoadOutcome> {
    return this.leases.wait(key, Date.now());
  }

  /** A lease-less isolate's turn to ask the keeper (lease-gate.ts). */
  leaseTurn(isolate: string, newcomer: boolean): Promise<LeaseTurn> {
    return this.gate.turn(isolate, newcomer, Date.now());
  }

  /** What the keeper told the isolate whose turn it was. */
  leaseTold(heard: Heard): void {
    this.gate.told(heard);
  }

  /** BeatPass said 429 (told by the keeper, or by the isolate that met it). */
  pause(until: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, until);
  }

  /** A purge was recorded at `at`: loads from before it are not handed on. */
  purged(at: number): void {
    this.purgedAt = Math.max(this.purgedAt, at);
  }

  /** For tests and the operator's view. */
  status(): { leases: number; waiting: number; pausedUntil: number } {
    return { leases: this.leases.size, waiting: this.leases.waiting, pausedUntil: this.pausedUntil };
  }
}
