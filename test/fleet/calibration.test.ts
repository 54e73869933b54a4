import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { bundleIsolate } from "../../sim/bundle.mjs";
import { runScenario } from "../../sim/simulate.mjs";
import { FLEET_OPERATOR_KEY, type Fleet, startFleet, startUpstream, type Upstream } from "./fleet";

// Calibration of the fleet simulation (sim/): one small scenario run twice, by the simulator
// and by the real bundled Worker (two instances sharing KV, the keeper and the coordinators in
// miniflare, the fake BeatPass on loopback), and the two must agree on what the headline of
// bench/SIMULATION.md depends on: requests sent to BeatPass in the busiest minute (the whole
// run is shorter than a minute), keeper calls, the share of answers served stale, and viewer
// non-2xx; and on KV writes. Tolerances: 10% on counts, 5 points on the stale share, none on
// non-2xx.
//
// The scenario: four tracks, each asked every 0.8 s for 40 s, alternating between the two
// isolates; entity TTLs of seconds (soft 3 s) so the refresh cycle repeats a dozen times, and
// a 30 s staleIfError so KV copies are rewritten (past half their lifetime) during the run.
// Only the memory tier is on: miniflare's Cache API is not one data centre's shared cache.
// A copy is fetched at a request's time, so every later request of its key finds it a
// multiple of 0.8 s old: 2.4 s (fresh) or 3.2 s (stale), at least 0.2 s from the 3 s
// boundary, and a KV copy is rewritten at 16 s old, 1 s past half of 30 s.
//
// The real run is on the fleet's clock (fleet.ts, setClock), not the wall clock: each request
// is sent with every isolate's clock (and the keeper's) stopped at its time in the script, and
// the next one only once the fleet has finished what the request started (its background
// refresh, its KV writes). That is the simulation's premise too (loads of milliseconds,
// requests 0.1 s apart), and it makes the run the same however busy the machine: no request
// can drift across a TTL, however late it is sent. (Run on the wall clock, a few ms of delay
// decided between fresh and stale: a busy CI run counted 14 KV writes against 12.)

const SECONDS = 40;
const INTERVAL_S = 0.8;
const TRACKS = [1, 2, 3, 4];
// A budget the refreshes outrun (they would send ~50 in the run), so leases run dry, refreshes
// are refused and copies served stale; and from 20 s on, a new track every 2 s that nobody
// asked before, whose miss is refused (a non-2xx) once the budget is spent.
const BUDGET = 24;
const VARS = {
  CACHE_POLICY: JSON.stringify({ entity: { soft: 3, hard: 6, staleIfError: 30 } }),
  CACHE_FAST_TIERS: "memory",
  UPSTREAM_BUDGET_PER_MINUTE: String(BUDGET),
};
const NEW_TRACKS = Array.from({ length: 10 }, (_, k) => ({ at: 20.03 + 2 * k, isolate: k % 2, id: 101 + k }));
const SCRIPT = [
  ...Array.from({ length: Math.round(SECONDS / INTERVAL_S) }, (_, n) =>
    TRACKS.map((id, k) => ({ at: n * INTERVAL_S + k * 0.1 + 0.05, isolate: (n + k) % 2, id })),
  ).flat(),
  ...NEW_TRACKS,
].sort((a, b) => a.at - b.at);

let upstream: Upstream;
let fleet: Fleet | undefined;

beforeAll(async () => {
  upstream = await startUpstream({ synthesizeTracks: true });
});
afterAll(async () => {
  await fleet?.stop();
  await upstream?.close();
});

/** The real run: the script's requests at their times on the fleet's clock, each to its instance. */
async function realRun() {
  const f = await startFleet({ upstream, size: 2, vars: VARS });
  fleet = f;
  upstream.reset();
  // Any start will do: every decision is about how old a copy is, never about the time of day.
  const start = Date.now();
  const statuses: number[] = [];
  let stale = 0;
  for (const r of [...SCRIPT].sort((a, b) => a.at - b.at)) {
    await f.setClock(start + Math.round(r.at * 1000));
    const reply = await f.fetchVia(r.isolate, `/v1/tracks/${r.id}`);
    statuses.push(reply.status);
    if (/detail=stale-/.test(reply.headers.get("Cache-Status") ?? "")) stale++;
    await f.settled();
  }
  let kvWrites = 0;
  let keeperCalls = 0;
  for (const i of [0, 1]) {
    const cache = (await f.fetchVia(i, "/healthz", { headers: { "X-Operator-Key": FLEET_OPERATOR_KEY } })).json().cache;
    kvWrites += cache.kv_writes;
    keeperCalls += cache.keeper_calls;
  }
  return {
    upstream: upstream.count(),
    kvWrites,
    keeperCalls,
    staleShare: stale / statuses.length,
    non2xx: statuses.filter((s) => s < 200 || s >= 300).length,
  };
}

