/**
 * The deployment's upstream budget as the keeper keeps it: quota leases (Doorman's capacity
 * leases, Envoy's quota assignments) instead of a permit per request. Plain data and pure
 * functions, so the Durable Object, the unit tests and the fleet simulation decide with the
 * same code.
 *
 * Each isolate holds one lease chain: `granted` permits in all (cumulative), `reported` of
 * them spent as far as the keeper has heard, valid until `expires`. A renewal reports the
 * spends since the last one (their times) and may add permits and push `expires` on; the
 * isolate spends locally, with no round trip, until it runs out or the lease expires.
 *
 * The invariant: BeatPass never sees more than `perMinute` requests in any 60 s window, even
 * if every isolate spends all it holds and the keeper is then lost. The keeper grants `n`
 * more only if
 *
 *     spends in the last HELD_MS  +  permits outstanding (granted, not reported spent)  +  n
 *       <=  the class's usable share of perMinute
 *
 * Proof sketch: take any window W at BeatPass and the last grant made before it ended. Every
 * request in W spends a permit granted no later than that grant; at that grant each such
 * permit was either a reported spend no older than HELD_MS (a request in W left at most
 * TRANSIT_MS before W began, and W is 60 s long), or outstanding, or part of the grant itself.
 * A lease that expires unreported counts all its outstanding permits as spent at its expiry
 * (the latest they could have been spent) until its isolate reports what it really spent.
 *
 * This file keeps the books (what a ledger holds, how it ages, what is in use); grants.ts
 * answers a renewal from them.
 */

export type PermitClass = "viewer" | "refresh" | "scheduled";
export const CLASSES: PermitClass[] = ["viewer", "refresh", "scheduled"];

export const WINDOW_MS = 60_000;
/**
 * A spend's time is read where the isolate decides, before the request crosses the network
 * to BeatPass; clocks of Cloudflare machines agree to well under this. Without it the fleet
 * simulation saw 241-242 requests arrive within one of BeatPass's windows for a budget of 240.
 */
export const TRANSIT_MS = 2_000;
export const HELD_MS = WINDOW_MS + TRANSIT_MS;
/**
 * How long a lease may be spent from without renewal. Longer means fewer keeper calls for an
 * isolate with sparse misses; shorter means less budget held by isolates that went quiet (an
 * idle lease's permits stay outstanding until it expires or its isolate reports).
 */
export const LEASE_MS = 30_000;
/** 80% of BeatPass's documented 300/min: the rest is the operator's other use of the token. */
export const DEFAULT_UPSTREAM_BUDGET_PER_MINUTE = 240;

/**
 * The share of the budget each class must leave for the classes above it. Viewers waiting on
 * a miss have no copy to fall back on; refreshes and refresh-ahead only keep copies young,
 * and their viewers are served the stale copy meanwhile.
 */
export const CLASS_RESERVE: Record<PermitClass, { share: number; why: string }> = {
  viewer: { share: 0, why: "a viewer waiting on a miss has nothing else to be shown: it may spend the last permit" },
  refresh: {
    share: 0.25,
    why: "a stale-while-revalidate refresh has a copy already being served: it leaves a quarter for viewers' misses",
  },
  scheduled: {
    share: 0.5,
    why: "refresh-ahead is an optimisation for keys still fresh: it runs only while half the budget is unspent",
  },
};
/**
 * The last share of the budget, kept at the keeper for viewers from networks that have not
 * spent in the last minute (new visitors): a lease renewal gets it only for the newcomers it
 * names (LeaseAsk.newcomers). Were it leased out like the rest, it could sit unspent in the
 * leases of isolates whose own viewers are refused their network's share, while the isolate a
 * new visitor reaches holds none.
 */
export const NEW_VISITOR_SHARE = 0.2;
/** No isolate holds more than this share of the budget at once (one isolate cannot take it all). */
export const MAX_LEASE_SHARE = 0.25;

/** What the keeper knows of one isolate's lease chain. */
export interface LeaseRecord {
  /** Which chain: counts below are cumulative within it (a new chain starts from zero). */
  chain: string;
  /** Permits granted in the chain, per class (cumulative). */
  granted: Record<PermitClass, number>;
  /** Permits the isolate has reported spent (cumulative, any class). */
  reported: number;
  expires: number;
  /** What the isolate asked for at its last renewal and did not get, per class: its unmet demand. */
  unmet: Record<PermitClass, number>;
  wantAt: number;
  location: string;
}

export interface Ledger {
  /** Times permits were spent (or assumed spent), oldest first, within HELD_MS. */
  marks: number[];
  leases: Record<string, LeaseRecord>;
  /**
   * Leases that expired unreported, by isolate: how many permits were assumed spent at
   * `expires`, so a late report can give the unspent ones back.
   */
  assumed: Record<
    string,
    { chain: string; count: number; expires: number; granted: Record<PermitClass, number>; reported: number }
  >;
  /** No permit is granted until then (BeatPass answered 429 with Retry-After). */
  pausedUntil: number;
  /** When each isolate last asked, for the last LEASE_MS: how many share the budget now. */
  seen?: Record<string, number>;
  /** The next free retry time (RETRY_ASKS_PER_S, grants.ts): refused isolates are given times from here on. */
  retryCursor?: number;
  /** The same for locations' newcomers' asks (LeaseGrant.newcomerAt). */
  newcomerCursor?: number;
  /** Each location's newcomer appointment, for the last LEASE_MS. */
  newcomerSlots?: Record<string, number>;
  /** Per location, the isolates its gate last counted (LeaseAsk.peers) and when, for the last LEASE_MS. */
  places?: Record<string, { peers: number; at: number }>;
}

