import { createHash } from "node:crypto";
import { ratelimits } from "../scripts/wrangler-toml.mjs";
import { SimCacheApi } from "./cache-api.mjs";
import { SimObjects } from "./keeper.mjs";
import { exponential, rng } from "./random.mjs";
import { SimHeaders, SimResponse } from "./response.mjs";

/**
 * The deployment: data centres, each with its Cache API and `isolatesPerDc` isolates of the
 * Worker; every isolate is an instance of the bundled Worker modules (sim/bundle.mjs) with its
 * own module state. Isolates die at random (exponential lifetimes) and a cold one takes their
 * place; the dying one finishes what it was doing for `isolateDrainS`, then its module
 * instance is reset (src/isolate.ts) and reused: building one costs milliseconds, resetting
 * microseconds.
 *
 * A request is answered by the function the Worker's read routes call once a request is valid
 * (`serveRead`, src/routes/serve-read.ts: purges, hot list, cache engine, problems), against the
 * simulated tiers, keeper, coordinators and BeatPass. The HTTP layer around it (routing,
 * headers, rendering) is not simulated.
 */

// Module instances of evicted isolates, reset and reused within one scenario (building one is
// the expensive part). Each is bound to the running fleet through `slot.fleet`. Every scenario
// starts with new ones: reused across scenarios, what one left in them moved the next one's
// figures (the same scenario gave 0.48% non-2xx after another, 0.43% first in its thread).
let pool = [];

