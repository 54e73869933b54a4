/**
 * One load per key across the whole deployment. The first isolate to miss a key holds its
 * lease and loads it; a viewer elsewhere who misses the same key meanwhile waits for the
 * holder's outcome (which travels back through the Durable Object, so it does not depend on
 * KV's propagation); a background refresh elsewhere is skipped, its stale copy still served.
 *
 * A lease lasts as long as its load may (the caller's timeout plus a margin): a holder whose
 * isolate died frees the key when its lease runs out, and its waiters hear "expired".
 */

export type LoadOutcome =
  | { kind: "data"; body: string; etag: string; fetchedAt: number; status?: number }
  | { kind: "failed" }
  | { kind: "expired" };

interface Lease {
  until: number;
  waiters: ((outcome: LoadOutcome) => void)[];
}

/** Completions remembered, so a refresh asked for an older copy than one just loaded is skipped. */
const RECENT_MAX_KEYS = 10_000;

export class LeaseTable {
  private readonly leases = new Map<string, Lease>();
  private readonly recent = new Map<string, number>();

  /** True while someone else's unexpired lease covers `key`. */
  held(key: string, now: number): boolean {
    const lease = this.leases.get(key);
    if (!lease) return false;
    if (now < lease.until) return true;
    this.settle(key, { kind: "expired" });
    return false;
  }

  take(key: string, now: number, ms: number): void {
    this.leases.set(key, { until: now + ms, waiters: [] });
  }

  /** When `key` was last loaded here after `since`, if it was. */
  loadedSince(key: string, since: number): number | undefined {
    const at = this.recent.get(key);
    return at !== undefined && at > since ? at : undefined;
  }

  /** The holder's outcome: frees the key and answers everyone waiting on it. */
  complete(key: string, outcome: LoadOutcome, now: number): void {
    if (outcome.kind === "data") {
      this.recent.delete(key);
      this.recent.set(key, now);
      if (this.recent.size > RECENT_MAX_KEYS) this.recent.delete(this.recent.keys().next().value as string);
    }
    this.settle(key, outcome);
  }

  /** Resolves with the holder's outcome, or "expired" when the lease ends first. */
  wait(key: string, now: number): Promise<LoadOutcome> {
    const lease = this.leases.get(key);
    if (!lease || now >= lease.until) return Promise.resolve({ kind: "expired" });
    return new Promise((resolve) => {
      lease.waiters.push(resolve);
      // The holder may never come back; the waiters must not outlive its lease.
      setTimeout(() => this.settleIfCurrent(key, lease), Math.max(1, lease.until - now));
    });
  }

  get size(): number {
    return this.leases.size;
  }

  private settleIfCurrent(key: string, lease: Lease): void {
    if (this.leases.get(key) === lease) this.settle(key, { kind: "expired" });
  }

  private settle(key: string, outcome: LoadOutcome): void {
    const lease = this.leases.get(key);
    this.leases.delete(key);
    for (const resolve of lease?.waiters ?? []) resolve(outcome);
  }
}
