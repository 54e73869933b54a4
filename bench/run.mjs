/**
 * `npm run bench`: the Worker (bundled, under workerd through miniflare, request logs off)
 * against the fake BeatPass, next to baseline Workers in the same runtime, in interleaved
 * rounds with autocannon. Writes bench/RESULTS.md. Nothing here is a test: `npm test` never
 * depends on machine speed.
 *
 *   BENCH_SECONDS=2 BENCH_ROUNDS=6 npm run bench      (seconds per run, rounds per row)
 *   BENCH_ONLY=startup,deps,addresses,abuse,feeds,png npm run bench
 *       only those sections; RESULTS.md keeps every other section as the last run wrote it
 */
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { startFakeServer } from "../fake/server.mjs";
import { abuseBench } from "./abuse.mjs";
import { addressesBench } from "./addresses.mjs";
import { bundleBareHono, bundleDeps, firstResponse, importRatio } from "./cold.mjs";
import { cpuInIsolate } from "./inisolate.mjs";
import { bundle, interleaved, keeperDelayed, load, median, pinning, pinSelf, startWorker, zipf } from "./lib.mjs";
import { pngBench } from "./png.mjs";
import { writeResults, writeSections } from "./report.mjs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const PORTS = {
  fake: 18990,
  target: 18991,
  baseline: 18992,
  reference: 18993,
  isolate: 18994,
  png: 18995,
  addresses: [18996, 18997, 18998, 18999],
  abuse: 19000,
};
const log = (...a) => process.stderr.write(`${a.join(" ")}\n`);

/** BENCH_ONLY: the sections to run (the new rows' names), or every section when unset. */
const SECTIONS = ["startup", "deps", "addresses", "abuse", "feeds", "png"];
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",").map((x) => x.trim())) : undefined;
for (const name of ONLY ?? []) {
  if (!SECTIONS.includes(name)) throw new Error(`BENCH_ONLY: no section "${name}" (sections: ${SECTIONS.join(", ")})`);
}
const want = (name) => !ONLY || ONLY.has(name);

log("bundling...");
// What wrangler.toml deploys (scripts/build-worker.mjs, run by wrangler).
const shipped = bundle("bench/.build/shipped");
const bareHono = want("startup") ? bundleBareHono("bench/.build/bare-hono") : undefined;
const sizes = want("startup")
  ? [
      { name: "beatpass-edge, every module (minified)", ...shipped },
      { name: "bare Hono Worker (same hono, same settings)", ...bareHono },
    ]
  : undefined;
let moduleImport;
if (want("startup")) {
  log("measuring module import in fresh processes...");
  moduleImport = importRatio(shipped.file, bareHono.file);
}
const deps = want("deps") ? await bundleDeps("bench/.build/meta") : undefined;

const fake = await startFakeServer({
  port: PORTS.fake,
  token: "bench-token",
  rateLimitPerMinute: 1e12,
  synthesizeTracks: true,
});
// REQUEST_LOG=off: the benchmark measures serving, not log shipping (one row measures the log).
const baseBindings = {
  BEATPASS_TOKEN: "bench-token",
  BEATPASS_API_BASE: fake.apiBase,
  IMAGE_HOSTS: `127.0.0.1:${PORTS.fake}`,
  REQUEST_LOG: "off",
  OPERATOR_KEY: "bench-operator-key",
  // The keeper grants every permit (its cost is measured, not its refusals): misses here run
  // far past BeatPass's 300 a minute, which the fake does not enforce.
  UPSTREAM_BUDGET_PER_MINUTE: "100000",
};
// The default configuration (the startup, addresses and abuse rows): the request log and the
// upstream budget as a deployment gets them.
const { REQUEST_LOG: _log, UPSTREAM_BUDGET_PER_MINUTE: _budget, ...defaultBindings } = baseBindings;

let startup;
if (want("startup")) {
  log("measuring start to first response (a new workerd per sample)...");
  startup = await firstResponse({ oursFile: shipped.file, bareFile: bareHono.file, bindings: defaultBindings });
}

if (!ONLY) log("measuring CPU per request (Node)...");
const cpuRun = ONLY ? undefined : spawnSync(process.execPath, ["bench/cpu.mjs", shipped.file], { encoding: "utf8" });
const cpu = cpuRun && JSON.parse(cpuRun.stderr.trim().split("\n").at(-1));

// From here on the load generator and the Workers get a core each (when the machine allows).
pinSelf();

