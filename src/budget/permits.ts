import { GroupSpends, groupCap, PRESSURE_SHARE } from "./groups";
import {
  cappedUntil,
  type LeaseOptions,
  pausedUntilHere,
  permitsUsedElsewhere,
  quota,
  renew,
  reportGroupSpend,
  reportNewcomerWaiting,
} from "./isolate-lease";
import { HELD_MS, type PermitClass } from "./ledger";
import { SKIP_MEMO_MS } from "./pacing";
import type { Take } from "./quota";

/**
 * A load's permit, spent from this isolate's lease (isolate-lease.ts, quota.ts) within its
 * viewer's network share (groups.ts): what the isolate can refuse alone, and the wait for a
 * renewal when the lease holds nothing. admission.ts asks here once a load's coordinator has
 * said go.
 */

export interface PermitOptions extends LeaseOptions {
  /** The viewer's network group (groups.ts), for its share. */
  group?: string;
  /** How long a load waited for its permit (Server-Timing `budget`: 0 with a live lease). */
  onPermitWait?(ms: number): void;
}

/** Renewals one miss waits for at most before it is refused (each shared by every miss waiting). */
const RENEWALS_WAITED = 3;

/** This isolate's viewer spends per network group (its own check). */
const groupSpends = new GroupSpends();
/** Networks with a newcomer waiting: one newcomer per network at a time, so one network's burst cannot drain the new visitors' share. */
const newcomerGroups = new Set<string>();

/** A viewer from a network that has not spent here in the last minute (groups.ts). */
function isNewcomer(o: PermitOptions, cls: PermitClass, now: number): boolean {
  return (
    cls === "viewer" && o.group !== undefined && !newcomerGroups.has(o.group) && groupSpends.count(o.group, now) === 0
  );
}

/** A refusal this isolate can decide alone: the pause, a spent lease, the viewer's group. */
export function decidedHere(o: PermitOptions, cls: PermitClass, now: number) {
  const pausedUntil = pausedUntilHere();
  if (now < pausedUntil) return { reason: "paused" as const, retryAt: pausedUntil };
  const spent = quota.blocked(cls, now, isNewcomer(o, cls, now));
  if (spent) return spent;
  if (cls !== "viewer" || !o.group) return undefined;
  return groupRefusal(o, o.group, now);
}

/**
 * Whether a viewer's network has had its share, under pressure: deployment-wide (the keeper's
 * caps) or here. (The new visitors' share is kept at the keeper: grants.ts.)
 */
function groupRefusal(o: PermitOptions, group: string, now: number) {
  // Under pressure: half the budget in use, counting this isolate's spends since the renewal.
  if (permitsUsedElsewhere() + quota.unreportedCount < PRESSURE_SHARE * o.perMinute) return undefined;
  const until = cappedUntil(group);
  if (until > now) return { reason: "client" as const, retryAt: until };
  const own = groupSpends.count(group, now);
  if (own >= groupCap(group, o.perMinute)) return { reason: "client" as const, retryAt: now + HELD_MS };
  return undefined;
}

/**
 * A permit of this isolate's lease, waiting for a renewal only when it holds none: at most
 * RENEWALS_WAITED of them (shared with every other miss waiting here), so a burst on a new
 * isolate is served as the lease grows, and refused once the keeper says the budget is spent.
 */
export async function takePermit(o: PermitOptions, cls: PermitClass, now: number) {
  let t = quota.take(cls, now);
  const started = Date.now();
  // A newcomer the lease cannot serve asks for a permit of the new visitors' share (while the
  // keeper said there is one), even before the lease's retryAt.
  const newcomer = isNewcomer(o, cls, now);
  const wait = (x: Take) =>
    !x.ok && (x.reason === "renew" || (newcomer && x.reason === "budget" && quota.mayAskForNewcomer(Date.now())));
  const claimed = newcomer && wait(t) ? o.group : undefined;
  if (claimed !== undefined) {
    newcomerGroups.add(claimed);
    reportNewcomerWaiting();
  }
  let waited = 0;
  for (; wait(t); waited++) {
    if (waited === RENEWALS_WAITED) {
      t = { ok: false, reason: quota.unreachable ? "unavailable" : "budget", retryAt: Date.now() + SKIP_MEMO_MS };
      break;
    }
    await renew(o);
    t = quota.take(cls, Date.now(), false);
  }
  if (claimed !== undefined) newcomerGroups.delete(claimed);
  // Only a renewal awaited is a wait. Local workerd's clock runs on between two reads with no
  // I/O between them (production's stands still), so the bookkeeping alone could read 1 ms.
  o.onPermitWait?.(waited > 0 ? Date.now() - started : 0);
  if (!t.ok) return t as Exclude<typeof t, { reason: "renew" }>;
  // The renewal may have brought news of this network's share (caps from every isolate).
  const late = cls === "viewer" && o.group ? groupRefusal(o, o.group, Date.now()) : undefined;
  if (late) {
    quota.giveBack(t.pool);
    return { ok: false as const, ...late };
  }
  if (cls === "viewer" && o.group) {
    groupSpends.add(o.group, now);
    reportGroupSpend(o.group);
  }
  if (quota.dueForRenewal(now)) o.waitUntil(renew(o));
  return t;
}

/** Forgets every network's spends here (a cold isolate: resetAdmission). */
export function resetPermits(): void {
  groupSpends.clear();
  newcomerGroups.clear();
}
