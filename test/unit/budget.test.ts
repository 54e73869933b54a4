import { afterEach, describe, expect, it, vi } from "vitest";
import { type AdmissionOptions, admission, resetAdmission } from "../../src/budget/admission";
import { renew } from "../../src/budget/grants";
import { admit } from "../../src/budget/guard";
import { pauseHere, renew as renewLease } from "../../src/budget/isolate-lease";
import { LeaseTable } from "../../src/budget/leases";
import {
  emptyLedger,
  inUse,
  type LeaseAsk,
  type LeaseGrant,
  type Ledger,
  pauseUntil,
  settle,
} from "../../src/budget/ledger";
import { Quota } from "../../src/budget/quota";
import { useClock } from "../helpers/clock";

// Written out from docs/caching.md ("Budget"): BeatPass's minute, plus 2 s for a request to
// reach it; leases last 30 s; no isolate holds more than a quarter of the budget; refreshes
// leave a quarter for viewers' misses, refresh-ahead half; leases leave the last fifth for
// new visitors, granted only to renewals that name them.
const MIN = 60_000;
const HELD = MIN + 2_000;
const LEASE = 30_000;

const want = (viewer: number, refresh = 0, scheduled = 0) => ({ viewer, refresh, scheduled });
const sum = (g: LeaseGrant["granted"]) => g.viewer + g.refresh + g.scheduled;

/** A tiny deterministic PRNG (mulberry32), so the property test replays exactly. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An isolate as the ledger sees it: asks, spends its grants, reports. */
class Isolate {
  quota = new Quota();
  constructor(
    readonly id: string,
    readonly ledger: Ledger,
    readonly perMinute: number,
  ) {}
  renew(now: number, extra: Partial<LeaseAsk["want"]> = {}, newcomers = 0): LeaseGrant {
    const ask = this.quota.ask(this.id, "here", now, extra, newcomers);
    const grant = renew(this.ledger, ask, now, this.perMinute);
    this.quota.apply(grant, ask.spent);
    return grant;
  }
}