export interface LeaseAsk {
  isolate: string;
  location: string;
  /** The chain the counts below belong to (none for an isolate's first ask). */
  chain?: string;
  /** Permits spent since the last report (cumulative count), and when each was spent. */
  spent: number;
  spentAt: number[];
  /** How many more the isolate wants, per class, for the next LEASE_MS. */
  want: Record<PermitClass, number>;
  /** Viewers from networks new this minute waiting for a permit: granted from the new visitors' share. */
  newcomers?: number;
  /**
   * Isolates of the asker's location that asked its lease gate within the last lease, the asker
   * included (lease-gate.ts): those the gate answered never reach the keeper, but they share
   * the budget's spreads all the same.
   */
  peers?: number;
}

export type LeaseGrant = {
  /** The chain these counts belong to: a different one from the ask's starts the isolate's from zero. */
  chain: string;
  /** Cumulative permits of the chain per class: the isolate holds granted minus what it spent. */
  granted: Record<PermitClass, number>;
  expires: number;
  /** Nothing more until then (budget spent or paused): the isolate does not ask before. */
  retryAt: number;
  pausedUntil: number;
  /** Permits left for newcomers (the new visitors' share and anything else free): ask for them even before retryAt. */
  newcomerRoom: number;
  /** Not before then, though (a refused isolate's appointment for its newcomers, spaced like retryAt's). */
  newcomerAt: number;
  /** Isolates that asked within the last lease: how many share the budget (they size spreads that keep objects' call rates down). */
  isolates: number;
};

export const zero = (): Record<PermitClass, number> => ({ viewer: 0, refresh: 0, scheduled: 0 });
/** Permits in a per-class count, every class together. */
export const total = (r: Record<PermitClass, number>) => r.viewer + r.refresh + r.scheduled;

export function emptyLedger(): Ledger {
  return {
    marks: [],
    leases: {},
    assumed: {},
    pausedUntil: 0,
    seen: {},
    retryCursor: 0,
    places: {},
    newcomerSlots: {},
  };
}

/** Permits of `cls` that may be in use at most: the budget minus the classes above it. */
export function usable(cls: PermitClass, perMinute: number): number {
  return perMinute - Math.floor(CLASS_RESERVE[cls].share * perMinute);
}

/**
 * Ages the ledger to `now`: drops marks older than HELD_MS, turns expired leases' outstanding
 * permits into marks at their expiry, and forgets assumptions past HELD_MS.
 */
export function settle(l: Ledger, now: number): void {
  for (const [isolate, lease] of Object.entries(l.leases)) {
    if (lease.expires > now) continue;
    const outstanding = total(lease.granted) - lease.reported;
    for (let i = 0; i < outstanding; i++) insertMark(l.marks, lease.expires);
    if (outstanding > 0)
      l.assumed[isolate] = {
        chain: lease.chain,
        count: outstanding,
        expires: lease.expires,
        granted: lease.granted,
        reported: lease.reported,
      };
    delete l.leases[isolate];
  }
  for (const [isolate, a] of Object.entries(l.assumed)) if (a.expires <= now - HELD_MS) delete l.assumed[isolate];
  for (const [isolate, at] of Object.entries(l.seen ?? {})) if (at <= now - LEASE_MS) delete l.seen?.[isolate];
  for (const [place, p] of Object.entries(l.places ?? {})) if (p.at <= now - LEASE_MS) delete l.places?.[place];
  for (const [place, at] of Object.entries(l.newcomerSlots ?? {}))
    if (at <= now - LEASE_MS) delete l.newcomerSlots?.[place];
  let i = 0;
  while (i < l.marks.length && (l.marks[i] as number) <= now - HELD_MS) i++;
  if (i > 0) l.marks.splice(0, i);
}

/** Permits in use now: recent spends and every live lease's outstanding permits (after settle). */
export function inUse(l: Ledger): number {
  let n = l.marks.length;
  for (const lease of Object.values(l.leases)) n += total(lease.granted) - lease.reported;
  return n;
}

/** Adds a spend at `t` to marks kept oldest first. */
export function insertMark(marks: number[], t: number): void {
  let i = marks.length;
  while (i > 0 && (marks[i - 1] as number) > t) i--;
  marks.splice(i, 0, t);
}

/** Takes back `count` marks at exactly `t` (assumed spends a late report replaces). */
export function removeMarks(marks: number[], t: number, count: number): void {
  for (let n = 0; n < count; n++) {
    const i = marks.lastIndexOf(t);
    if (i < 0) return;
    marks.splice(i, 1);
  }
}

/** Stops every grant until `until` (a later pause wins; an earlier one changes nothing). */
export function pauseUntil(l: Ledger, until: number): boolean {
  if (until <= l.pausedUntil) return false;
  l.pausedUntil = until;
  return true;
}
