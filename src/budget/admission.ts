import type { Coordinator as LoadCoordinator, Purpose, Turn } from "../cache/engine";
import { applyPurges, latestPurgeAt } from "../cache/purge";
import { fnv1a } from "../lib/hash";
import { logEvent } from "../lib/log";
import { recordError } from "../upstream/health";
import * as breaker from "./breaker";
import { keyShard, locationCoordinator } from "./coordination";
import type { Coordination, KeyCoordinator } from "./coordinator";
import { GroupSpends, groupCap, PRESSURE_SHARE } from "./groups";
import type { UpstreamBudget } from "./keeper";
import type { LoadOutcome } from "./leases";
import { CLASSES, HELD_MS, type PermitClass, zero } from "./ledger";
import { Quota, type Take } from "./quota";
import { type Coordinator, coordinatorOf, keeperOf, within } from "./stubs";

/**
 * Admission: the one place that answers "may this load go to BeatPass now, and if not, why".
 * One set of reasons, each the viewer's problem code:
 *
 *   paused        BeatPass said 429: nothing leaves until its Retry-After (upstream_rate_limited)
 *   circuit_open  the family's breaker is open (upstream_unavailable)
 *   budget        this isolate's lease is spent and the keeper has none to give (upstream_budget_exhausted)
 *   unavailable   no lease, and the keeper cannot be reached (upstream_budget_exhausted)
 *   client        this client's network has had its share (client_miss_budget)
 *
 * A load first asks its coordinator (coordination.ts) whether someone is loading the key
 * already, then spends a permit of this isolate's quota lease (quota.ts): no round trip to
 * the keeper unless the isolate has no live lease. Renewals go in the background and carry
 * the spends, per-network counts and refusals the keeper needs. Nothing here grows with the
 * number of isolates: with the keeper gone, an isolate spends what its lease holds and then
 * refuses (a stale copy is served where one exists).
 */

export type Refusal = "paused" | "circuit_open" | "budget" | "unavailable" | "client";

/** A key a coordinator said to skip is not asked about again here for this long. */
export const SKIP_MEMO_MS = 5_000;
/**
 * A key whose refresh was refused is not refreshed again here for this long: its viewers are
 * served the stale copy meanwhile, and once it passes its hard window a viewer's miss asks
 * at viewer priority regardless.
 */
export const REFUSED_REFRESH_MEMO_MS = 30_000;
const SKIP_MEMO_MAX_KEYS = 5_000;
/**
 * A key's copies go stale in every isolate at once (they hold the same load), and each would
 * ask the key's shard then: each isolate waits its own share of a spread as long as the
 * deployment's isolates need to ask at no more than this many a second (the keeper says how
 * many there are), at most a quarter of the stale window. The first to ask refreshes the key;
 * the others are handed its load or told to skip, one call each.
 */
export const REFRESH_ASKS_PER_S = 100;
/** Stale windows of refreshes a new isolate is about to ask for, until it knows the fleet (holdsBack, begin). */
const coldWindows = new Map<string, number>();

/** Renewals one miss waits for at most before it is refused (each shared by every miss waiting). */
const RENEWALS_WAITED = 3;
/** Viewers refused for budget within this long make the public /healthz say "degraded". */
const DEGRADED_WINDOW_MS = 60_000;

const CLASS_OF: Record<Purpose, PermitClass> = { foreground: "viewer", background: "refresh", scheduled: "scheduled" };

// ---- isolate state ----
let isolate: string | undefined;
/** This isolate's place in spreads of per-key work (holdsBack), different in every isolate. */
let salt = String(Math.random());
const quota = new Quota();
/** This isolate's viewer spends per network group (its own check), and those not yet reported. */
const groupSpends = new GroupSpends();
let unreportedGroups = new Map<string, number>();
let refusedSinceReport = zero();
/** Groups past their share deployment-wide (from the keeper), until when. */
let capped: Record<string, number> = {};
/** Permits in use and not this isolate's to spend, as the keeper said at the last renewal (KeeperGrant.used)... */
let usedElsewhere = 0;
let pausedUntil = 0;
let renewing: Promise<void> | undefined;
/** Bumped when the isolate starts from cold: a renewal still under way from before is ignored. */
let generation = 0;
/** Viewers from networks new this minute waiting for a permit, for the next renewal to name. */
let newcomersWaiting = 0;
/** Their networks: one newcomer per network at a time, so one network's burst cannot drain the new visitors' share. */
const newcomerGroups = new Set<string>();
const skipped = new Map<string, number>();
const backoff = { refresh: 0, scheduled: 0 };
let viewerRefusedAt = Number.NEGATIVE_INFINITY;