describe("the keeper's ledger (quota leases)", () => {
  it("BeatPass never sees more than the budget in any 60 s window: leases, late reports, dead isolates, a lost keeper", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = rng(seed);
      const perMinute = 60;
      const ledger = emptyLedger();
      const isolates = Array.from({ length: 12 }, (_, i) => new Isolate(`i${i}`, ledger, perMinute));
      const dead = new Set<number>();
      const arrivals: number[] = [];
      const keeperLostAt = 8 * MIN;
      for (let t = 0; t < 10 * MIN; t += 50) {
        const i = Math.floor(random() * isolates.length);
        const iso = isolates[i] as Isolate;
        if (dead.has(i)) continue;
        if (random() < 0.0005) dead.add(i); // an isolate evicted with its lease in hand
        // Bursty demand: some isolates ask for many permits at once.
        const n = random() < 0.05 ? 20 : 1;
        for (let k = 0; k < n; k++) {
          const take = iso.quota.take("viewer", t);
          if (take.ok)
            arrivals.push(t + Math.floor(random() * 2_000)); // up to 2 s on the way
          else if (t < keeperLostAt && take.reason === "renew") iso.renew(t);
          else if (t < keeperLostAt && random() < 0.3) iso.renew(t, {}, 1 + Math.floor(random() * 3)); // newcomers
        }
        if (t < keeperLostAt && iso.quota.dueForRenewal(t) && random() < 0.5) iso.renew(t);
      }
      arrivals.sort((a, b) => a - b);
      let busiest = 0;
      for (let a = 0, b = 0; b < arrivals.length; b++) {
        while ((arrivals[b] as number) - (arrivals[a] as number) >= MIN) a++;
        busiest = Math.max(busiest, b - a + 1);
      }
      expect(busiest, `seed ${seed}`).toBeLessThanOrEqual(perMinute);
      expect(arrivals.length, `seed ${seed}: the budget was actually used`).toBeGreaterThan(5 * perMinute);
    }
  });

  it("grants what an isolate wants while the budget has room, never more than a quarter of it to one isolate", () => {
    const l = emptyLedger();
    const g = renew(l, ask(l, "a", 0, want(10)), 0, 120);
    expect(g.granted).toEqual(want(10));
    expect(g.expires).toBe(LEASE);
    const big = renew(l, ask(l, "b", 0, want(500)), 0, 120);
    expect(sum(big.granted)).toBe(30);
  });

  it("counts a spend for HELD (60 + 2 s) from when it was spent, then frees it", () => {
    const l = emptyLedger();
    // Four isolates hold all that leases may of a budget of 30 (30 less the new visitors' 6; 6 each)...
    for (const id of ["a", "b", "c", "d"]) expect(sum(renew(l, ask(l, id, 0, want(6)), 0, 30).granted)).toBe(6);
    // ...spend it all at t = 1000 and say so at 5000: nothing is left for anyone until HELD later.
    for (const id of ["a", "b", "c", "d"]) renew(l, ask(l, id, 6, want(0), Array(6).fill(1_000)), 5_000, 30);
    const refused = renew(l, ask(l, "e", 0, want(5)), 6_000, 30);
    expect(sum(refused.granted)).toBe(0);
    // Retry once the spends leave the window, spread by up to 2 s per isolate (docs/caching.md),
    // so refused isolates do not all ask again in the same millisecond.
    const retries = ["e", "f", "g", "h", "i", "j"].map((id) => renew(l, ask(l, id, 0, want(5)), 6_000, 30).retryAt);
    for (const at of retries) {
      expect(at).toBeGreaterThanOrEqual(1_000 + HELD);
      expect(at).toBeLessThan(1_000 + HELD + 2_000);
    }
    expect(new Set(retries).size, "spread, not one instant").toBeGreaterThan(3);
    settle(l, 1_000 + HELD - 1);
    expect(inUse(l)).toBe(24);
    settle(l, 1_000 + HELD);
    expect(inUse(l)).toBe(0);
  });

  it("keeps a quarter of the budget from refreshes and half from refresh-ahead", () => {
    const asking = (cls: "viewer" | "refresh" | "scheduled") => {
      const l = emptyLedger();
      let total = 0;
      for (let i = 0; i < 20; i++)
        total += renew(l, ask(l, `i${i}`, 0, { ...want(0), [cls]: 10 }), i, 100).granted[cls];
      return { l, total };
    };
    expect(asking("refresh").total).toBe(75);
    expect(asking("scheduled").total).toBe(50);
    const { l } = asking("refresh");
    // The quarter left is viewers': a lease may take it down to the new visitors' fifth...
    expect(sum(renew(l, ask(l, "viewer", 0, want(50)), 30, 100).granted)).toBe(5);
    // ...and a renewal naming newcomers the rest.
    expect(sum(renew(l, { ...ask(l, "new", 0, want(0)), newcomers: 50 }, 31, 100).granted)).toBe(20);
  });

  it("keeps the new visitors' fifth from leases, for renewals that name newcomers, past the lease cap", () => {
    const l = emptyLedger();
    const got = ["a", "b", "c", "d"].map((id) => sum(renew(l, ask(l, id, 0, want(25)), 0, 100).granted));
    expect(got).toEqual([25, 25, 25, 5]);
    const plain = renew(l, ask(l, "e", 0, want(10)), 1, 100);
    expect([sum(plain.granted), plain.newcomerRoom]).toEqual([0, 20]);
    // a holds 25, the most one lease may: newcomers get theirs all the same.
    const forNewcomers = renew(l, { ...ask(l, "a", 0, want(0)), newcomers: 2 }, 2, 100);
    expect([sum(forNewcomers.granted), forNewcomers.newcomerRoom]).toEqual([27, 18]);
  });

  it("shares what is left in proportion to what each isolate asked for and did not get", () => {
    const l = emptyLedger();
    for (const id of ["a", "b"]) renew(l, ask(l, id, 0, want(15)), 0, 100);
    // 50 free for leases (80 less 30), nobody short: x gets the 25 a lease may hold of the 40
    // it asks for (short by 15).
    expect(sum(renew(l, ask(l, "x", 0, want(40)), 1, 100).granted)).toBe(25);
    // 25 free; y asks for 45 while x is short by 15: y gets 25 x 45 / (45 + 15), x's share waits.
    expect(sum(renew(l, ask(l, "y", 0, want(45)), 2, 100).granted)).toBe(18);
  });

  it("an unreported lease counts as spent at its expiry, and its isolate's late report gives the rest back", () => {
    const l = emptyLedger();
    renew(l, ask(l, "a", 0, want(10)), 0, 40);
    settle(l, LEASE);
    expect(inUse(l), "assumed spent").toBe(10);
    // It spent 3 before the lease ended and says so at its next renewal.
    renew(l, ask(l, "a", 3, want(0), [100, 200, 300]), LEASE + 1_000, 40);
    expect(inUse(l)).toBe(3);
  });

  it("counts an old chain's permits as in use when the same isolate asks with another", () => {
    const l = emptyLedger();
    renew(l, ask(l, "a", 0, want(10)), 0, 40);
    // The isolate forgot its chain (a reset) but the old lease's permits may still be spent.
    renew(l, { ...ask(l, "a", 0, want(0)), chain: "another" }, 1_000, 40);
    expect(inUse(l)).toBe(10);
  });

  it("gives isolates refused for budget retry times at most 100 a second apart, in the order they were refused", () => {
    const l = emptyLedger();
    // Leases hold all they may of a budget of 30 (the new visitors' 6 stay at the keeper)...
    for (const id of ["a", "b", "c", "d"]) renew(l, ask(l, id, 0, want(6)), 0, 30);
    // ...and 1,000 isolates are refused one after another.
    const times = Array.from({ length: 1000 }, (_, i) => renew(l, ask(l, `r${i}`, 0, want(1)), 1_000 + i, 30).retryAt);
    // Nothing spent yet to wait for: the permits are out in leases, so a lease from the first refusal.
    expect(times[0]).toBe(1_000 + LEASE);
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(Math.max(...perSecond(times))).toBeLessThanOrEqual(100);
    expect(
      (times.at(-1) as number) - (times[0] as number),
      "1,000 retries need 10 s at 100 a second",
    ).toBeGreaterThanOrEqual(9_900);
  });

  it("spreads the end of a 429 pause the same way: the isolates told of it do not all come back at once", () => {
    const l = emptyLedger();
    pauseUntil(l, 30_000);
    const grants = Array.from({ length: 300 }, (_, i) => renew(l, ask(l, `i${i}`, 0, want(1)), 1_000 + i, 100));
    for (const g of grants) expect([sum(g.granted), g.pausedUntil]).toEqual([0, 30_000]);
    const times = grants.map((g) => g.retryAt);
    expect(Math.min(...times)).toBe(30_000);
    expect(Math.max(...perSecond(times))).toBeLessThanOrEqual(100);
  });

  it("says how many isolates asked within the last lease (they size the spread of refreshes)", () => {
    const l = emptyLedger();
    for (const id of ["a", "b", "c"]) renew(l, ask(l, id, 0, want(1)), 0, 100);
    expect(renew(l, ask(l, "d", 0, want(1)), 20_000, 100).isolates).toBe(4);
    expect(renew(l, ask(l, "e", 0, want(1)), LEASE + 1, 100).isolates, "a, b and c asked a lease ago").toBe(2);
  });

  it("stays within what one Durable Object storage value may hold (2 MB with its key) with 1,000 isolates asking: under a quarter of it", () => {
    const l = emptyLedger();
    // Every isolate holds a lease (and a record of when it asked), spends, and reports; some are refused.
    // 300 locations, each with its gate's count (and, once refused, its newcomers' appointment).
    for (let i = 0; i < 1000; i++) {
      const id = crypto.randomUUID();
      const where = { location: `dc${i % 300}`, peers: 4 };
      renew(l, { ...ask(l, id, 0, want(1, 1, 1)), ...where }, i, 6000);
      renew(l, { ...ask(l, id, 1, want(1), [i + 1]), ...where }, i + 10, 6000);
    }
    expect(Object.keys(l.places ?? {}).length).toBe(300);
    expect(Object.keys(l.leases).length, "most hold a live lease").toBeGreaterThan(500);
    // Stored with V8's serialiser, which is no larger than JSON for strings and small numbers. It
    // grows with the isolates asking (and each renewal costs the keeper time in proportion).
    const bytes = new TextEncoder().encode(JSON.stringify(l)).byteLength;
    expect(bytes, `${bytes} bytes`).toBeLessThan(1_000_000 / 2);
  });

  it("grants nothing while paused, and says until when", () => {
    const l = emptyLedger();
    pauseUntil(l, 30_000);
    const g = renew(l, ask(l, "a", 0, want(10)), 1_000, 100);
    expect(sum(g.granted)).toBe(0);
    expect(g.pausedUntil).toBe(30_000);
    expect(pauseUntil(l, 20_000), "an earlier pause changes nothing").toBe(false);
    expect(sum(renew(l, ask(l, "a", 0, want(10)), 30_000, 100).granted)).toBe(10);
  });
});

