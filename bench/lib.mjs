import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import autocannon from "autocannon";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { COMPAT_DATE, COMPAT_FLAGS, storage } from "../scripts/wrangler-toml.mjs";
import { zipf as zipfRank } from "../sim/random.mjs";

/** Helpers for bench/run.mjs: bundling, workers under miniflare, load runs. */

export const QUIET = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};
// Every Worker in the benchmark runs under the deployed Worker's date and flags. (Imported,
// then exported: a bare re-export would leave startWorker below without the names.)
export { COMPAT_DATE, COMPAT_FLAGS };

/**
 * Bundles the Worker with wrangler (as `deploy` would) and returns its sizes: the entry module
 * (what a new isolate parses at load) and all modules (scripts/build-worker.mjs splits the
 * rest at each dynamic import, parsed when a route first needs it).
 * `name`: the entry file's name.
 */
export function bundle(outdir, extra = [], name = "index.js") {
  // wrangler leaves older files in --outdir: a split build's chunks are named by their hash.
  rmSync(outdir, { recursive: true, force: true });
  const res = spawnSync(
    process.execPath,
    ["node_modules/wrangler/bin/wrangler.js", "deploy", "--dry-run", "--outdir", outdir, ...extra],
    {
      env: { ...process.env, ...QUIET },
      encoding: "utf8",
    },
  );
  if (res.status !== 0) throw new Error(`bundle failed:\n${res.stderr}`);
  const file = `${outdir}/${name}`;
  const codes = bundleModules(file).map((m) => readFileSync(m.path));
  const all = Buffer.concat(codes);
  return {
    file,
    entryKiB: codes[0].length / 1024,
    rawKiB: all.length / 1024,
    gzipKiB: codes.reduce((n, c) => n + gzipSync(c, { level: 9 }).length, 0) / 1024,
  };
}

/**
 * Every module of a bundle, the entry first, as miniflare's `modules` option takes them (with
 * `modulesRoot` the bundle's folder, so `./chunks/...` imports resolve as they do deployed).
 */
export function bundleModules(entryFile) {
  const dir = dirname(entryFile);
  const rest = readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".js") && join(dir, f) !== join(entryFile))
    .sort();
  return [entryFile, ...rest.map((f) => join(dir, f))].map((path) => ({
    type: /** @type {const} */ ("ESModule"),
    path,
  }));
}

/** Miniflare worker options that load a bundle from its entry file (every module it has). */
export function bundleWorker(entryFile) {
  return { modules: bundleModules(entryFile), modulesRoot: dirname(entryFile) };
}

/** workerd processes this process started that earlier calls have not returned yet. */
const seenPids = new Set();
export function workerdPids() {
  return newWorkerdPids();
}
function newWorkerdPids() {
  const res = spawnSync("pgrep", ["-P", String(process.pid), "workerd"], { encoding: "utf8" });
  const pids = (res.stdout ?? "").split("\n").filter((p) => p && !seenPids.has(p));
  for (const p of pids) seenPids.add(p);
  return pids;
}

const CLOCK_TICK_US = 1e6 / Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout || 100);

/** CPU time (user + system, µs) the processes have used so far, from /proc. */
export function cpuMicros(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process has exited; it uses no more CPU.
    }
  }
  return ticks * CLOCK_TICK_US;
}

/**
 * On a machine with 2+ cores and taskset, this process (load generator, fake BeatPass,
 * miniflare's Node side) runs on core 0 and every workerd on core 1, so the Worker under
 * test never competes with the load it is served. BENCH_PIN=0 turns it off.
 */
export const pinning = process.env.BENCH_PIN !== "0" && cpus().length >= 2 && spawnSync("taskset", ["-V"]).status === 0;

/** Moves this process to core 0 (call after the steps that spawn their own processes). */
export function pinSelf() {
  if (pinning) spawnSync("taskset", ["-a", "-p", "-c", "0", String(process.pid)]);
}

/**
 * Starts a worker under miniflare. It answers on `port`
 * through miniflare's entry worker (as `wrangler dev` serves it) and on `port + 100`
 * straight from workerd's socket (`unsafeDirectSockets`: no dev proxy in front).
 */
/**
 * The shipped bundle behind a door that delays every call to the budget keeper by `ms` (half
 * each way), as a keeper in another data centre would; the coordinators stay near.
 */
export function keeperDelayed(bundleFile, ms) {
  const dir = bundleFile.slice(0, bundleFile.lastIndexOf("/") + 1);
  return [
    {
      type: "ESModule",
      path: `${dir}delayed-keeper.mjs`,
      contents: `import worker, { KeyCoordinator, UpstreamBudget } from "./index.js";
export { KeyCoordinator, UpstreamBudget };
const sleep = () => new Promise((r) => setTimeout(r, ${ms / 2}));
function far(ns) {
  return {
    idFromName: (name) => ns.idFromName(name),
    get: (id) => {
      const stub = ns.get(id);
      return new Proxy({}, { get: (_, m) => (m === "then" ? undefined : async (...args) => {
        await sleep();
        const out = await stub[m](...args);
        await sleep();
        return out;
      }) });
    },
  };
}
export default {
  fetch: (req, env, ctx) => worker.fetch(req, { ...env, UPSTREAM_BUDGET: far(env.UPSTREAM_BUDGET) }, ctx),
};
`,
    },
    ...bundleModules(bundleFile),
  ];
}