// ---- before each request to BeatPass (the upstream client) ----

export type Admission =
  | { ok: true; probe: boolean }
  | { ok: false; reason: "rate_limited" | "circuit_open"; retryAfterSeconds: number };

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** Whether a request of `family` would be refused now (the pause, the breaker), taking nothing. */
export function check(family: string, now: number): Admission {
  if (now < pausedUntil) return { ok: false, reason: "rate_limited", retryAfterSeconds: seconds(pausedUntil - now) };
  const open = breaker.openUntil(family, now);
  if (open) return { ok: false, reason: "circuit_open", retryAfterSeconds: seconds(open - now) };
  return { ok: true, probe: false };
}

/** As check, taking the breaker's probe when one is due: the request goes now if ok. */
export function admit(family: string, now: number): Admission {
  const checked = check(family, now);
  if (!checked.ok) return checked;
  const { ok, probe } = breaker.pass(family, now);
  return ok ? { ok: true, probe } : { ok: false, reason: "circuit_open", retryAfterSeconds: 1 };
}

/** How a request that was admitted ended (for the breaker and /healthz). */
export function settle(family: string, key: string, outcome: "ok" | "failure" | "neutral", now: number, code?: string) {
  if (code && outcome !== "ok") recordError(code, now);
  breaker.record(family, key, outcome, now);
}

/** BeatPass said 429 here: nothing leaves this isolate before `until`. */
export function pauseHere(until: number): boolean {
  if (until <= pausedUntil) return false;
  pausedUntil = until;
  quota.pause(until);
  logEvent("warn", "upstream_rate_limited", { retry_after_s: seconds(until - Date.now()) });
  return true;
}

// ---- before each load (the cache engine) ----

export interface AdmissionOptions {
  keeper: DurableObjectNamespace<UpstreamBudget> | undefined;
  coordinators: DurableObjectNamespace<KeyCoordinator> | undefined;
  /** The data centre (request.cf.colo): which location coordinator a viewer's miss asks. */
  location: string;
  perMinute: number;
  timeoutMs: number;
  /** How long a load for `purpose` may take: the key lease's length. */
  leaseMs(purpose: Purpose): number;
  waitUntil(promise: Promise<unknown>): void;
  /** The viewer's network group (groups.ts), for its share. */
  group?: string;
  /** How long a load waited for its permit (Server-Timing `budget`: 0 with a live lease). */
  onPermitWait?(ms: number): void;
  /** How long a load's coordinator took to answer (Server-Timing `coord`). */
  onCoordinate?(ms: number): void;
}