const JSON_HEADERS = `{ headers: { "Content-Type": "application/json; charset=utf-8" } }`;
/** A Worker answering with a fixed body of the track response's size (the throughput rows' baseline). */
const fixedBody = (body) =>
  `export default { fetch() { return new Response(${JSON.stringify(body)}, ${JSON_HEADERS}); } };`;

async function withWorker(opts, fn) {
  const w = await startWorker(opts);
  try {
    return await fn(w);
  } finally {
    await w.mf.dispose();
  }
}
const withTarget = (bindings, fn) =>
  withWorker(
    { scriptPath: shipped.file, port: PORTS.target, keeper: true, bindings: { ...baseBindings, ...bindings } },
    fn,
  );

let addresses;
let abuse;
if (want("addresses") || want("abuse")) {
  const body = await withTarget({}, async (w) => (await fetch(`${w.url}/v1/tracks/1`)).text());
  if (want("addresses")) {
    log("scenario: cached JSON hit, a new client address each request");
    addresses = await addressesBench({
      file: shipped.file,
      bindings: defaultBindings,
      baselineScript: fixedBody(body),
      ports: PORTS.addresses,
      rounds: ROUNDS,
      seconds: SECONDS,
    });
  }
  if (want("abuse")) {
    log("scenario: one address asking for 200 PNG cards, JSON hits from others meanwhile");
    abuse = await abuseBench({ workerFile: shipped.file, bindings: defaultBindings, port: PORTS.abuse });
  }
}

const runInfo = {
  date: new Date().toISOString(),
  machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
  command: `${ONLY ? `BENCH_ONLY=${[...ONLY].join(",")} ` : ""}BENCH_SECONDS=${SECONDS} BENCH_ROUNDS=${ROUNDS} npm run bench`,
  pinning,
  rounds: ROUNDS,
  seconds: SECONDS,
};
// The track response body, to size the baselines exactly.
const sample = await withTarget({}, async (w) => (await fetch(`${w.url}/v1/tracks/1`)).text());
const BASELINES = {
  "fixed body": fixedBody(sample),
  "KV read": `export default { async fetch(req, env) { return new Response(await env.BEATPASS_CACHE.get("blob"), ${JSON_HEADERS}); } };`,
  // Reads the body back as text, as the Cache API tier does.
  "Cache API read": `const KEY = "https://baseline.internal/blob";
export default { async fetch(req, env) {
  let hit = await caches.default.match(KEY);
  if (!hit) {
    await caches.default.put(KEY, new Response(${JSON.stringify(sample)}, { headers: { "Cache-Control": "max-age=86400" } }));
    hit = await caches.default.match(KEY);
  }
  return new Response(await hit.text(), ${JSON_HEADERS});
} };`,
};

/**
 * A Worker that returns exactly the bytes a hit on `path` returned (body and headers, as
 * captured), doing nothing else: what the runtime charges for sending that answer. Our
 * ratio to it is the cost of our own code; its ratio to the baseline is the ceiling for ours.
 */
async function sameBytes(url) {
  // Identity, as autocannon asks: with gzip, miniflare's entry worker would compress the answer.
  const res = await fetch(url, { headers: { "Accept-Encoding": "identity" } });
  const body = await res.text();
  // Headers the runtime sets itself (or that would make it compress) are left to it.
  const own = ([name]) => !["content-length", "content-encoding", "transfer-encoding", "date"].includes(name);
  const headers = Object.fromEntries([...res.headers].filter(own));
  return {
    script: `export default { fetch() { return new Response(${JSON.stringify(body)}, { headers: ${JSON.stringify(headers)} }); } };`,
    headerCount: Object.keys(headers).length,
    bytes: Buffer.byteLength(body),
  };
}

const rows = [];
const opts = { seconds: SECONDS };
const warm = (url, path) => load(url, { path, seconds: 1, connections: 4 });

/**
 * One row: beatpass-edge, its baseline and (for fixed-body rows) the same-bytes reference,
 * all running, measured through miniflare's entry worker (as `wrangler dev` serves it) and
 * straight from workerd's socket.
 */