describe("an isolate's lease (quota)", () => {
  const grant = (granted: LeaseGrant["granted"], expires = LEASE, retryAt = 0, chain = "c"): LeaseGrant => ({
    chain,
    granted,
    expires,
    retryAt,
    pausedUntil: 0,
    isolates: 1,
    newcomerRoom: 0,
    newcomerAt: 0,
  });

  it("spends locally: viewers from any pool, refreshes never from the viewers', refresh-ahead only its own", () => {
    const q = new Quota();
    q.apply(grant(want(1, 1, 1)), 0);
    expect(q.take("scheduled", 0).ok).toBe(true);
    expect(q.take("scheduled", 0).ok).toBe(false);
    expect(q.take("refresh", 0).ok).toBe(true);
    expect(q.take("refresh", 0), "an empty pool asks the keeper for more").toMatchObject({
      ok: false,
      reason: "renew",
    });
    expect(q.take("viewer", 0).ok).toBe(true);
    expect(q.take("viewer", 0).ok).toBe(false);
  });

  it("asks for a lease when it has none, and is refused alone until the keeper's retry time", () => {
    const q = new Quota();
    expect(q.take("viewer", 0)).toEqual({ ok: false, reason: "renew" });
    q.apply(grant(want(0), 0, 20_000), 0);
    expect(q.take("viewer", 1_000)).toMatchObject({ ok: false, reason: "budget", retryAt: 20_000 });
    expect(q.dueForRenewal(19_999)).toBe(false);
    expect(q.dueForRenewal(20_000)).toBe(true);
  });

  it("does not spend from a lease past its expiry: it asks for a renewal", () => {
    const q = new Quota();
    q.apply(grant(want(5)), 0);
    expect(q.take("viewer", LEASE - 1).ok).toBe(true);
    expect(q.take("viewer", LEASE)).toEqual({ ok: false, reason: "renew" });
  });

  it("lets a newcomer ask past the retry time while the keeper has new visitors' permits left, and not once it has none", () => {
    const q = new Quota();
    q.apply({ ...grant(want(0), 0, 20_000), newcomerRoom: 3 }, 0);
    expect(q.blocked("viewer", 1_000), "an ordinary viewer").toMatchObject({ reason: "budget", retryAt: 20_000 });
    expect(q.blocked("viewer", 1_000, true)).toBeUndefined();
    q.apply({ ...grant(want(0), 0, 20_000), newcomerRoom: 0 }, 0);
    expect(q.blocked("viewer", 1_000, true)).toMatchObject({ reason: "budget", retryAt: 20_000 });
    q.apply({ ...grant(want(0), 0, 20_000), newcomerRoom: 3 }, 0);
    q.failed(2_000);
    expect(q.blocked("viewer", 3_000, true), "keeper unreachable").toMatchObject({ reason: "unavailable" });
  });

  it("renews in the background when a quarter is left or half the lease has passed, with demand", () => {
    const q = new Quota(() => 0.5); // the middle of the spread: half the lease
    q.apply(grant(want(8)), 0);
    for (let i = 0; i < 5; i++) q.take("viewer", 0);
    expect(q.dueForRenewal(0)).toBe(false);
    q.take("viewer", 0);
    expect(q.dueForRenewal(0), "2 of 8 left").toBe(true);
    q.ask("i", "here", 0);
    expect(q.dueForRenewal(LEASE / 2 - 1), "no demand since").toBe(false);
    q.take("viewer", LEASE / 2);
    expect(q.dueForRenewal(LEASE / 2)).toBe(true);
  });

  it("spreads its half-lease renewals over 35-65% of the lease, so isolates started together drift apart", () => {
    const due = (r: number) => {
      const q = new Quota(() => r);
      q.apply(grant(want(100)), 0);
      q.ask("i", "here", 0);
      q.take("viewer", 1);
      let t = 1;
      while (!q.dueForRenewal(t)) t += 100;
      return t;
    };
    // docs/caching.md: renewal after 35-65% of a 30 s lease, drawn at each renewal.
    expect(due(0)).toBeGreaterThanOrEqual(0.35 * LEASE);
    expect(due(0)).toBeLessThan(0.35 * LEASE + 100);
    expect(due(0.999)).toBeGreaterThan(0.64 * LEASE);
    expect(due(0.999)).toBeLessThanOrEqual(0.65 * LEASE + 100);
  });

  it("reports each spend once, with its time, until the keeper has it", () => {
    const q = new Quota();
    q.apply(grant(want(5)), 0);
    q.take("viewer", 10);
    q.take("viewer", 20);
    const first = q.ask("i", "here", 30);
    expect([first.spent, first.spentAt]).toEqual([2, [10, 20]]);
    q.take("viewer", 40); // spent while the renewal was on its way
    q.apply(grant(want(9)), first.spent);
    const second = q.ask("i", "here", 50);
    expect([second.spent, second.spentAt]).toEqual([3, [40]]);
  });

  it("asks for its demand over a whole lease, and for little when idle", () => {
    const q = new Quota();
    q.apply(grant(want(10)), 0);
    q.ask("i", "here", 0);
    for (let i = 0; i < 10; i++) q.take("viewer", 1_000);
    // 10 permits asked in 10 s: 30 for the next 30 s, less the 0 left.
    expect(q.ask("i", "here", 10_000).want.viewer).toBe(30);
    // A burst of 6 in one second is measured over 10 s (a third of a lease): 18, not 180.
    for (let i = 0; i < 6; i++) q.take("viewer", 10_500);
    expect(q.ask("i", "here", 11_000).want.viewer).toBe(18);
    expect(q.ask("i", "here", 40_000).want.viewer).toBe(0);
  });

  it("starts its counts afresh when the keeper answers for a new chain", () => {
    const q = new Quota();
    q.apply(grant(want(5), LEASE, 0, "one"), 0);
    q.take("viewer", 1);
    q.apply(grant(want(2), LEASE, 0, "two"), 1);
    expect(q.left()).toBe(2);
    expect(q.ask("i", "here", 2)).toMatchObject({ chain: "two", spent: 0, spentAt: [] });
  });
});