export function admission(o: AdmissionOptions): LoadCoordinator {
  return {
    holdsBack(key, staleForMs, windowMs) {
      const now = Date.now();
      if (backoff.refresh > now || (skipped.get(key) ?? 0) > now) return true;
      const known = quota.fleetKnownAt;
      if (known === undefined) {
        // Not known yet how many share the deployment: begin asks first (the lease it needs anyway).
        coldWindows.set(key, windowMs);
        return false;
      }
      // A copy stale for long is as new to an isolate that has just started: isolates started
      // together (a deploy) would otherwise all refresh it in the same second.
      return placeAhead(key, Math.min(staleForMs, now - known), windowMs) > 0;
    },
    async begin(key, purpose, since, freshFrom) {
      let now = Date.now();
      const cls = CLASS_OF[purpose];
      if (cls !== "viewer" && (backoff[cls] > now || (skipped.get(key) ?? 0) > now)) return { kind: "skip" };
      const coldWindow = coldWindows.get(key);
      if (coldWindow !== undefined && cls === "refresh") {
        coldWindows.delete(key);
        // A new isolate's stale copy is being served meanwhile: it learns the fleet's size
        // first, then waits its place like the others. Waiting, not skipping: this refresh
        // still takes the others' load when its turn comes.
        if (quota.fleetKnownAt === undefined) await renew(o);
        const wait = placeAhead(key, Date.now() - (quota.fleetKnownAt ?? 0), coldWindow);
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        now = Date.now();
      }
      const early = decidedHere(o, cls, now);
      if (early) return refuse(cls, purpose, key, early.reason, early.retryAt, now);
      // A cold isolate asks for its lease while the coordinator is asked.
      if (quota.needsLease(now)) void renew(o);
      const coordinator = coordinatorOf(
        o.coordinators,
        cls === "viewer" ? locationCoordinator(o.location) : keyShard(key),
      );
      const c = await coordinate(o, coordinator, { key, cls, leaseMs: o.leaseMs(purpose), since, freshFrom });
      if (c && c.kind !== "go") return turnFor(o, coordinator, c, key, purpose, now);
      const permit = await takePermit(o, cls, Date.now());
      if (!permit.ok) {
        const outcome: LoadOutcome = { kind: "refused", reason: permit.reason, retryAfterMs: permit.retryAt - now };
        if (coordinator && c)
          o.waitUntil(within(coordinator.complete(key, outcome), o.timeoutMs).catch(() => undefined));
        return refuse(cls, purpose, key, permit.reason, permit.retryAt, now);
      }
      return {
        kind: "load",
        finish: (outcome) => {
          if (coordinator && c)
            o.waitUntil(within(coordinator.complete(key, outcome), o.timeoutMs).catch(() => undefined));
        },
      };
    },
    // The viewer who met the 429 is answered once the keeper (which tells every coordinator)
    // and this location's coordinator have heard: no isolate starts another load meanwhile.
    async pause(retryAfterSeconds) {
      const until = Date.now() + retryAfterSeconds * 1000;
      pauseHere(until);
      const keeper = keeperOf(o.keeper);
      const here = coordinatorOf(o.coordinators, locationCoordinator(o.location));
      await Promise.allSettled([
        keeper && within(keeper.pause(until), o.timeoutMs),
        here && within(here.pause(until), o.timeoutMs),
      ]);
    },
  };
}

/**
 * How long this isolate's place in the spread of `key`'s refreshes is still ahead of `elapsed`
 * (0: reached). The others' asks are what is spread, so an isolate alone refreshes at once.
 */
function placeAhead(key: string, elapsed: number, windowMs: number): number {
  const spread = Math.min(Math.ceil(((quota.isolates - 1) * 1000) / REFRESH_ASKS_PER_S), windowMs / 4);
  return spread >= 1 ? Math.max(0, (fnv1a(salt + key) % spread) - elapsed) : 0;
}

/** A viewer from a network that has not spent here in the last minute (groups.ts). */
function isNewcomer(o: AdmissionOptions, cls: PermitClass, now: number): boolean {
  return (
    cls === "viewer" && o.group !== undefined && !newcomerGroups.has(o.group) && groupSpends.count(o.group, now) === 0
  );
}

/** A refusal this isolate can decide alone: the pause, a spent lease, the viewer's group. */
function decidedHere(o: AdmissionOptions, cls: PermitClass, now: number) {
  if (now < pausedUntil) return { reason: "paused" as const, retryAt: pausedUntil };
  const spent = quota.blocked(cls, now, isNewcomer(o, cls, now));
  if (spent) return spent;
  if (cls !== "viewer" || !o.group) return undefined;
  return groupRefusal(o, o.group, now);
}

/**
 * Whether a viewer's network has had its share, under pressure: deployment-wide (the keeper's
 * caps) or here. (The new visitors' share is kept at the keeper: ledger.ts.)
 */
function groupRefusal(o: AdmissionOptions, group: string, now: number) {
  // Under pressure: half the budget in use, counting this isolate's spends since the renewal.
  if (usedElsewhere + quota.unreportedCount < PRESSURE_SHARE * o.perMinute) return undefined;
  const until = capped[group] ?? 0;
  if (until > now) return { reason: "client" as const, retryAt: until };
  const own = groupSpends.count(group, now);
  if (own >= groupCap(group, o.perMinute)) return { reason: "client" as const, retryAt: now + HELD_MS };
  return undefined;
}