export async function startWorker({
  scriptPath,
  script,
  modules,
  port,
  bindings = {},
  kv = true,
  keeper = false,
  ratelimits = {},
}) {
  // miniflare 5 takes the options in a new shape; the v4 shape converts one to one.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      // `modules`: several ES modules (path + contents); otherwise one module, from a file or inline.
      ...(modules
        ? { modules, modulesRoot: dirname(modules[0].path) }
        : scriptPath
          ? bundleWorker(scriptPath)
          : { script, modules: true }),
      compatibilityDate: COMPAT_DATE,
      compatibilityFlags: COMPAT_FLAGS,
      kvNamespaces: kv ? ["BEATPASS_CACHE"] : [],
      // The Worker's budget keeper and coordinators, as wrangler.toml declares them (SQLite-backed Durable Objects).
      durableObjects: keeper ? storage().durableObjects : {},
      // Workers Rate Limiting (miniflare's local implementation), e.g. wrangler.toml's.
      ratelimits,
      bindings,
      cf: false,
      host: "127.0.0.1",
      port,
      unsafeDirectSockets: [{ host: "127.0.0.1", port: port + 100 }],
      // Worker console output is not part of what is measured.
      handleStructuredLogs: () => {},
    }),
  );
  const started = performance.now();
  await mf.ready;
  const readyMs = performance.now() - started;
  const pids = newWorkerdPids();
  if (pinning) for (const pid of pids) spawnSync("taskset", ["-a", "-p", "-c", "1", pid]);
  return {
    mf,
    url: `http://127.0.0.1:${port}`,
    directUrl: `http://127.0.0.1:${port + 100}`,
    pids,
    readyMs,
  };
}

/**
 * One autocannon run; `pick` (optional) chooses each request's path, `headers` (optional) adds
 * headers to each request (e.g. a CF-Connecting-IP that changes every time).
 */
export function load(url, { path = "/", seconds = 5, connections = 10, pick, headers } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { url: `${url}${path}`, connections, duration: seconds, pipelining: 1 };
    if (pick || headers)
      opts.requests = [
        {
          setupRequest: (req) => ({
            ...req,
            ...(pick ? { path: pick() } : {}),
            ...(headers ? { headers: { ...req.headers, ...headers() } } : {}),
          }),
        },
      ];
    autocannon(opts, (err, r) => {
      if (err) return reject(err);
      resolve({
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        mean: r.latency.average,
        non2xx: r.non2xx,
        errors: r.errors,
        total: r.requests.total,
      });
    });
  });
}

/** One load run that also reports the server's CPU per request (µs) from /proc. */
async function sample(side, opts) {
  const before = cpuMicros(side.pids);
  const r = await load(side.url, { ...opts, path: side.path, headers: side.headers });
  return { ...r, cpuUs: (cpuMicros(side.pids) - before) / Math.max(1, r.total) };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Interleaved rounds: in each round every side gets one short run, back to back (order
 * reversed every other round), so drift on a shared machine hits all sides of a round alike.
 * `versus(i, j)` is the throughput ratio of side i to side j as the median of the per-round
 * ratios, with its range, and the same for mean latency.
 */
export async function interleaved(sides, rounds, opts) {
  const runs = sides.map(() => []);
  for (let i = 0; i < rounds; i++) {
    const order = sides.map((_, k) => k);
    if (i % 2) order.reverse();
    for (const k of order) runs[k].push(await sample(sides[k], opts));
  }
  const agg = (xs) => ({
    rps: median(xs.map((x) => x.rps)),
    p50: median(xs.map((x) => x.p50)),
    p99: median(xs.map((x) => x.p99)),
    mean: median(xs.map((x) => x.mean)),
    cpuUs: median(xs.map((x) => x.cpuUs)),
    non2xx: xs.reduce((n, x) => n + x.non2xx, 0),
    errors: xs.reduce((n, x) => n + x.errors, 0),
  });
  const versus = (a, b) => {
    const ratios = runs[a].map((x, i) => x.rps / runs[b][i].rps);
    return {
      ratio: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      latencyRatio: median(runs[a].map((x, i) => x.mean / runs[b][i].mean)),
    };
  };
  return { sides: runs.map(agg), versus };
}

/** Zipf(s) sampler over 1..n (sim/random.mjs's, unseeded: the benchmark needs no replay). */
export function zipf(n, s) {
  const rank = zipfRank(n, s, Math.random);
  return () => rank() + 1;
}

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
