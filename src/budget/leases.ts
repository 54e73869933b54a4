import { ByteLru } from "../lib/byte-lru";

/**
 * One load per key across the whole deployment. The first isolate to miss a key holds its
 * lease and loads it; a viewer elsewhere who misses the same key meanwhile waits for the
 * holder's outcome (which travels back through the Durable Object, so it does not depend on
 * KV's propagation), and so does a background refresh elsewhere (its stale copy served meanwhile).
 *
 * After the load, the table remembers it: its fetch time and ETag for a while (so a refresh
 * of an older copy elsewhere is skipped, and a copy with the same ETag is known current without
 * KV, whose write rationing may not have rewritten it), and its body for RELAY_MS (so a miss
 * in a data centre that KV has not reached yet is answered from here, not from BeatPass).
 *
 * A lease lasts as long as its load may (the caller's timeout plus a margin): a holder whose
 * isolate died frees the key when its lease runs out, and its waiters hear "expired".
 */

export type LoadOutcome =
  | { kind: "data"; body: string; etag: string; fetchedAt: number; status?: number }
  | { kind: "failed" }
  /** The holder's isolate had no permit for it: its waiters have none either (they would need their own). */
  | { kind: "refused"; reason: "paused" | "budget" | "client" | "unavailable"; retryAfterMs: number }
  | { kind: "expired" };

type Loaded = Extract<LoadOutcome, { kind: "data" }>;

interface Lease {
  until: number;
  waiters: ((outcome: LoadOutcome) => void)[];
}

const RECENT_MAX_KEYS = 10_000;
/** How long a loaded body is handed to later misses: KV's worst-case propagation. */
export const RELAY_MS = 60_000;
/** Bodies kept for relaying, at most (a Durable Object has 128 MB like any isolate). */
const RELAY_MAX_BYTES = 16 * 1024 * 1024;

export class LeaseTable {
  private readonly leases = new Map<string, Lease>();
  private readonly recent = new Map<string, { fetchedAt: number; etag: string }>();
  private readonly bodies = new ByteLru<{ outcome: Loaded; until: number }>({
    maxBytes: RELAY_MAX_BYTES,
    sizeOf: (v) => v.outcome.body.length * 2 + 64,
  });

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

  /** The last load of `key` through here, if its copy was fetched after `since`. */
  loadedAfter(key: string, since: number): { fetchedAt: number; etag: string } | undefined {
    const last = this.recent.get(key);
    return last && last.fetchedAt > since ? last : undefined;
  }

  /** That load's outcome, while it may still be relayed. */
  relay(key: string, now: number): Loaded | undefined {
    const kept = this.bodies.get(key);
    if (kept && now < kept.until) return kept.outcome;
    if (kept) this.bodies.delete(key);
    return undefined;
  }

  /** The holder's outcome: frees the key and answers everyone waiting on it. */
  complete(key: string, outcome: LoadOutcome, now: number): void {
    if (outcome.kind === "data") {
      // The load's own fetch time, not the arrival of this message: the holder's copy carries
      // exactly this time, so it never counts as older than its own load.
      this.recent.delete(key);
      this.recent.set(key, { fetchedAt: outcome.fetchedAt, etag: outcome.etag });
      if (this.recent.size > RECENT_MAX_KEYS) this.recent.delete(this.recent.keys().next().value as string);
      this.bodies.set(key, { outcome, until: now + RELAY_MS });
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

  /** Callers waiting on a lease's outcome (for status and tests). */
  get waiting(): number {
    let n = 0;
    for (const lease of this.leases.values()) n += lease.waiters.length;
    return n;
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