/** The simulated run of the same script, the latencies set to what loopback and miniflare give. */
async function simulatedRun() {
  const { createIsolate } = await import(pathToFileURL(await bundleIsolate("sim/.build/calibration.mjs")).href);
  const scenario = {
    name: "calibration",
    sample: 1,
    vars: VARS,
    script: SCRIPT.map((r) => ({
      at: r.at,
      isolate: r.isolate,
      reads: [{ route: "track", raw: { id: String(r.id) } }],
    })),
    params: {
      durationS: SECONDS + 2,
      dataCentres: 1,
      isolatesPerDc: 2,
      isolateMeanLifetimeS: 1e9,
      preloadS: 0,
      upstreamLatencyMedianMs: 5,
      upstreamLatencySigma: 0.2,
      upstream5xxShare: 0,
      contentChangeShare: 0,
      kvHotReadMs: 1,
      kvColdReadMs: 1,
      kvWriteMs: 1,
      kvWritePropagationS: 0,
      keeperRttMs: [1, 1],
      otherUserPerMinute: 0,
    },
  };
  return runScenario(scenario, true, createIsolate);
}

it("the simulator and the real Worker in miniflare agree on upstream requests in the busiest minute, keeper calls, stale share, non-2xx and KV writes", async () => {
  const sim = await simulatedRun();
  const real = await realRun();
  const simStale = sim.viewers.stale / sim.viewers.requests;
  expect(sim.viewers.requests).toBe(SCRIPT.length);
  // Something to compare: a refresh cycle per key every few seconds, stale answers, KV rewrites, renewals.
  expect(real.upstream).toBeGreaterThan(TRACKS.length * 3);
  expect(real.kvWrites).toBeGreaterThan(TRACKS.length);
  expect(real.staleShare).toBeGreaterThan(0.1);
  expect(real.keeperCalls).toBeGreaterThan(0);
  expect(real.non2xx).toBeGreaterThan(0);
  expect(real.upstream).toBeLessThanOrEqual(BUDGET);
  // For the record (docs/simulation.md quotes a run).
  console.info(
    `calibration: upstream requests in the busiest minute sim ${sim.upstream.busiestMinute} real ${real.upstream}; keeper calls sim ${sim.keeper.requests} real ${real.keeperCalls}; stale sim ${(100 * simStale).toFixed(1)}% real ${(100 * real.staleShare).toFixed(1)}%; non-2xx sim ${sim.viewers.non2xx} real ${real.non2xx}; KV writes sim ${sim.kv.writes} real ${real.kvWrites}`,
  );
  const within = (a: number, b: number) => Math.abs(a - b) <= 0.1 * Math.max(a, b);
  // The whole run is under a minute: every upstream request is in the busiest one.
  expect(SECONDS).toBeLessThan(60);
  expect(
    within(sim.upstream.busiestMinute, real.upstream),
    `upstream in the busiest minute: sim ${sim.upstream.busiestMinute}, real ${real.upstream}`,
  ).toBe(true);
  expect(
    within(sim.keeper.requests, real.keeperCalls),
    `keeper calls: sim ${sim.keeper.requests}, real ${real.keeperCalls}`,
  ).toBe(true);
  expect(Math.abs(simStale - real.staleShare), `stale: sim ${simStale}, real ${real.staleShare}`).toBeLessThanOrEqual(
    0.05,
  );
  expect(sim.viewers.non2xx).toBe(real.non2xx);
  expect(within(sim.kv.writes, real.kvWrites), `KV writes: sim ${sim.kv.writes}, real ${real.kvWrites}`).toBe(true);
});