async function scenario(name, { path = "/v1/tracks/1", bindings = {}, baselineKind = "fixed body" } = {}) {
  log(`scenario: ${name}`);
  await withTarget(bindings, (t) =>
    withWorker({ script: BASELINES[baselineKind], port: PORTS.baseline }, async (b) => {
      if (baselineKind === "KV read") await (await b.mf.getKVNamespace("BEATPASS_CACHE")).put("blob", sample);
      await warm(t.url, path);
      const ref = baselineKind === "fixed body" ? await sameBytes(`${t.url}${path}`) : undefined;
      const measure = async (r) => {
        const row = { name, baselineKind, reference: ref && { headerCount: ref.headerCount, bytes: ref.bytes } };
        for (const [mode, key] of [
          ["entry", "url"],
          ["direct", "directUrl"],
        ]) {
          const sides = [
            { url: t[key], path, pids: t.pids },
            { url: b[key], path: "/", pids: b.pids },
            ...(r ? [{ url: r[key], path: "/", pids: r.pids }] : []),
          ];
          for (const side of sides) await warm(side.url, side.path);
          const m = await interleaved(sides, ROUNDS, opts);
          row[mode] = {
            target: m.sides[0],
            baseline: m.sides[1],
            reference: m.sides[2],
            vsBaseline: m.versus(0, 1),
            vsReference: r && m.versus(0, 2),
            referenceVsBaseline: r && m.versus(2, 1),
          };
        }
        rows.push(row);
      };
      if (ref) await withWorker({ script: ref.script, port: PORTS.reference }, measure);
      else await measure(undefined);
    }),
  );
}

// A feed reader's poll: artist 3's Atom feed, its lists cached and the feed built once.
let feeds;
if (want("feeds")) {
  const path = "/feeds/artist/3.atom";
  await scenario("Atom feed hit (artist, 3 cached lists)", { path });
  feeds = { ...rows.pop(), path };
}

// PNG cards: the Worker and the rasteriser in one workerd, a new accent each request.
let png;
if (want("png")) {
  log("measuring PNG cards...");
  png = await pngBench({ workerFile: shipped.file, port: PORTS.png, bindings: baseBindings });
}

const newRows = { sizes, shipped, moduleImport, startup, deps, addresses, abuse, feeds, png };

if (ONLY) {
  await fake.close();
  process.stdout.write(writeSections({ ...runInfo, ...newRows, only: [...ONLY] }));
  log(JSON.stringify(newRows));
  log("wrote the sections run to bench/RESULTS.md");
  process.exit(0);
}

await scenario("JSON track, memory tier hit");
// What a deployment gets out of the box: misses logged, and 1% of hits (REQUEST_LOG_SAMPLE).
await scenario("JSON track, memory tier hit, default logging", { bindings: { REQUEST_LOG: "misses" } });
await scenario("JSON track, memory tier hit, REQUEST_LOG=all", { bindings: { REQUEST_LOG: "all" } });
const cacheApiOnly = { bindings: { CACHE_FAST_TIERS: "cache_api" } };
await scenario("JSON track, Cache API hit (memory off)", cacheApiOnly);
await scenario("JSON track, Cache API hit (memory off), against a Cache API read", {
  ...cacheApiOnly,
  baselineKind: "Cache API read",
});
await scenario("JSON track, KV-only hit", { bindings: { CACHE_FAST_TIERS: "none" }, baselineKind: "KV read" });
await scenario("widget HTML hit", { path: "/widget/track/1" });
await scenario("widget SVG hit", { path: "/widget/track/1.svg" });

log("measuring CPU per request (in workerd)...");
const isolateCpu = {
  target: await cpuInIsolate({
    file: shipped.file,
    port: PORTS.isolate,
    bindings: baseBindings,
    keeper: true,
    paths: ["/v1/tracks/1", "/widget/track/1", "/widget/track/1.svg"],
  }),
  baseline: (await cpuInIsolate({ script: BASELINES["fixed body"], port: PORTS.isolate, paths: ["/"] }))["/"],
};

