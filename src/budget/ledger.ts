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
  /** The next free retry time (RETRY_ASKS_PER_S): refused isolates are given times from here on. */
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
const total = (r: Record<PermitClass, number>) => r.viewer + r.refresh + r.scheduled;

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

/**
 * One renewal: records the isolate's spends, then grants what the budget allows of what it
 * wants, class by class (viewers first), each class within its usable share. When demand
 * exceeds what is free, each isolate that asked within the last LEASE_MS gets a share of the
 * free permits in proportion to what it asked for (at least one while any is free).
 */
export function renew(l: Ledger, ask: LeaseAsk, now: number, perMinute: number): LeaseGrant {
  settle(l, now);
  let lease = l.leases[ask.isolate];
  if (lease && lease.chain !== ask.chain) {
    // Another chain of the same isolate: its permits may still be spent, as far as we know.
    for (let i = total(lease.granted) - lease.reported; i > 0; i--) insertMark(l.marks, now);
    lease = undefined;
  }
  lease ??= takeBack(l, ask, now);
  recordSpends(l, lease, ask, now);
  lease.unmet = zero();
  lease.wantAt = now;
  lease.location = ask.location;
  l.seen ??= {};
  l.seen[ask.isolate] = now;
  if (ask.peers !== undefined) {
    l.places ??= {};
    l.places[ask.location] = { peers: ask.peers, at: now };
  }
  if (now < l.pausedUntil) return grantOf(lease, l, appointment(l, l.pausedUntil), perMinute, now, ask.location);

  const cap = Math.max(1, Math.floor(MAX_LEASE_SHARE * perMinute));
  let added = 0;
  const spent: PermitClass[] = [];
  for (const cls of CLASSES) {
    const want = Math.max(0, Math.floor(ask.want[cls]));
    if (want === 0) continue;
    const free = usable(cls, perMinute) - reserveFor(cls, perMinute) - inUse(l);
    const held = total(lease.granted) - lease.reported;
    const room = Math.min(free, cap - held);
    const share = room > 0 ? fairShare(l, ask.isolate, cls, want, room, now) : 0;
    // Nothing left for the class after this grant: nobody gets more of it before a permit frees.
    if (free - share <= 0) spent.push(cls);
    lease.granted[cls] += share;
    lease.unmet[cls] = want - share;
    added += share;
  }
  // Newcomers may take the last of the budget, the new visitors' share included, past the lease cap.
  const newcomers = Math.min(Math.max(0, Math.floor(ask.newcomers ?? 0)), usable("viewer", perMinute) - inUse(l));
  if (newcomers > 0) {
    lease.granted.viewer += newcomers;
    added += newcomers;
  }
  if (added > 0 || total(lease.granted) > lease.reported) lease.expires = now + LEASE_MS;
  l.leases[ask.isolate] = lease;
  let retryAt = now;
  for (const cls of spent) retryAt = Math.max(retryAt, freeingAt(l, cls, perMinute, now));
  return grantOf(lease, l, retryAt > now ? appointment(l, retryAt) : retryAt, perMinute, now, ask.location);
}

/**
 * A new chain for an isolate with no live lease. If its last chain expired unreported and was
 * assumed spent, the spends it reports now take the assumed marks' place at their real times,
 * and the permits it never spent are free again (the new chain starts from zero, so the
 * isolate cannot spend them any more).
 */
function takeBack(l: Ledger, ask: LeaseAsk, now: number): LeaseRecord {
  const a = l.assumed[ask.isolate];
  if (a && a.chain === ask.chain) {
    delete l.assumed[ask.isolate];
    removeMarks(l.marks, a.expires, a.count);
    const late = Math.max(0, Math.min(ask.spent, total(a.granted)) - a.reported);
    const times = ask.spentAt.slice(-late);
    for (let i = 0; i < late; i++) insertMark(l.marks, Math.min(a.expires, times[i] ?? a.expires));
  }
  return {
    chain: `${ask.isolate}/${now}`,
    granted: zero(),
    reported: 0,
    expires: now,
    unmet: zero(),
    wantAt: now,
    location: "",
  };
}

function recordSpends(l: Ledger, lease: LeaseRecord, ask: LeaseAsk, now: number): void {
  const news = Math.max(0, Math.min(ask.spent, total(lease.granted)) - lease.reported);
  if (news === 0) return;
  // Times as the isolate read them, never later than now; missing ones count as now.
  const times = ask.spentAt.slice(-news);
  for (let i = 0; i < news; i++) insertMark(l.marks, Math.min(now, times[i] ?? now));
  lease.reported += news;
}

