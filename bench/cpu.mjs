/**
 * CPU per request, measured in Node on the same bundle and the same V8 as workerd: workerd
 * freezes its timers during execution (a Spectre mitigation), so a Worker cannot time its
 * own CPU. Everything around the handler is an in-memory stand-in that resolves at once
 * (KV, the Cache API, BeatPass via a fetch stub serving pre-serialised bodies), so the time
 * measured is the handler's own work. Prints one JSON object.
 *
 *   node bench/cpu.mjs <bundle.js>   -> per-request timings (bench/startup.mjs times the import)
 */
import { pathToFileURL } from "node:url";
import "./workers-runtime-stub.mjs";
import { createFakeBeatpass } from "../fake/beatpass.mjs";
import { percentile } from "./lib.mjs";

const [file] = process.argv.slice(2);

class MemoryKv {
  map = new Map();
  async get(key, type) {
    const e = this.map.get(key);
    if (!e) return null;
    return type === "json" ? JSON.parse(e.value) : e.value;
  }
  async getWithMetadata(key) {
    const e = this.map.get(key);
    return { value: e?.value ?? null, metadata: e?.metadata ?? null };
  }
  async put(key, value, opts = {}) {
    this.map.set(key, { value, metadata: opts.metadata ?? null });
  }
  async delete(key) {
    this.map.delete(key);
  }
  async list() {
    return { keys: [...this.map.keys()].map((name) => ({ name })), list_complete: true };
  }
}
globalThis.caches = {
  default: { match: async () => undefined, put: async () => undefined, delete: async () => false },
};

// BeatPass stand-in: real fake payloads, serialised once per path and replayed.
const fake = createFakeBeatpass({ token: "bench-token", rateLimitPerMinute: 1e12, synthesizeTracks: true });
const bodies = new Map();
globalThis.fetch = async (input) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const template = url.pathname.replace(/\/tracks\/\d+$/, "/tracks/ID");
  let body = bodies.get(template);
  if (!body) {
    const res = await fake.fetch(
      new Request(url.href.replace(/\/tracks\/\d+$/, "/tracks/7"), {
        headers: { Authorization: "Bearer bench-token" },
      }),
    );
    body = await res.text();
    bodies.set(template, body);
  }
  const id = /\/tracks\/(\d+)$/.exec(url.pathname)?.[1];
  return new Response(id ? body.replace('"id":7,', `"id":${id},`) : body, {
    headers: { "Content-Type": "application/json" },
  });
};
// Quiet: the per-request log line would otherwise dominate the measurement with I/O.
const realError = console.error;
console.log = () => undefined;
console.warn = (...a) => realError(...a);

const worker = (await import(pathToFileURL(file).href)).default;
// The budget keeper, granting a lease no miss here will spend (workerd runs the real one in
// run.mjs), and a coordinator that lets every load go.
const big = { viewer: 1e9, refresh: 1e9, scheduled: 1e9 };
const keeper = {
  lease: async () => ({
    chain: "bench",
    granted: big,
    expires: Date.now() + 3.6e6,
    retryAt: 0,
    pausedUntil: 0,
    newcomerRoom: 1e9,
    used: 0,
    capped: {},
    purgedAt: 0,
  }),
  pause: async () => undefined,
  recordPurge: async () => Date.now(),
  purgesSince: async () => ({}),
  foldHot: async () => undefined,
  hotKeys: async () => [],
};
const coordinator = {
  begin: async () => ({ kind: "go" }),
  complete: async () => undefined,
  awaitLoad: async () => ({ kind: "expired" }),
  pause: async () => undefined,
};
const env = {
  BEATPASS_CACHE: new MemoryKv(),
  UPSTREAM_BUDGET: { idFromName: () => ({}), get: () => keeper },
  COORDINATORS: { idFromName: () => ({}), get: () => coordinator },
  BEATPASS_TOKEN: "bench-token",
  BEATPASS_API_BASE: "https://fake.bench/api/v1",
  // Thousands of misses from one client in seconds: a budget this size never comes under
  // pressure, so fair shares (measured elsewhere) stay out of a CPU measurement.
  UPSTREAM_BUDGET_PER_MINUTE: "100000",
};

async function once(path) {
  const waits = [];
  const ctx = { waitUntil: (p) => waits.push(p), passThroughOnException: () => undefined };
  const t0 = performance.now();
  const res = await worker.fetch(new Request(`https://edge.bench${path}`), env, ctx);
  const body = await res.text();
  await Promise.all(waits);
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${path} -> ${res.status} ${body}`);
  return ms;
}

async function measure(name, pathFor, n = 10000, warm = 2000) {
  for (let i = 0; i < warm; i++) await once(pathFor(i, true));
  const times = [];
  for (let i = 0; i < n; i++) times.push(await once(pathFor(i, false)));
  times.sort((a, b) => a - b);
  return { name, n, p50: percentile(times, 50), p99: percentile(times, 99) };
}

let missId = 1000;
const results = [
  await measure("hit (memory tier)", () => "/v1/tracks/1"),
  await measure("miss (upstream, parse, project, store)", () => `/v1/tracks/${missId++}`),
  await measure("widget HTML hit", () => "/widget/track/1"),
  await measure("widget SVG hit", () => "/widget/track/1.svg"),
];
console.error(JSON.stringify(results));
process.exit(0);