// A miss every time: unique list queries, BeatPass answering after 100 ms.
log("scenario: miss with a 100 ms upstream");
let q = 0;
const miss = await withTarget({}, async (t) => {
  fake.fake.addFault({ kind: "delay", ms: 100, path: "/tracks" });
  const r = await load(t.url, { seconds: 5, connections: 10, pick: () => `/v1/tracks?query=bench${q++}` });
  // Where a miss's time goes, from its Server-Timing: tier lookups, BeatPass, total.
  const phases = { cache: [], coord: [], budget: [], upstream: [], total: [] };
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${t.url}/v1/tracks?query=phases${i}`);
    await res.arrayBuffer();
    for (const m of (res.headers.get("Server-Timing") ?? "").matchAll(/(\w+);dur=(\d+)/g))
      phases[m[1]]?.push(Number(m[2]));
  }
  fake.fake.faults.length = 0;
  return { ...r, phases: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, median(v)])) };
});

// A cold miss on a warm isolate, the keeper 0 ms and 150 ms away (a Durable Object in another
// data centre): a miss spends its isolate's lease, so the keeper's distance should not show.
log("scenario: cold misses, keeper near and far");
const keeperDistance = {};
for (const ms of [0, 150]) {
  fake.fake.addFault({ kind: "delay", ms: 100, path: "/tracks" });
  keeperDistance[ms] = await withWorker(
    {
      modules: keeperDelayed(shipped.file, ms),
      port: PORTS.target,
      keeper: true,
      bindings: baseBindings,
    },
    async (t) => {
      // The isolate's first miss asks for its lease; what is measured is the misses after it.
      await (await fetch(`${t.url}/v1/tracks?query=warm-${ms}`)).arrayBuffer();
      const times = [];
      for (let i = 0; i < 40; i++) {
        const t0 = performance.now();
        const res = await fetch(`${t.url}/v1/tracks?query=far${ms}-${i}`);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`cold miss ${res.status}`);
        times.push(performance.now() - t0);
      }
      return { p50: median(times) };
    },
  );
  fake.fake.faults.length = 0;
}

// Zipf traffic over 500 tracks with a 2 s soft TTL: how often BeatPass and KV are touched.
log("scenario: Zipf mix");
const ZIPF_SECONDS = 15;
const SOFT = 2;
fake.fake.requests.length = 0;
const nextId = zipf(500, 1.1);
const zipfResult = await withTarget(
  { CACHE_POLICY: JSON.stringify({ entity: { soft: SOFT, hard: SOFT * 5, staleIfError: 3600 } }) },
  async (t) => {
    const r = await load(t.url, { seconds: ZIPF_SECONDS, connections: 10, pick: () => `/v1/tracks/${nextId()}` });
    // Let loads still in flight when the load generator stopped finish their KV writes.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const health = await (
      await fetch(`${t.url}/healthz`, { headers: { "X-Operator-Key": "bench-operator-key" } })
    ).json();
    const kv = await t.mf.getKVNamespace("BEATPASS_CACHE");
    const stored = (await kv.list()).keys.filter((k) => !k.name.startsWith("v1:meta:"));
    return {
      ...r,
      keeperCalls: health.cache.keeper_calls,
      coordinatorCalls: health.cache.coordinator_calls,
      kvWrites: health.cache.kv_writes,
      kvWriteFailures: health.cache.kv_write_failures,
      skipped: health.cache.kv_writes_skipped_unchanged,
      storedKeys: stored.length,
    };
  },
);
const upstream = fake.fake.requests.filter((r) => /\/api\/v1\/tracks\/\d+$/.test(r.path));
const perKey = new Map();
for (const r of upstream) perKey.set(r.path, (perKey.get(r.path) ?? 0) + 1);
const windows = Math.ceil(ZIPF_SECONDS / SOFT) + 1;
const zipfRow = {
  requests: zipfResult.total,
  seconds: ZIPF_SECONDS,
  soft: SOFT,
  keysSeen: zipfResult.storedKeys,
  upstream: upstream.length,
  upstreamPer1000: (upstream.length / zipfResult.total) * 1000,
  maxPerKey: Math.max(...perKey.values()),
  allowedPerKey: windows,
  keeperCalls: zipfResult.keeperCalls,
  keeperCallsPer1000: (zipfResult.keeperCalls / zipfResult.total) * 1000,
  coordinatorCallsPer1000: (zipfResult.coordinatorCalls / zipfResult.total) * 1000,
  kvWrites: zipfResult.kvWrites,
  kvWriteFailures: zipfResult.kvWriteFailures,
  kvWritesPer1000: (zipfResult.kvWrites / zipfResult.total) * 1000,
  non2xx: zipfResult.non2xx,
};

await fake.close();

const report = writeResults({
  ...runInfo,
  ...newRows,
  isolateCpu,
  sampleBytes: Buffer.byteLength(sample),
  rows,
  miss,
  keeperDistance,
  zipf: zipfRow,
  cpu,
});
log(JSON.stringify({ rows }));
process.stdout.write(report);
log("wrote bench/RESULTS.md");
