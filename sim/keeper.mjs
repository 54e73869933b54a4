import { DatabaseSync } from "node:sqlite";

/**
 * The budget keeper Durable Object (src/budget/keeper.ts, the real class) hosted in the
 * simulation: SQLite storage from node:sqlite, its synchronous KV API from a Map, and a
 * namespace binding for each data centre that models what the network and the object add:
 *
 * - a round trip by distance (half each way), `keeperRttMs` per data centre;
 * - one thread: calls are served one after another, `keeperServiceMs` each, so a burst of
 *   asks queues up at the object as it would in production;
 * - RPC semantics would copy arguments and results; the code on both sides never changes
 *   what it sends or receives, so references are passed (copying was a tenth of the run).
 *
 * Every call is counted: each RPC method call on a stub is a billed Durable Object request.
 */
export class SimKeeper {
  requests = 0;
  #busyUntil = 0;

  /** `mod`: a module instance of the bundle (the keeper's own isolate); `env`: its bindings. */
  constructor(queue, p, mod, env) {
    this.queue = queue;
    this.p = p;
    const db = new DatabaseSync(":memory:");
    const kv = new Map();
    const storage = {
      sql: { exec: (query, ...params) => sqlCursor(db, query, params) },
      kv: {
        get: (key) => (kv.has(key) ? structuredClone(kv.get(key)) : undefined),
        put: (key, value) => void kv.set(key, structuredClone(value)),
      },
    };
    this.object = new mod.UpstreamBudget({ storage }, env);
  }

  /** The UPSTREAM_BUDGET binding for an isolate `rttMs` away; `deliver` as in SimKv.binding. */
  binding(rttMs, deliver) {
    const call = (method, args) => {
      this.requests++;
      return new Promise((resolve, reject) => {
        const arrive = this.queue.now + rttMs / 2;
        const start = Math.max(arrive, this.#busyUntil);
        this.#busyUntil = start + this.p.keeperServiceMs;
        this.queue.at(start, async () => {
          let outcome;
          try {
            outcome = { ok: await this.object[method](...args) };
          } catch (err) {
            outcome = { err };
          }
          deliver(rttMs / 2, () => {
            if ("err" in outcome) reject(outcome.err);
            else resolve(outcome.ok);
          }).catch(() => undefined);
        });
      });
    };
    const stub = {};
    for (const method of ["acquire", "complete", "awaitLoad", "pause", "recordPurge", "purgesSince", "status"]) {
      stub[method] = (...args) => call(method, args);
    }
    return { idFromName: (name) => name, get: () => stub };
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