async function coordinate(
  o: AdmissionOptions,
  coordinator: Coordinator | undefined,
  req: Parameters<Coordinator["begin"]>[0],
): Promise<Coordination | undefined> {
  if (!coordinator) return undefined;
  const started = Date.now();
  try {
    return await within(coordinator.begin(req), o.timeoutMs);
  } catch (err) {
    // Without it the load goes alone: coalescing is lost, the budget is not (the permit is ours).
    logEvent("warn", "coordinator_unavailable", { error: err instanceof Error ? err.message : String(err) });
    return undefined;
  } finally {
    o.onCoordinate?.(Date.now() - started);
  }
}

function turnFor(
  o: AdmissionOptions,
  coordinator: Coordinator | undefined,
  c: Exclude<Coordination, { kind: "go" }>,
  key: string,
  purpose: Purpose,
  now: number,
): Turn {
  switch (c.kind) {
    case "wait":
      return {
        kind: "wait",
        outcome: within(coordinator?.awaitLoad(key) as Promise<LoadOutcome>, o.leaseMs(purpose) + o.timeoutMs),
      };
    case "shared":
      return { kind: "wait", outcome: Promise.resolve(c.outcome) };
    case "skip":
      remember(key, now);
      return { kind: "skip", loadedAt: c.loadedAt, etag: c.etag };
    case "paused":
      pauseHere(c.until);
      return refuse(CLASS_OF[purpose], purpose, key, "paused", c.until, now);
  }
}

/**
 * A permit of this isolate's lease, waiting for a renewal only when it holds none: at most
 * RENEWALS_WAITED of them (shared with every other miss waiting here), so a burst on a new
 * isolate is served as the lease grows, and refused once the keeper says the budget is spent.
 */
async function takePermit(o: AdmissionOptions, cls: PermitClass, now: number) {
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
    newcomersWaiting++;
  }
  for (let waited = 0; wait(t); waited++) {
    if (waited === RENEWALS_WAITED) {
      t = { ok: false, reason: quota.unreachable ? "unavailable" : "budget", retryAt: Date.now() + SKIP_MEMO_MS };
      break;
    }
    await renew(o);
    t = quota.take(cls, Date.now(), false);
  }
  if (claimed !== undefined) newcomerGroups.delete(claimed);
  o.onPermitWait?.(Date.now() - started);
  if (!t.ok) return t as Exclude<typeof t, { reason: "renew" }>;
  // The renewal may have brought news of this network's share (caps from every isolate).
  const late = cls === "viewer" && o.group ? groupRefusal(o, o.group, Date.now()) : undefined;
  if (late) {
    quota.giveBack(t.pool);
    return { ok: false as const, ...late };
  }
  if (cls === "viewer" && o.group) {
    groupSpends.add(o.group, now);
    unreportedGroups.set(o.group, (unreportedGroups.get(o.group) ?? 0) + 1);
  }
  if (quota.dueForRenewal(now)) o.waitUntil(renew(o));
  return t;
}

function refuse(
  cls: PermitClass,
  purpose: Purpose,
  key: string,
  reason: Exclude<Refusal, "circuit_open">,
  retryAt: number,
  now: number,
): Turn {
  refusedSinceReport[cls]++;
  if (cls === "viewer" && reason !== "client") viewerRefusedAt = now;
  // A refresh's viewers are served the stale copy: asking again on every stale hit until the
  // budget frees would only be refused again.
  if (purpose !== "foreground") {
    remember(key, now, REFUSED_REFRESH_MEMO_MS);
    backoff[cls as "refresh" | "scheduled"] = Math.max(backoff[cls as "refresh"], retryAt, now + 1_000);
  }
  return { kind: "refused", reason, retryAfterSeconds: seconds(retryAt - now) };
}

/**
 * Renews this isolate's lease (one renewal at a time): reports its spends, per-network counts
 * and refusals since the last renewal, and takes what the keeper grants. `extra`: permits
 * wanted beyond the demand seen (refresh-ahead says how many it means to spend).
 */
export function renew(o: AdmissionOptions, extra: Partial<Record<PermitClass, number>> = {}): Promise<void> {
  if (renewing) return renewing;
  const keeper = keeperOf(o.keeper);
  if (!keeper) {
    quota.failed(Date.now());
    return Promise.resolve();
  }
  isolate ??= crypto.randomUUID();
  renewing = askKeeper(o, keeper, isolate, extra).finally(() => {
    renewing = undefined;
  });
  return renewing;
}

