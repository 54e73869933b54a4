import { LEASE_MS } from "./ledger";

/**
 * A location's turn to ask the keeper, kept by its coordinator (coordinator.ts, `loc:<colo>`).
 *
 * An isolate with no live lease must hear from the keeper before it may spend: its first ask,
 * and, once refused, each newcomer's ask. When a whole fleet starts at once (a deploy, a cold
 * deployment), every isolate asks in the same second, and all but the first few are told the
 * same thing: the budget is out until a given time. The fleet simulation saw 958 keeper calls
 * in the first second at 10,000 req/s over 1,200 isolates, near the keeper's ~1,000 a second.
 *
 * So a lease-less isolate first asks its location's gate, a few milliseconds away. One isolate
 * of the location asks the keeper at a time; the others wait for what it heard. A refusal (or
 * an unreachable keeper) is passed on to them and to every later asker here until its retry
 * time, with no keeper call; after a grant the next waiter asks for its own lease. The keeper
 * then hears about once per location, not once per isolate. The gate spends nothing and holds
 * no budget: it only stops asks whose answer is already known.
 */

/** What the keeper told the location's asker, as the gate passes it on. */
export interface Heard {
  /** refused: no permit before retryAt; failed: the keeper was not reached; granted: it gave permits. */
  kind: "refused" | "failed" | "granted";
  retryAt: number;
  newcomerRoom: number;
  newcomerAt: number;
  isolates: number;
  pausedUntil: number;
}

export type LeaseTurn =
  /** Ask the keeper now, and tell the gate what it said (`peers`: isolates seen here within a lease, the asker too). */
  | { kind: "ask"; peers: number }
  /** The keeper's answer to another isolate here, still current: take it as your own. */
  | { kind: "heard"; heard: Heard };

/** How long waiters wait for the asker before one of them asks instead (it may have died). */
export const ASKER_WAIT_MS = 5_000;

export class LeaseGate {
  private asking: Turn | undefined;
  private last: Heard | undefined;
  private readonly peers = new Map<string, number>();

  constructor(private readonly askerWaitMs = ASKER_WAIT_MS) {}

  /** `isolate`'s turn: ask now, wait for the asker here, or take what it heard. */
  async turn(isolate: string, newcomer: boolean, now: number, clock: () => number = Date.now): Promise<LeaseTurn> {
    this.peers.delete(isolate);
    this.peers.set(isolate, now);
    this.forgetPeers(now);
    for (let t = now; ; t = clock()) {
      const known = this.known(newcomer, t);
      if (known) return { kind: "heard", heard: known };
      if (!this.asking) {
        // The asker may never report (its isolate died): its turn ends on a timer, not on the
        // clock, which a test may have stopped.
        const asking: Turn = { waiters: [], timer: setTimeout(() => this.end(asking), this.askerWaitMs) };
        this.asking = asking;
        return { kind: "ask", peers: this.peers.size };
      }
      const asking = this.asking;
      await new Promise<void>((resolve) => asking.waiters.push(resolve));
    }
  }

  /** What the keeper told this location's asker: ends its turn, and wakes the next waiter. */
  told(heard: Heard): void {
    this.last = heard.kind === "granted" ? undefined : heard;
    if (this.asking) this.end(this.asking);
  }

  private end(asking: Turn): void {
    if (this.asking !== asking) return;
    clearTimeout(asking.timer);
    this.asking = undefined;
    for (const wake of asking.waiters) wake();
  }

  /** A refusal or failure still current for this asker (a newcomer may still ask while room is left). */
  private known(newcomer: boolean, now: number): Heard | undefined {
    const last = this.last;
    if (!last || now >= last.retryAt) return undefined;
    if (newcomer && last.kind === "refused" && last.newcomerRoom > 0 && now >= last.newcomerAt) return undefined;
    return last;
  }

  /** Isolates seen here within the last lease are the peers; older ones are forgotten. */
  private forgetPeers(now: number): void {
    for (const [id, at] of this.peers) {
      if (at > now - LEASE_MS) break;
      this.peers.delete(id);
    }
  }
}

interface Turn {
  waiters: (() => void)[];
  timer: ReturnType<typeof setTimeout>;
}
