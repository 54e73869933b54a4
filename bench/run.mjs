/**
 * `npm run bench`: the Worker (bundled, under workerd through miniflare, request logs off)
 * against the fake BeatPass, next to baseline Workers in the same runtime, alternating A/B
 * runs with autocannon. Writes bench/RESULTS.md. Nothing here is a test: `npm test` never
 * depends on machine speed.
 *
 *   BENCH_SECONDS=5 BENCH_ROUNDS=2 npm run bench
 */
import { spawnSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { startFakeServer } from "../fake/server.mjs";
import { ab, bundle, load, startWorker, zipf } from "./lib.mjs";
import { writeResults } from "./report.mjs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PORTS = { fake: 18990, target: 18991, baseline: 18992 };
const log = (...a) => process.stderr.write(`${a.join(" ")}\n`);

log("bundling...");
const plain = bundle("bench/.build/plain", ["--no-minify"]);
const minified = bundle("bench/.build/minified", ["--minify"]);
const shipped = bundle("bench/.build/shipped"); // what wrangler.toml deploys
const startup = (file) => {
  const runs = Array.from(
    { length: 7 },
    () => JSON.parse(spawnSync(process.execPath, ["bench/startup.mjs", file], { encoding: "utf8" }).stdout).startupMs,
  ).sort((a, b) => a - b);
  return runs[3];
};
const sizes = [
  { name: "unminified", ...plain, startupMs: startup(plain.file) },
  { name: "minified", ...minified, startupMs: startup(minified.file) },
];

log("measuring CPU per request...");
const cpuRun = spawnSync(process.execPath, ["bench/cpu.mjs", shipped.file], { encoding: "utf8" });
const cpu = JSON.parse(cpuRun.stderr.trim().split("\n").at(-1));

const fake = await startFakeServer({
  port: PORTS.fake,
  token: "bench-token",
  rateLimitPerMinute: 1e12,
  synthesizeTracks: true,
});
const baseBindings = {
  BEATPASS_TOKEN: "bench-token",
  BEATPASS_API_BASE: fake.apiBase,
  IMAGE_HOSTS: `127.0.0.1:${PORTS.fake}`,
};

async function withTarget(bindings, fn) {
  const w = await startWorker({
    scriptPath: shipped.file,
    port: PORTS.target,
    bindings: { ...baseBindings, ...bindings },
  });
  try {
    return await fn(w);
  } finally {
    await w.mf.dispose();
  }
}
async function withBaseline(script, fn, seed) {
  const w = await startWorker({ script, port: PORTS.baseline, kv: true });
  try {
    if (seed) await seed(w);
    return await fn(w);
  } finally {
    await w.mf.dispose();
  }
}

const rows = [];
const startupRows = [];
const opts = { seconds: SECONDS };
const warm = (url, path) => load(url, { path, seconds: 1, connections: 4 });

// The track response body, to size the baselines exactly.
const sample = await withTarget({}, async (w) => {
  const body = await (await fetch(`${w.url}/v1/tracks/1`)).text();
  startupRows.push({ name: "beatpass-edge (miniflare start to ready)", ms: w.readyMs });
  return body;
});
const FIXED = `export default { fetch() { return new Response(${JSON.stringify(sample)}, { headers: { "Content-Type": "application/json; charset=utf-8" } }); } };`;
const FROM_KV = `export default { async fetch(req, env) { return new Response(await env.BEATPASS_CACHE.get("blob"), { headers: { "Content-Type": "application/json; charset=utf-8" } }); } };`;

async function scenario(name, bindings, path, baselineScript = FIXED, seedKv = false, pick) {
  log(`scenario: ${name}`);
  return withTarget(bindings, (t) =>
    withBaseline(
      baselineScript,
      async (b) => {
        await warm(t.url, path);
        await warm(b.url, "/");
        const r = await ab({ url: t.url, path, pick }, { url: b.url, path: "/" }, ROUNDS, opts);
        rows.push({ name, target: r.a, baseline: r.b, baselineKind: seedKv ? "KV read" : "fixed body" });
        if (!startupRows.some((s) => s.name.startsWith("baseline")))
          startupRows.push({ name: "baseline Worker (miniflare start to ready)", ms: b.readyMs });
      },
      seedKv ? async (b) => (await b.mf.getKVNamespace("BEATPASS_CACHE")).put("blob", sample) : undefined,
    ),
  );
}

await scenario("JSON track, memory tier hit", {}, "/v1/tracks/1");
await scenario("JSON track, Cache API hit (memory off)", { CACHE_FAST_TIERS: "cache_api" }, "/v1/tracks/1");
await scenario("JSON track, KV-only hit", { CACHE_FAST_TIERS: "none" }, "/v1/tracks/1", FROM_KV, true);
await scenario("widget HTML hit", {}, "/widget/track/1");
await scenario("widget SVG hit", {}, "/widget/track/1.svg");

// A miss every time: unique list queries, BeatPass answering after 100 ms.
log("scenario: miss with a 100 ms upstream");
let q = 0;
const miss = await withTarget({}, async (t) => {
  fake.fake.addFault({ kind: "delay", ms: 100, path: "/tracks" });
  const r = await load(t.url, { seconds: SECONDS, connections: 10, pick: () => `/v1/tracks?query=bench${q++}` });
  fake.fake.faults.length = 0;
  return r;
});

// Zipf traffic over 500 tracks with a 2 s soft TTL: how often BeatPass and KV are touched.
log("scenario: Zipf mix");
const ZIPF_SECONDS = Math.max(10, SECONDS * 3);
const SOFT = 2;
fake.fake.requests.length = 0;
const nextId = zipf(500, 1.1);
const zipfResult = await withTarget(
  { CACHE_POLICY: JSON.stringify({ entity: { soft: SOFT, hard: SOFT * 5, staleIfError: 3600 } }) },
  async (t) => {
    const r = await load(t.url, { seconds: ZIPF_SECONDS, connections: 10, pick: () => `/v1/tracks/${nextId()}` });
    // Let loads still in flight when the load generator stopped finish their KV writes.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const health = await (await fetch(`${t.url}/healthz`)).json();
    const kv = await t.mf.getKVNamespace("BEATPASS_CACHE");
    const stored = (await kv.list()).keys.filter((k) => !k.name.startsWith("v1:meta:"));
    return {
      ...r,
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
  kvWrites: zipfResult.kvWrites,
  kvWriteFailures: zipfResult.kvWriteFailures,
  kvWritesPer1000: (zipfResult.kvWrites / zipfResult.total) * 1000,
  non2xx: zipfResult.non2xx,
};

await fake.close();

writeResults({
  date: new Date().toISOString(),
  machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
  command: `BENCH_SECONDS=${SECONDS} BENCH_ROUNDS=${ROUNDS} npm run bench`,
  rows,
  miss,
  zipf: zipfRow,
  cpu,
  sizes,
  shipped,
  startupRows,
});
log("wrote bench/RESULTS.md");
