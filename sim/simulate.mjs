import { SIM_TOKEN, SimBeatpass } from "./beatpass.mjs";
import { Fleet } from "./fleet.mjs";
import { WARM_S } from "./keeper.mjs";
import { SimKv } from "./kv.mjs";
import { Metrics, quantile } from "./metrics.mjs";
import { params } from "./params.mjs";
import { EventQueue, settle } from "./queue.mjs";
import { rng } from "./random.mjs";

/** Simulated time starts here (2027-01-01T00:00:00Z): a plausible Date.now() for the Worker's code. */
export const SIM_EPOCH_MS = Date.UTC(2027, 0, 1);
const SETTLE_MS = 1;

import { catalogueRequests, FLASH_TRACK_ID, ScriptedTraffic, Traffic } from "./traffic.mjs";

/**
 * One scenario in one mode: builds the world (KV, BeatPass, the fleet and its keeper), feeds
 * it the scenario's traffic for `durationS` simulated seconds and returns the measurements.
 * `budgetOn: false` takes the keeper out of the engine's way (no coordinator: every isolate
 * loads on its own, as before the deployment-wide budget).
 */
export async function runScenario(scenario, budgetOn, createIsolate) {
  const started = performance.now();
  let preloadMs = 0;
  const p = params(scenario.params);
  const queue = new EventQueue();
  const random = rng(p.seed);
  const kv = new SimKv(queue, p);
  const beatpass = new SimBeatpass(queue, p, rng(p.seed + 1));
  // Simulated time is wall-clock-like (the Worker's code treats 0 as "never"): the run's
  // first second is `origin`, the preload runs in the hour before it.
  const origin = SIM_EPOCH_MS + p.preloadS * 1000;
  const outage = scenario.outage && {
    from: origin + scenario.outage.at * 1000,
    to: origin + (scenario.outage.at + scenario.outage.s) * 1000,
  };
  if (outage) beatpass.outage(outage.from, outage.to);
  const vars = { BEATPASS_TOKEN: SIM_TOKEN, BEATPASS_API_BASE: "https://beatpass.sim/api/v1", ...scenario.vars };
  // The deployment has been serving this catalogue already: the preload runs before time 0.
  queue.now = SIM_EPOCH_MS;
  beatpass.origin = origin;
  const fleet = new Fleet({ queue, p, kv, beatpass, vars, budgetOn, createIsolate });
  const keeperOutage = scenario.keeperOutage && {
    from: origin + scenario.keeperOutage.at * 1000,
    to: origin + (scenario.keeperOutage.at + scenario.keeperOutage.s) * 1000,
  };
  if (keeperOutage) fleet.keeper.outage(keeperOutage.from, keeperOutage.to);
  const metrics = new Metrics(outage ?? keeperOutage);

  // Resolve the catalogue into cache keys and policies, with the Worker's own routes.
  const resolved = new Map();
  const resolve = async (read) => {
    const id = `${read.route}?${new URLSearchParams(read.raw)}`;
    let lookup = resolved.get(id);
    if (lookup) return lookup;
    const setup = fleet.isolate();
    const input = await setup.mod.inputForRequest(read.route, read.raw);
    if (!input) throw new Error(`simulation: ${id} is not a valid request`);
    lookup = { route: read.route, input, key: input.key };
    resolved.set(id, lookup);
    return lookup;
  };
  // A scripted run (the calibration) asks exactly what its script says, from a cold start.
  const scripted = scenario.script;
  const catalogue = scripted ? [] : catalogueRequests(p, random);
  const ranks = await pump(queue, async () => {
    const out = [];
    for (const entry of catalogue) out.push({ kind: entry.kind, lookups: await Promise.all(entry.reads.map(resolve)) });
    return out;
  });
  // The preload covers the catalogue only: the flash crowd's track is new to the deployment.
  const catalogueLookups = [...resolved.values()];
  const flashLookups = scripted
    ? []
    : await pump(queue, () =>
        Promise.all([
          resolve({ route: "track", raw: { id: String(FLASH_TRACK_ID) } }),
          resolve({ route: "track-wave", raw: { id: String(FLASH_TRACK_ID) } }),
        ]),
      );
  const script = scripted
    ? await pump(queue, () =>
        Promise.all(scripted.map(async (r) => ({ ...r, lookups: await Promise.all(r.reads.map(resolve)) }))),
      )
    : [];
  if (!scripted) await preload(queue, fleet, beatpass, catalogueLookups, random, origin);
  // What the preload cost is not part of the run: it starts from clean counters at time 0.
  preloadMs = performance.now() - started;
  fleet.startLifetimes();
  beatpass.resetCounts();
  kv.reads = kv.writes = kv.rejectedWrites = 0;
  fleet.keeper.origin = fleet.coordinators.origin = origin;
  fleet.keeper.resetCounts();
  fleet.coordinators.resetCounts();
  fleet.logLines = 0;
  for (const dc of fleet.dcs) dc.cache.reads = dc.cache.writes = 0;

  const traffic = scripted
    ? new ScriptedTraffic(script, origin, fleet.dcs[0].index)
    : new Traffic(
        p,
        scenario,
        random,
        ranks,
        flashLookups,
        origin,
        fleet.dcs.map((dc) => dc.index),
      );
  const end = origin + p.durationS * 1000;
  if (p.otherUserPerMinute > 0) beatpass.otherUser(origin + random() * 1000, end, 60_000 / p.otherUserPerMinute);
  const cron = () => {
    fleet.cron().catch(() => undefined);
    if (queue.now + 60_000 <= end) queue.after(60_000, cron);
  };
  if (!scripted) queue.at(origin + 60_000, cron);

  let arrival = traffic.next();
  let dirty = false;
  let settledAt = queue.now;
  for (;;) {
    const next = Math.min(arrival, queue.nextTime);
    // Promise continuations run before time moves more than SETTLE_MS past the last settle:
    // settling after every event would cost more than the events (the time resolution is 1 ms).
    if (dirty && next - settledAt >= SETTLE_MS) {
      await settle();
      dirty = false;
      settledAt = queue.now;
      continue;
    }
    if (next > end) break;
    if (arrival <= queue.nextTime) {
      queue.now = arrival;
      const a = traffic.pick(arrival);
      const at = arrival;
      arrival = traffic.next();
      const hadCopy = () => a.lookups.some((l) => l.key && kv.central(l.key));
      dirty =
        fleet.request(
          a.dc,
          a.lookups,
          a.clientKey,
          (status, state) => metrics.record(a.cls, status, state, queue.now - at, at, hadCopy),
          a.isolate,
        ) || dirty;
    } else {
      queue.step();
      dirty = true;
    }
  }
  await settle();

  const v = metrics.viewers;
  return {
    scenario: scenario.name,
    budget: budgetOn ? "on" : "off",
    durationS: p.durationS,
    budgetPerMinute: fleet.isolate().config.budgetPerMinute,
    dataCentres: p.dataCentres,
    isolatesPerDc: p.isolatesPerDc,
    rps: scenario.rps,
    viewers: { requests: v.requests, non2xx: v.non2xx, stale: v.stale, byStatus: v.byStatus },
    attackers: {
      requests: metrics.attackers.requests,
      non2xx: metrics.attackers.non2xx,
      byStatus: metrics.attackers.byStatus,
    },
    outage: metrics.outage,
    // Viewer errors while BeatPass itself is down are reported apart; the keeper's outage is ours.
    outsideOutage: outage
      ? { requests: v.requests - metrics.outage.requests, non2xx: v.non2xx - metrics.outage.non2xx }
      : { requests: v.requests, non2xx: v.non2xx },
    outageKind: outage ? "beatpass" : keeperOutage ? "keeper" : undefined,
    upstream: {
      requests: beatpass.requests,
      busiestMinute: beatpass.busiestMinute(),
      busiestMinuteWithOther: beatpass.busiestMinuteWithOther(),
      limitPerMinute: p.upstreamLimitPerMinute,
      otherRequests: beatpass.otherArrivals.length,
      otherTooMany: beatpass.otherTooMany,
      tooMany: beatpass.tooMany,
      serverErrors: beatpass.serverErrors,
      outageAnswers: beatpass.outageAnswers,
    },
    kv: { reads: kv.reads, writes: kv.writes, rejectedWrites: kv.rejectedWrites },
    keeper: {
      requests: fleet.keeper.requests,
      busiestSecond: fleet.keeper.perSecond.reduce((a, n) => Math.max(a, n ?? 0), 0),
      busiestLaterSecond: fleet.keeper.perSecond.slice(WARM_S).reduce((a, n) => Math.max(a, n ?? 0), 0),
      meanPerSecond: fleet.keeper.requests / p.durationS,
      capacityPerSecond: p.keeperCapacityPerS,
      maxQueueMs: fleet.keeper.maxQueueMs,
      failed: fleet.keeper.failed,
      hung: fleet.keeper.hung,
    },
    coordinators: {
      requests: fleet.coordinators.requests,
      locations: objectsOf(fleet.coordinators, "loc:", p.durationS),
      shards: objectsOf(fleet.coordinators, "key:", p.durationS),
    },
    cacheApi: fleet.dcs.reduce((a, dc) => ({ reads: a.reads + dc.cache.reads, writes: a.writes + dc.cache.writes }), {
      reads: 0,
      writes: 0,
    }),
    latency: { p50: quantile(v, 0.5), p99: quantile(v, 0.99) },
    logLines: fleet.logLines,
    isolatesStarted: fleet.isolatesStarted,
    lostRequests: fleet.lostRequests,
    wallMs: performance.now() - started,
    preloadMs,
  };
}