async function askKeeper(
  o: AdmissionOptions,
  keeper: NonNullable<ReturnType<typeof keeperOf>>,
  id: string,
  extra: Partial<Record<PermitClass, number>>,
): Promise<void> {
  // Without a live lease, the location's gate first (lease-gate.ts): an answer another isolate
  // here was just given costs no keeper call. With one, the renewal goes straight on.
  const gate = quota.hasLease(Date.now()) ? undefined : coordinatorOf(o.coordinators, locationCoordinator(o.location));
  const gen = generation;
  let peers: number | undefined;
  if (gate) {
    const asked = (async () => gate.leaseTurn(id, newcomersWaiting > 0))();
    const turn = await within(asked, o.timeoutMs).catch((err: unknown) => {
      // Without it this isolate asks the keeper itself: one more call, nothing unsafe.
      logEvent("warn", "coordinator_unavailable", { step: "lease_gate", error: String(err) });
      return undefined;
    });
    if (gen !== generation) return;
    if (turn?.kind === "heard") {
      quota.heard(turn.heard);
      newcomersWaiting = 0;
      if (turn.heard.pausedUntil > Date.now()) pauseHere(turn.heard.pausedUntil);
      return;
    }
    peers = turn?.peers;
  }
  const ask = quota.ask(id, o.location, Date.now(), extra, newcomersWaiting, peers);
  newcomersWaiting = 0;
  const groups = [...unreportedGroups];
  const refused = refusedSinceReport;
  unreportedGroups = new Map();
  refusedSinceReport = zero();
  try {
    const grant = await within(keeper.lease({ ...ask, perMinute: o.perMinute, groups, refused }), o.timeoutMs);
    if (gen !== generation) return;
    quota.apply(grant, ask.spent);
    capped = grant.capped;
    usedElsewhere = grant.used;
    if (grant.pausedUntil > Date.now()) pauseHere(grant.pausedUntil);
    if (grant.purgedAt > latestPurgeAt())
      o.waitUntil(within(keeper.purgesSince(latestPurgeAt()), o.timeoutMs).then(applyPurges, () => undefined));
  } catch (err: unknown) {
    if (gen !== generation) return;
    quota.failed(Date.now());
    // Reported next time instead.
    for (const [g, n] of groups) unreportedGroups.set(g, (unreportedGroups.get(g) ?? 0) + n);
    for (const cls of CLASSES) refusedSinceReport[cls] += refused[cls];
    logEvent("warn", "budget_unavailable", {
      step: "lease",
      error: err instanceof Error ? err.message : String(err),
    });
  }
  // The location's next asker goes on, or takes this answer as its own.
  if (gate && peers !== undefined)
    o.waitUntil(within(gate.leaseTold(quota.told(Date.now())), o.timeoutMs).catch(() => undefined));
}

function remember(key: string, now: number, ms = SKIP_MEMO_MS): void {
  if (skipped.size >= SKIP_MEMO_MAX_KEYS) {
    for (const [k, until] of skipped) if (until <= now) skipped.delete(k);
    if (skipped.size >= SKIP_MEMO_MAX_KEYS) skipped.clear();
  }
  skipped.set(key, now + ms);
}

/** This isolate's side, for /healthz: its lease, the pause, breakers, recent refusals. */
export function admissionHealth(now: number) {
  return {
    ...quota.view(now),
    paused_until: pausedUntil > now ? new Date(pausedUntil).toISOString() : null,
    viewers_refused_recently: now - viewerRefusedAt < DEGRADED_WINDOW_MS,
    breakers: breaker.breakerStates(now),
  };
}

/** Starts this isolate's admission from cold (tests, the simulation's recycled isolates). */
export function resetAdmission(): void {
  generation++;
  isolate = undefined;
  salt = String(Math.random());
  quota.reset();
  groupSpends.clear();
  unreportedGroups = new Map();
  refusedSinceReport = zero();
  capped = {};
  usedElsewhere = 0;
  newcomersWaiting = 0;
  newcomerGroups.clear();
  pausedUntil = 0;
  renewing = undefined;
  skipped.clear();
  coldWindows.clear();
  backoff.refresh = backoff.scheduled = 0;
  viewerRefusedAt = Number.NEGATIVE_INFINITY;
  breaker.resetBreakers();
}