function newSlot(createIsolate, fleet) {
  // Module evaluation reads the clock already: the slot belongs to `fleet` from the start.
  const slot = { gen: 0, fleet, dc: undefined, random: Math.random };
  const quiet = () => {
    slot.fleet.logLines++;
  };
  const sim = {
    now: () => slot.fleet.queue.now,
    setTimeout: (fn, ms, ...args) => {
      const gen = slot.gen;
      return slot.fleet.queue.after(Math.max(0, Number(ms) || 0), () => {
        if (slot.gen === gen) fn(...args);
      });
    },
    clearTimeout: (handle) => slot.fleet.queue.cancel(handle),
    random: () => slot.random(),
    randomUUID: () => `isolate-${Math.floor(slot.random() * 2 ** 48).toString(16)}`,
    abortTimeout: (ms) => {
      const controller = new AbortController();
      sim.setTimeout(() => controller.abort(new DOMException("The operation timed out.", "TimeoutError")), ms);
      return controller.signal;
    },
    digest: (_algorithm, data) => {
      const bytes = ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : data;
      const out = createHash("sha256").update(bytes).digest();
      return Promise.resolve(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
    },
    caches: { default: undefined },
    fetch: (input, init) => slot.fetch(input, init),
    Response: SimResponse,
    Headers: SimHeaders,
    console: { log: quiet, info: quiet, warn: quiet, error: quiet, debug: quiet },
  };
  slot.sim = sim;
  slot.mod = createIsolate(sim);
  return slot;
}

export class Fleet {
  logLines = 0;
  lostRequests = 0;
  isolatesStarted = 0;

  /**
   * @param world { queue, p, kv, beatpass, vars, budgetOn, createIsolate }
   */
  constructor(world) {
    Object.assign(this, world);
    pool = [];
    this.random = rng(this.p.seed ^ 0x5eed);
    // The objects' own isolate: it never dies here (Durable Objects are restarted rarely).
    const objectSlot = newSlot(this.createIsolate, this);
    objectSlot.random = rng(this.p.seed ^ 0xdeed);
    const always = (ms, fn) => new Promise((resolve) => this.queue.after(ms, () => resolve(fn())));
    const { dataCentres, isolatesPerDc, keeperRttMs, localObjectRttMs } = this.p;
    // Round trips: to the keeper and the key shards by distance (drawn once per pair), to a
    // location's own coordinator short.
    const distances = new Map();
    const distance = (from, name) => {
      if (name === `loc:dc${from}`) return localObjectRttMs;
      const id = `${from}|${name}`;
      let d = distances.get(id);
      if (d === undefined) {
        d = keeperRttMs[0] + this.random() * (keeperRttMs[1] - keeperRttMs[0]);
        distances.set(id, d);
      }
      return d;
    };
    this.coordinators = new SimObjects(this.queue, this.p, objectSlot.mod, "KeyCoordinator", {}, distance);
    this.keeper = new SimObjects(
      this.queue,
      this.p,
      objectSlot.mod,
      "UpstreamBudget",
      { BEATPASS_CACHE: this.kv.binding("keeper", always), COORDINATORS: this.coordinators.binding("keeper", always) },
      distance,
    );
    this.limits = ratelimits();
    // Every data centre, ranked by traffic (index 0 busiest).
    this.dcs = [];
    this.byIndex = new Map();
    for (let index = 0; index < dataCentres; index++) {
      const dc = { index, cache: new SimCacheApi(this.queue, this.p), counters: new Map(), isolates: [] };
      this.dcs.push(dc);
      this.byIndex.set(index, dc);
    }
    for (const dc of this.dcs) for (let i = 0; i < isolatesPerDc; i++) dc.isolates.push(this.#spawn(dc));
  }

  /** An isolate started now in `dc`, from a pooled module instance when one is free. */
  #spawn(dc) {
    const slot = pool.pop() ?? newSlot(this.createIsolate, this);
    slot.gen++;
    slot.fleet = this;
    slot.dc = dc;
    slot.random = rng(this.p.seed + this.isolatesStarted * 7919);
    this.isolatesStarted++;
    const gen = slot.gen;
    const queue = this.queue;
    const deliver = (ms, fn) =>
      new Promise((resolve, reject) => {
        queue.after(ms, () => {
          if (slot.gen !== gen) return;
          try {
            resolve(fn());
          } catch (err) {
            reject(err);
          }
        });
      });
    slot.sim.caches = { default: dc.cache.binding(deliver) };
    slot.fetch = this.beatpass.fetchFor(deliver);
    slot.mod.resetIsolate(queue.now);
    const env = {
      ...this.vars,
      BEATPASS_CACHE: this.kv.binding(dc.index, deliver),
      UPSTREAM_BUDGET: this.keeper.binding(dc.index, deliver),
      COORDINATORS: this.coordinators.binding(dc.index, deliver),
    };
    for (const [name, rl] of Object.entries(this.limits)) env[name] = this.#limiter(dc, rl);
    const iso = { dc, slot, mod: slot.mod, env, pending: 0, trace: { colo: `dc${dc.index}` } };
    iso.config = slot.mod.requireConfig(env);
    iso.waitUntil = (promise) => {
      promise.catch?.(() => undefined);
    };
    iso.ctx = { waitUntil: iso.waitUntil, passThroughOnException: () => undefined };
    if (this.living) this.#live(iso);
    return iso;
  }

  /**
   * From now on isolates die at random: those running now and every one started later. Before
   * (the preload) nobody dies: lifetimes are exponential, so starting their clocks at time 0
   * changes nothing in the run and saves evicting isolates during the preload hour.
   */
  startLifetimes() {
    this.living = true;
    for (const dc of this.dcs)
      for (const iso of dc.isolates) {
        // Every isolate starts now, cold (as after a deploy): what it drew when it was built,
        // before the preload hour (the first hot-count fold's moment), would be long past and
        // put every isolate's next fold in the same second.
        iso.mod.resetIsolate(this.queue.now);
        this.#live(iso);
      }
  }

  #live(iso) {
    this.queue.after(exponential(this.p.isolateMeanLifetimeS * 1000, this.random), () => this.#retire(iso));
  }

  /** The isolate is evicted: a cold one takes its place; it drains, then its instance is reused. */
  #retire(iso) {
    const list = iso.dc.isolates;
    list[list.indexOf(iso)] = this.#spawn(iso.dc);
    this.queue.after(this.p.isolateDrainS * 1000, () => {
      this.lostRequests += iso.pending;
      iso.slot.gen++;
      pool.push(iso.slot);
    });
  }

  /** A Workers Rate Limiting binding: counters per data centre, as Cloudflare keeps them per location. */
  #limiter(dc, rl) {
    const { limit, period } = rl.simple;
    return {
      limit: ({ key }) => {
        const windowStart = Math.floor(this.queue.now / (period * 1000));
        const id = `${rl.namespace_id}|${key}`;
        const c = dc.counters.get(id);
        if (!c || c.window !== windowStart) {
          dc.counters.set(id, { window: windowStart, n: 1 });
          return Promise.resolve({ success: true });
        }
        c.n++;
        return Promise.resolve({ success: c.n <= limit });
      },
    };
  }

  /** Isolate `i` of data centre `dcIndex` (default: the first simulated one, where the cron runs). */
  isolate(dcIndex = this.dcs[0].index, i = 0) {
    return this.byIndex.get(dcIndex).isolates[i];
  }

  /**
   * One viewer request in data centre `dcIndex` for `lookups` (the reads the route makes, first
   * one primary: a card reads its track, then the waveform), each answered by `serveRead`, the
   * function the read routes' handler calls. Calls `done(status, state)` now when every read
   * was answered synchronously (a fresh copy in memory; returns false), later in simulated time
   * otherwise (true). The isolate is picked at random unless `isolateIndex` names it.
   */
  request(dcIndex, lookups, clientKey, done, isolateIndex) {
    const dc = this.byIndex.get(dcIndex);
    const iso = dc.isolates[isolateIndex ?? (this.random() * dc.isolates.length) | 0];
    const m = iso.mod;
    const client = clientKey ? { tier: "anon", limitKey: clientKey } : undefined;
    const trace = { colo: iso.trace.colo };
    const deps = m.tierDeps(iso.env, iso.ctx, iso.config, client, trace);
    if (!this.budgetOn) deps.coordinator = undefined;
    let answer;
    for (let i = 0; i < lookups.length; i++) {
      const l = lookups[i];
      if (!l.input) return this.#later(iso, lookups, i, answer, deps, trace, clientKey, done);
      let served;
      try {
        served = m.serveRead(m.readRequestOf(l.route, l.input, iso.config, iso.env, deps, trace, clientKey));
      } catch (err) {
        if (i > 0) continue;
        done(statusOf(m, err), "error");
        return false;
      }
      if (typeof served.then === "function")
        return this.#later(iso, lookups, i, answer, deps, trace, clientKey, done, served);
      answer ??= [served.entry.status ?? 200, served.state];
    }
    done(...answer);
    return false;
  }

  /** The rest of a request from read `from` on, `pending` its answer under way if any. */
  #later(iso, lookups, from, answer, deps, trace, clientKey, done, pending) {
    iso.pending++;
    this.#rest(iso, lookups, from, answer, deps, trace, clientKey, pending).then(
      ([status, state]) => {
        iso.pending--;
        done(status, state);
      },
      (err) => {
        iso.pending--;
        throw err;
      },
    );
    return true;
  }

  async #rest(iso, lookups, from, answer, deps, trace, clientKey, pending) {
    const m = iso.mod;
    for (let i = from; i < lookups.length; i++) {
      const l = lookups[i];
      try {
        let served;
        if (i === from && pending) served = await pending;
        else {
          // A URL nobody asked before (an attacker's) is validated, as the route validates it.
          const input = l.input ?? (await m.inputForRequest(l.route, l.raw));
          if (!input) throw new Error(`simulation: ${l.route} ${JSON.stringify(l.raw)} is not a valid request`);
          served = await m.serveRead(m.readRequestOf(l.route, input, iso.config, iso.env, deps, trace, clientKey));
        }
        answer ??= [served.entry.status ?? 200, served.state];
      } catch (err) {
        // The waveform of a card is decoration: its failure leaves the card as it is.
        if (i > 0) continue;
        return [statusOf(m, err), "error"];
      }
    }
    return answer;
  }

  /** The Cron Trigger: refresh-ahead, run by one isolate. */
  cron() {
    const iso = this.isolate();
    return iso.mod.refreshAhead(iso.env, iso.ctx);
  }
}

/** The status of the problem a route answers for `err` (anything else is a bug in the simulation). */
function statusOf(m, err) {
  const problem = m.problemFor(err, "simulated request");
  if (typeof problem?.status !== "number") throw err;
  return problem.status;
}
