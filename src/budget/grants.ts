import {
  CLASSES,
  HELD_MS,
  insertMark,
  inUse,
  LEASE_MS,
  type LeaseAsk,
  type LeaseGrant,
  type LeaseRecord,
  type Ledger,
  MAX_LEASE_SHARE,
  NEW_VISITOR_SHARE,
  type PermitClass,
  removeMarks,
  settle,
  total,
  usable,
  zero,
} from "./ledger";

/**
 * How the keeper answers one lease renewal (ledger.ts keeps the books and states the
 * invariant every grant here keeps): the spends it reports, what it is granted class by
 * class, a fair share when demand exceeds what is free, and when a refused isolate, or its
 * newcomers, may ask again.
 */

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
