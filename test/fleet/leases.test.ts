import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DOCUMENTED_GROUP_SHARE } from "../helpers/documented";
import {
  expectProblem,
  FLEET_OPERATOR_KEY,
  type Fleet,
  type Reply,
  startFleet,
  startUpstream,
  type Upstream,
} from "./fleet";

// Quota leases, deployment-wide (docs/caching.md, "Quota leases"): instances of the bundled
// Worker in one miniflare, one keeper and one data centre's coordinator, each instance with its
// own KV that sees the others' writes only after a lag.

const track = (id: number) => `/v1/tracks/${id}`;
const search = (q: string) => `/v1/search?query=${q}`;
/** A KV write reaches the other instances this much later (the fleet's stand-in for KV's propagation). */
const KV_LAG_MS = 2_000;

let upstream: Upstream;
let fleet: Fleet | undefined;

beforeAll(async () => {
  upstream = await startUpstream({ synthesizeTracks: true });
});
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
  upstream.reset();
});
afterAll(async () => {
  await upstream?.close();
});

/** The keeper and coordinator calls every instance has made so far (its /healthz counters). */
async function calls(f: Fleet): Promise<{ keeper: number; coordinator: number }> {
  let keeper = 0;
  let coordinator = 0;
  for (let i = 0; i < f.size; i++) {
    const cache = (await f.fetchVia(i, "/healthz", { headers: { "X-Operator-Key": FLEET_OPERATOR_KEY } })).json().cache;
    keeper += cache.keeper_calls;
    coordinator += cache.coordinator_calls;
  }
  return { keeper, coordinator };
}

const timing = (res: Reply, name: string) =>
  Number(new RegExp(`${name};dur=(\\d+)`).exec(res.headers.get("Server-Timing") ?? "")?.[1] ?? Number.NaN);

describe("a warm fleet", () => {
  it("asks the keeper at most once per four upstream requests: 240 cold searches, each asked three times over 4 instances", async () => {
    // A budget that cannot run out here: this is about what the keeper is asked, not its refusals.
    fleet = await startFleet({ upstream, size: 4, kvLagMs: KV_LAG_MS, vars: { UPSTREAM_BUDGET_PER_MINUTE: "2000" } });
    const f = fleet;
    // On the fleet's clock: renewals due to a lease's age would otherwise grow with how slowly
    // this machine runs the test, not with the traffic.
    await f.setClock(Date.now());
    for (let i = 0; i < f.size; i++) expect((await f.fetchVia(i, track(900 + i))).status).toBe(200);
    const before = await calls(f);
    const upstreamBefore = upstream.count();
    // In batches of 24 searches (72 requests at once), each search asked by three instances.
    for (let batch = 0; batch < 10; batch++) {
      const replies = await Promise.all(
        Array.from({ length: 24 }, (_, k) => batch * 24 + k).flatMap((n) =>
          [0, 1, 2].map((j) => f.fetchVia((n + j) % f.size, search(`warm-fleet-${n}`))),
        ),
      );
      for (const r of replies) expect(r.status, r.text.slice(0, 200)).toBe(200);
    }
    const after = await calls(f);
    const loads = upstream.count() - upstreamBefore;
    expect(loads, "each search loaded once").toBe(240);
    const keeperPerLoad = (after.keeper - before.keeper) / loads;
    const coordinatorPerLoad = (after.coordinator - before.coordinator) / loads;
    console.info(
      `keeper calls per upstream request ${keeperPerLoad.toFixed(3)}, coordinator calls ${coordinatorPerLoad.toFixed(2)}`,
    );
    expect(keeperPerLoad).toBeLessThanOrEqual(0.25);
    // Coordination is counted apart: a load asks once and reports once; a request that finds the
    // key being loaded (or just loaded) asks once and may wait once.
    expect(coordinatorPerLoad).toBeLessThanOrEqual(6);
  });

  it("a warm instance's miss waits 0 ms for its permit (Server-Timing budget)", async () => {
    fleet = await startFleet({ upstream, size: 2, kvLagMs: KV_LAG_MS });
    const f = fleet;
    expect((await f.fetchVia(1, track(1))).status).toBe(200);
    for (let id = 2; id < 5; id++) {
      // Warm: its background work (a lease renewal a slow machine may have started) is done.
      await f.settled();
      const miss = await f.fetchVia(1, track(id));
      const seen = `track ${id}: ${miss.headers.get("Server-Timing")}`;
      expect(miss.headers.get("Cache-Status"), seen).toContain("fwd=miss");
      expect(timing(miss, "budget"), seen).toBe(0);
    }
  });
});