/** An isolate's ask, continuing the chain the ledger knows for it (as a real isolate's would). */
/** How many of `times` fall in each second. */
function perSecond(times: number[]): number[] {
  const n = new Map<number, number>();
  for (const t of times) n.set(Math.floor(t / 1000), (n.get(Math.floor(t / 1000)) ?? 0) + 1);
  return [...n.values()];
}

function ask(l: Ledger, isolate: string, spent: number, w: LeaseAsk["want"], spentAt: number[] = []): LeaseAsk {
  const chain = l.leases[isolate]?.chain ?? l.assumed[isolate]?.chain;
  return { isolate, location: "here", chain, spent, spentAt, want: w };
}

describe("the lease table", () => {
  it("holds a key until its holder completes, and hands the outcome to every waiter", async () => {
    const t = new LeaseTable();
    expect(t.held("k", 0)).toBe(false);
    t.take("k", 0, 5000);
    expect(t.held("k", 10)).toBe(true);
    const waiters = [t.wait("k", 10), t.wait("k", 20)];
    t.complete("k", { kind: "data", body: "{}", etag: '"e"', fetchedAt: 30 }, 30);
    for (const w of await Promise.all(waiters)) expect(w).toMatchObject({ kind: "data", body: "{}", fetchedAt: 30 });
    expect(t.held("k", 31)).toBe(false);
    expect(t.size).toBe(0);
  });

  it("frees a key whose holder never came back, telling its waiters", async () => {
    const t = new LeaseTable();
    t.take("k", Date.now(), 20);
    const waiting = t.wait("k", Date.now());
    expect(await waiting).toEqual({ kind: "expired" });
    expect(t.held("k", Date.now() + 21)).toBe(false);
  });

  it("frees a key once its lease has run out, even with nobody waiting on it", () => {
    const t = new LeaseTable();
    t.take("k", 0, 1000);
    expect(t.held("k", 999)).toBe(true);
    expect(t.held("k", 1000)).toBe(false);
    expect(t.size).toBe(0);
  });

  it("relays a loaded body for a minute (KV's propagation), then only its fetch time and ETag", () => {
    const t = new LeaseTable();
    t.take("k", 0, 1000);
    t.complete("k", { kind: "data", body: '{"data":1}', etag: '"e"', fetchedAt: 400 }, 500);
    expect(t.relay("k", 500 + MIN - 1)).toMatchObject({ body: '{"data":1}', fetchedAt: 400 });
    expect(t.relay("k", 500 + MIN)).toBeUndefined();
    expect(t.loadedAfter("k", 0)).toEqual({ fetchedAt: 400, etag: '"e"' });
    t.take("j", 0, 1000);
    t.complete("j", { kind: "failed" }, 600);
    expect(t.relay("j", 600)).toBeUndefined();
  });

  it("remembers loads, so a refresh for an older copy can be skipped", () => {
    const t = new LeaseTable();
    t.take("k", 0, 1000);
    // The holder's completion arrives later than its load's fetch time: the fetch time counts.
    t.complete("k", { kind: "data", body: "", etag: '"e"', fetchedAt: 500 }, 700);
    expect(t.loadedAfter("k", 100)).toEqual({ fetchedAt: 500, etag: '"e"' });
    expect(t.loadedAfter("k", 500), "the holder's own copy is not older than its load").toBeUndefined();
    t.take("j", 0, 1000);
    t.complete("j", { kind: "failed" }, 600);
    expect(t.loadedAfter("j", 0)).toBeUndefined(); // a failure is not a newer copy
  });
});