/**
 * What one isolate gets of `room`: all it wants while that leaves enough for the others'
 * unmet demand (asked within the last LEASE_MS), else a share in proportion to its want.
 */
function fairShare(l: Ledger, isolate: string, cls: PermitClass, want: number, room: number, now: number): number {
  let demand = 0;
  for (const [id, lease] of Object.entries(l.leases)) {
    if (id !== isolate && now - lease.wantAt < LEASE_MS) demand += lease.unmet[cls];
  }
  if (demand + want <= room) return Math.min(want, room);
  return Math.max(1, Math.floor((room * want) / (demand + want)));
}

/** What leases for `cls` must leave free: viewers leave the new visitors' share (the classes below already leave more). */
function reserveFor(cls: PermitClass, perMinute: number): number {
  return cls === "viewer" ? Math.floor(NEW_VISITOR_SHARE * perMinute) : 0;
}

/** When the oldest marks leave the window far enough for `cls` to get one permit. */
function freeingAt(l: Ledger, cls: PermitClass, perMinute: number, now: number): number {
  const excess = inUse(l) - usable(cls, perMinute) + reserveFor(cls, perMinute);
  const mark = l.marks[Math.max(0, excess)];
  // No spend to wait for (the budget is out in leases): a lease from now.
  return mark === undefined ? now + LEASE_MS : mark + HELD_MS;
}

/**
 * Refused isolates come back at most this many a second: a tenth of a Durable Object's
 * ~1,000 calls a second, the rest left for renewals and newcomers.
 */
export const RETRY_ASKS_PER_S = 100;

/**
 * A retry time no earlier than `at`, and 1/RETRY_ASKS_PER_S after the last one given: every
 * isolate refused for budget would otherwise be told the same moment (when the next permit
 * frees) and ask again in the same second. The fleet simulation saw 910 keeper calls in one
 * second at 10,000 req/s over 1,200 isolates with retries spread over a fixed 2 s. The times
 * are given in the order isolates were refused, so a refused isolate goes to the back.
 */
function appointment(l: Ledger, at: number, cursor: "retryCursor" | "newcomerCursor" = "retryCursor"): number {
  const slot = Math.max(at, l[cursor] ?? 0);
  l[cursor] = slot + 1000 / RETRY_ASKS_PER_S;
  return Math.ceil(slot);
}

/**
 * Isolates that asked within the last LEASE_MS (after settle): those heard here, or the
 * locations' gates' counts where they say more (their isolates mostly never reach the keeper).
 */
function isolatesOf(l: Ledger): number {
  let gated = 0;
  for (const p of Object.values(l.places ?? {})) gated += p.peers;
  return Math.max(Object.keys(l.seen ?? {}).length, gated);
}

/**
 * When a refused isolate's newcomers may ask for the room left: one appointment per location
 * (its isolates ask one at a time through its gate, lease-gate.ts), each 10 ms after the last
 * location's. Every refused location would otherwise send its newcomers' asks in the same
 * second while any room is left: the simulation's cold start saw 300 locations do so. A
 * location's appointment holds for a lease, so a deployment in one place is never held back.
 */
function newcomerAt(l: Ledger, location: string, now: number): number {
  l.newcomerSlots ??= {};
  const kept = l.newcomerSlots[location];
  if (kept !== undefined && kept > now - LEASE_MS) return kept;
  const slot = appointment(l, now, "newcomerCursor");
  l.newcomerSlots[location] = slot;
  return slot;
}

function grantOf(
  lease: LeaseRecord,
  l: Ledger,
  retryAt: number,
  perMinute: number,
  now: number,
  location: string,
): LeaseGrant {
  const newcomerRoom = Math.max(0, usable("viewer", perMinute) - inUse(l));
  return {
    newcomerRoom,
    newcomerAt: retryAt > now && newcomerRoom > 0 ? newcomerAt(l, location, now) : now,
    chain: lease.chain,
    granted: { ...lease.granted },
    expires: lease.expires,
    retryAt,
    pausedUntil: l.pausedUntil,
    isolates: isolatesOf(l),
  };
}

function insertMark(marks: number[], t: number): void {
  let i = marks.length;
  while (i > 0 && (marks[i - 1] as number) > t) i--;
  marks.splice(i, 0, t);
}

function removeMarks(marks: number[], t: number, count: number): void {
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