describe("the keeper unreachable", () => {
  for (const size of [8, 16]) {
    it(`with ${size} instances and a budget of 30 a minute, BeatPass sees at most the budget`, async () => {
      fleet = await startFleet({ upstream, size, kvLagMs: KV_LAG_MS, vars: { UPSTREAM_BUDGET_PER_MINUTE: "30" } });
      const f = fleet;
      // On the fleet's clock: however long this takes, it is one minute.
      const t = Date.now();
      await f.setClock(t);
      // Every instance holds a lease (its first miss asked the keeper for one)...
      for (let i = 0; i < size; i++) await f.fetchVia(i, track(2000 + i));
      // ...then the keeper is gone, and 300 cold requests arrive over the instances.
      await f.keeperDown(true);
      const replies = await Promise.all(Array.from({ length: 300 }, (_, k) => f.fetchVia(k % size, track(3000 + k))));
      const sent = upstream.count();
      console.info(`${size} instances, keeper down: ${sent} upstream requests in the minute`);
      expect(sent).toBeLessThanOrEqual(36);
      expect(sent, "the budget this is about: never more than it").toBeLessThanOrEqual(30);
      for (const r of replies.filter((r) => r.status !== 200)) {
        expectProblem(r, 503, "upstream_budget_exhausted");
        expect(Number(r.headers.get("Retry-After"))).toBeGreaterThan(0);
      }
    });
  }
});

describe("a few networks of many addresses", () => {
  it("cannot spend the budget for everyone: a new visitor's cold requests still get data", async () => {
    const BUDGET = 120;
    fleet = await startFleet({
      upstream,
      size: 4,
      kvLagMs: KV_LAG_MS,
      vars: { UPSTREAM_BUDGET_PER_MINUTE: String(BUDGET) },
    });
    const f = fleet;
    await f.setClock(Date.now());
    // 4 addresses of one network asking 30 cold searches each, then 70 more of another network
    // asking 3 each: 330 requests, within a minute.
    const heavy = Array.from({ length: 4 }, (_, a) => `198.51.100.${a + 1}`);
    const light = Array.from({ length: 70 }, (_, a) => `203.0.113.${a + 1}`);
    let n = 0;
    const ask = (ip: string) => f.fetchVia(n % f.size, search(`attack-${n++}`), { ip });
    await Promise.all(heavy.flatMap((ip) => Array.from({ length: 30 }, () => ask(ip))));
    await Promise.all(light.flatMap((ip) => Array.from({ length: 3 }, () => ask(ip))));
    const spent = upstream.count();
    // Each network holds at most its share (docs: a tenth of the budget), counted by each instance
    // at once and by the keeper from every instance's reports.
    const share = Math.floor(DOCUMENTED_GROUP_SHARE.anon * BUDGET);
    console.info(`two attacking networks sent ${spent} of a budget of ${BUDGET} (a network's share: ${share})`);
    expect(spent).toBeLessThan(BUDGET);
    // A new visitor, from a network of its own, on every instance.
    for (let i = 0; i < f.size; i++) {
      const res = await f.fetchVia(i, track(700 + i), { ip: `192.0.2.${10 + i}` });
      expect(res.status, `instance ${i}: ${res.text.slice(0, 200)}`).toBe(200);
    }
  });
});