/** Calls to the objects named `prefix`*: in all, per second, and the busiest object's busiest second. */
function objectsOf(objects, prefix, durationS) {
  const all = objects.busiest(prefix);
  const calls = all.reduce((a, o) => a + o.calls, 0);
  return { objects: all.length, calls, meanPerSecond: calls / durationS, busiest: all[0] ?? null };
}

/**
 * Before time 0, every catalogue key is loaded once, at a random moment of the preceding
 * `preloadS` seconds, by the Worker itself (through an isolate of data centre 0, BeatPass
 * answering everything): KV starts with a copy of each, of random age, as it would after
 * days of service. Memory and most Cache APIs start cold anyway, with the isolates.
 */
async function preload(queue, fleet, beatpass, lookups, random, until) {
  const from = queue.now;
  beatpass.unlimited = true;
  for (const l of lookups) {
    queue.at(from + random() * (until - from), () => {
      const iso = fleet.isolate();
      const deps = iso.mod.tierDeps(iso.env, iso.ctx, iso.config);
      deps.coordinator = undefined;
      iso.mod
        .lookupForKey(l.key, iso.config, iso.env, deps)
        .then((opts) => iso.mod.getOrLoad(deps, opts))
        .catch(() => undefined);
    });
  }
  await queue.runUntil(until);
  beatpass.unlimited = false;
}

/** Runs `work` while moving simulated time on whenever it waits on the simulation. */
async function pump(queue, work) {
  let done = false;
  const result = work().finally(() => {
    done = true;
  });
  for (;;) {
    await settle();
    if (done || !queue.step()) break;
  }
  return result;
}
