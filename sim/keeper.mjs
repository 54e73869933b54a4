import { DatabaseSync } from "node:sqlite";

/**
 * Durable Objects hosted in the simulation: the budget keeper (src/budget/keeper.ts) and the
 * coordinators (src/budget/coordinator.ts), the real classes, with SQLite storage from
 * node:sqlite and their synchronous KV API from a Map. A namespace binding per data centre
 * models what the network and the object add:
 *
 * - a round trip by distance (half each way), `rttMs(dc, name)`;
 * - one thread per object: calls are served one after another, `serviceMs` each, so a burst
 *   queues up at the object as it would in production (Cloudflare quotes about 1,000 simple
 *   requests a second for one object);
 * - RPC semantics would copy arguments and results; the code on both sides never changes
 *   what it sends or receives, so references are passed.
 *
 * - an outage (`outage(from, to)`): every call that reaches an object meanwhile fails, every
 *   other one (alternately) after a round trip, the rest never answer (the caller's timeout
 *   decides), as an overloaded or restarting object does.
 *
 * Every call is counted: each RPC method call on a stub is a billed Durable Object request,
 * and per object per second (the busiest second against the object's capacity).
 */
/** The first minute of a run is the fleet's cold start (every isolate new): figures "later" leave it out. */
export const WARM_S = 60;

export class SimObjects {
  requests = 0;
  /** Calls that arrived during an outage: answered with an error, or never. */
  failed = 0;
  hung = 0;
  /** Time 0 of the run (ms): per-second counts start there. */
  origin = 0;
  /** Calls reaching any of these objects, per second of the run. */
  perSecond = [];
  /** The longest a call waited in an object's queue (ms). */
  maxQueueMs = 0;
  #objects = new Map();
  #outages = [];

  /**
   * `mod`: a module instance of the bundle (the objects' own isolate); `className`: the class
   * it exports; `env`: their bindings; `rttMs(from, name)`: round trip from a data centre.
   */
  constructor(queue, p, mod, className, env, rttMs) {
    this.queue = queue;
    this.p = p;
    this.mod = mod;
    this.className = className;
    this.env = env;
    this.rttMs = rttMs;
  }

  #object(name) {
    let o = this.#objects.get(name);
    if (!o) {
      const db = new DatabaseSync(":memory:");
      const kv = new Map();
      const storage = {
        sql: { exec: (query, ...params) => sqlCursor(db, query, params) },
        kv: {
          get: (key) => (kv.has(key) ? structuredClone(kv.get(key)) : undefined),
          put: (key, value) => void kv.set(key, structuredClone(value)),
        },
      };
      o = {
        instance: new this.mod[this.className]({ storage }, this.env),
        busyUntil: 0,
        calls: 0,
        second: 0,
        inSecond: 0,
        busiestSecond: 0,
        busiestLater: 0,
      };
      this.#objects.set(name, o);
    }
    return o;
  }

  /** Every call reaching an object from `from` to `to` (ms) fails or hangs. */
  outage(from, to) {
    this.#outages.push({ from, to });
  }

  /** Zeroes the counts (after the preload). */
  resetCounts() {
    this.requests = this.failed = this.hung = this.maxQueueMs = 0;
    this.perSecond = [];
    for (const o of this.#objects.values()) o.calls = o.second = o.inSecond = o.busiestSecond = o.busiestLater = 0;
  }

  /** Calls per object and each one's busiest second, busiest first (no object past its capacity). */
  busiest(prefix = "") {
    return [...this.#objects]
      .filter(([name]) => name.startsWith(prefix))
      .map(([name, o]) => ({
        name,
        calls: o.calls,
        busiestSecond: Math.max(o.busiestSecond, o.inSecond),
        busiestLaterSecond: Math.max(o.busiestLater, o.second >= WARM_S ? o.inSecond : 0),
      }))
      .sort((a, b) => b.busiestSecond - a.busiestSecond || b.calls - a.calls);
  }

  /** Objects whose name starts with `prefix`. */
  count(prefix = "") {
    return [...this.#objects.keys()].filter((name) => name.startsWith(prefix)).length;
  }

  #count(o, at) {
    const second = Math.floor((at - this.origin) / 1000);
    if (second >= 0) this.perSecond[second] = (this.perSecond[second] ?? 0) + 1;
    if (second !== o.second) {
      o.busiestSecond = Math.max(o.busiestSecond, o.inSecond);
      if (o.second >= WARM_S) o.busiestLater = Math.max(o.busiestLater, o.inSecond);
      o.second = second;
      o.inSecond = 0;
    }
    o.inSecond++;
  }

  /** The binding for isolates of data centre `from`; `deliver` as in SimKv.binding. */
  binding(from, deliver) {
    const call = (name, method, args) => {
      this.requests++;
      const o = this.#object(name);
      o.calls++;
      const rtt = this.rttMs(from, name);
      return new Promise((resolve, reject) => {
        const arrive = this.queue.now + rtt / 2;
        if (this.#outages.some((w) => arrive >= w.from && arrive < w.to)) {
          if ((this.failed + this.hung) % 2 === 0) {
            this.failed++;
            deliver(rtt, () => {
              throw new Error(`${this.className} ${name} is unavailable (simulated outage)`);
            }).catch(reject);
          } else this.hung++;
          return;
        }
        const start = Math.max(arrive, o.busyUntil);
        this.maxQueueMs = Math.max(this.maxQueueMs, start - arrive);
        o.busyUntil = start + this.p.objectServiceMs;
        this.queue.at(start, async () => {
          this.#count(o, start);
          let outcome;
          try {
            outcome = { ok: await o.instance[method](...args) };
          } catch (err) {
            outcome = { err };
          }
          deliver(rtt / 2, () => {
            if ("err" in outcome) reject(outcome.err);
            else resolve(outcome.ok);
          }).catch(() => undefined);
        });
      });
    };
    const stubs = new Map();
    const stub = (name) => {
      let s = stubs.get(name);
      if (!s) {
        s = new Proxy(
          {},
          { get: (_, method) => (method === "then" ? undefined : (...args) => call(name, method, args)) },
        );
        stubs.set(name, s);
      }
      return s;
    };
    return { idFromName: (name) => name, get: (name) => stub(name) };
  }
}

/** `ctx.storage.sql.exec` over node:sqlite: a cursor with one() and iteration. */
function sqlCursor(db, query, params) {
  const stmt = db.prepare(query);
  const reads = /^\s*select/i.test(query);
  const rows = reads ? stmt.all(...params) : [];
  if (!reads) stmt.run(...params);
  return {
    one: () => {
      if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
      return rows[0];
    },
    toArray: () => rows,
    [Symbol.iterator]: () => rows[Symbol.iterator](),
  };
}