describe("admission (this isolate's gate before each request to BeatPass)", () => {
  it("refuses every family while this isolate's own 429 pause lasts, whatever else knows of it", () => {
    const now = Date.now();
    try {
      pauseHere(now + 30_000);
      expect(admit("tracks", now)).toMatchObject({ ok: false, reason: "rate_limited", retryAfterSeconds: 30 });
      expect(admit("albums", now + 29_999)).toMatchObject({ ok: false, reason: "rate_limited" });
      expect(admit("albums", now + 30_000)).toMatchObject({ ok: true });
    } finally {
      resetAdmission();
    }
  });
});

describe("admission's spread of one key's refreshes over the deployment's isolates", () => {
  /** A keeper that grants nothing, says how many isolates there are, and when to ask again. */
  const keeperCounting = (isolates: number, retryAt = () => 0) =>
    ({
      idFromName: () => "keeper",
      get: () => ({
        lease: async () => ({
          ...{ chain: "c", granted: want(0), expires: 0, retryAt: retryAt(), pausedUntil: 0, newcomerRoom: 0 },
          ...{ isolates, used: 0, capped: {}, purgedAt: 0 },
        }),
      }),
    }) as unknown as AdmissionOptions["keeper"];
  const options = (keeper?: AdmissionOptions["keeper"]): AdmissionOptions => ({
    keeper,
    coordinators: undefined,
    location: "here",
    perMinute: 240,
    timeoutMs: 1_000,
    leaseMs: () => 1_000,
    waitUntil: () => undefined,
  });
  const keys = Array.from({ length: 1000 }, (_, i) => `v1:track:${i}`);
  /**
   * How long each key stays stale here before this isolate asks to refresh it (100 ms steps),
   * the clock moving with it; `staleBefore`: how long each copy was already stale at the start.
   */
  const firstAsks = (o: AdmissionOptions, windowMs: number, staleBefore = 0) => {
    const a = admission(o);
    const clock = useClock();
    return keys.map((key) => {
      let t = 0;
      while (a.holdsBack?.(key, staleBefore + t, windowMs)) {
        t += 100;
        clock.advance(100);
      }
      clock.advance(-t);
      return t;
    });
  };
  afterEach(() => {
    vi.restoreAllMocks();
    resetAdmission();
  });

  it("an isolate alone refreshes a stale copy at once", async () => {
    const o = options(keeperCounting(1));
    await renewLease(o); // the keeper says it is alone
    expect(Math.max(...firstAsks(o, 3_300_000))).toBe(0);
    expect(Math.max(...firstAsks(o, 3_300_000, 3_600_000)), "copies stale since long before").toBe(0);
  });

  it("with 1,201 isolates, waits its own place in 12 s (the others' asks at 100 a second), at most a quarter of the stale window", async () => {
    const o = options(keeperCounting(1201));
    // Each isolate's place comes from its own draw (Math.random at its start): fixed here.
    const drawn = vi.spyOn(Math, "random").mockReturnValue(0.25);
    resetAdmission();
    await renewLease(o);
    const at = firstAsks(o, 3_300_000);
    expect(Math.max(...at)).toBeLessThanOrEqual(12_000);
    expect(Math.min(...at)).toBeLessThan(200);
    // Evenly: each of the six 2 s parts of the spread holds about a sixth of the keys.
    for (let from = 0; from < 12_000; from += 2_000) {
      const n = at.filter((t) => t >= from && t < from + 2_000).length;
      expect(n, `${from}-${from + 2_000} ms`).toBeGreaterThan(120);
      expect(n, `${from}-${from + 2_000} ms`).toBeLessThan(220);
    }
    expect(Math.max(...firstAsks(o, 20_000)), "a 20 s stale window").toBeLessThanOrEqual(5_000);
    // Another isolate (another draw) has other places for the same keys.
    drawn.mockReturnValue(0.75);
    resetAdmission();
    await renewLease(o);
    const other = firstAsks(o, 3_300_000);
    expect(other.filter((t, i) => t !== at[i]).length).toBeGreaterThan(900);
  });

  it("a new isolate waits its place from when it learns the fleet's size, however long the copies were stale (a deploy)", async () => {
    // A keeper granting every refresh (a refusal would hold back the rest), for 1,201 isolates;
    // its answers awaited longer than any place in the spread, with real timers.
    const granting = {
      idFromName: () => "keeper",
      get: () => ({
        lease: async () => ({
          ...{ chain: "c", granted: want(0, 10_000), expires: Date.now() + LEASE, retryAt: 0, pausedUntil: 0 },
          ...{ newcomerRoom: 0, newcomerAt: 0, isolates: 1201, used: 0, capped: {}, purgedAt: 0 },
        }),
      }),
    } as unknown as AdmissionOptions["keeper"];
    const o = { ...options(granting), timeoutMs: 60_000 };
    vi.spyOn(Math, "random").mockReturnValue(0.25);
    resetAdmission();
    const a = admission(o);
    const hourStale = 3_600_000;
    // Before any answer it cannot know: its stale hits go on to begin...
    for (const key of keys) expect(a.holdsBack?.(key, hourStale, 3_300_000)).toBe(false);
    // ...which asks first, then waits the key's place (recorded here, not slept).
    const waits: number[] = [];
    const realTimeout = globalThis.setTimeout;
    vi.spyOn(globalThis, "setTimeout").mockImplementation(((fn: () => void, ms?: number) => {
      if ((ms ?? 0) >= 60_000) return realTimeout(fn, ms);
      waits.push(ms ?? 0);
      fn();
      return 0;
    }) as typeof setTimeout);
    await a.begin(keys[0] as string, "background", 0, hourStale);
    expect(waits, "the first refresh already waits its place").toHaveLength(1);
    for (const key of keys.slice(1)) await a.begin(key, "background", 0, hourStale);
    expect(waits.length, "nearly every key waits its place").toBeGreaterThan(990);
    expect(Math.max(...waits)).toBeLessThanOrEqual(12_000);
    for (let from = 0; from < 12_000; from += 2_000) {
      const n = waits.filter((t) => t >= from && t < from + 2_000).length;
      expect(n, `${from}-${from + 2_000} ms`).toBeGreaterThan(120);
    }
    vi.mocked(globalThis.setTimeout).mockRestore();
    // Its later stale hits are held back the same way, counted from when it learned the size.
    const at = firstAsks(o, 3_300_000, hourStale);
    expect(Math.max(...at)).toBeLessThanOrEqual(12_000);
    expect(at.filter((t) => t >= 6_000).length).toBeGreaterThan(400);
  });

  it("a new isolate alone refreshes at once once it has asked", async () => {
    const o = options(keeperCounting(1));
    const a = admission(o);
    expect(a.holdsBack?.("v1:track:7", 3_600_000, 3_300_000)).toBe(false);
    const turn = await a.begin("v1:track:7", "background", 0, 3_600_000);
    expect(turn.kind, "asked for a permit (none granted here), not held back").toBe("refused");
  });

  it("a key whose refresh was refused is held back for 30 s, after the retry time has let other keys go", async () => {
    const clock = useClock(1_000_000);
    const o = options(keeperCounting(1, () => Date.now() + 2_000));
    const a = admission(o);
    const turn = await a.begin("v1:track:1", "background", 0, 0);
    expect(turn).toMatchObject({ kind: "refused", reason: "budget" });
    expect(a.holdsBack?.("v1:track:2", 0, 3_300_000), "every refresh waits for the retry time").toBe(true);
    clock.advance(5_000);
    expect(a.holdsBack?.("v1:track:2", 5_000, 3_300_000), "past it, other keys go").toBe(false);
    expect(a.holdsBack?.("v1:track:1", 5_000, 3_300_000), "the refused key waits").toBe(true);
    clock.advance(25_000);
    expect(a.holdsBack?.("v1:track:1", 30_000, 3_300_000)).toBe(false);
  });
});
