import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import autocannon from "autocannon";
import { Miniflare } from "miniflare";

/** Helpers for bench/run.mjs: bundling, workers under miniflare, load runs. */

export const QUIET = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};
export const COMPAT_DATE = "2026-04-20";

/** Bundles the Worker with wrangler (as `deploy` would) and returns its sizes. */
export function bundle(outdir, extra = []) {
  const res = spawnSync(
    process.execPath,
    ["node_modules/wrangler/bin/wrangler.js", "deploy", "--dry-run", "--outdir", outdir, ...extra],
    {
      env: { ...process.env, ...QUIET },
      encoding: "utf8",
    },
  );
  if (res.status !== 0) throw new Error(`bundle failed:\n${res.stderr}`);
  const code = readFileSync(`${outdir}/index.js`);
  return {
    file: `${outdir}/index.js`,
    rawKiB: code.length / 1024,
    gzipKiB: gzipSync(code, { level: 9 }).length / 1024,
  };
}

const drain = (stdout, stderr) => {
  stdout.resume();
  stderr.resume();
};

/** Starts a worker (script file or inline module) under miniflare on `port`. */
export async function startWorker({ scriptPath, script, port, bindings = {}, kv = true, direct = false }) {
  const mf = new Miniflare({
    ...(direct ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: port + 100 }] } : {}),
    ...(scriptPath ? { scriptPath } : { script }),
    modules: true,
    compatibilityDate: COMPAT_DATE,
    kvNamespaces: kv ? ["BEATPASS_CACHE"] : [],
    bindings,
    cf: false,
    host: "127.0.0.1",
    port,
    handleRuntimeStdio: drain,
  });
  const started = performance.now();
  await mf.ready;
  return { mf, url: `http://127.0.0.1:${direct ? port + 100 : port}`, readyMs: performance.now() - started };
}

/** One autocannon run; `pick` (optional) chooses each request's path. */
export function load(url, { path = "/", seconds = 5, connections = 10, pick } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { url: `${url}${path}`, connections, duration: seconds, pipelining: 1 };
    if (pick) opts.requests = [{ setupRequest: (req) => ({ ...req, path: pick() }) }];
    autocannon(opts, (err, r) => {
      if (err) return reject(err);
      resolve({
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors,
        total: r.requests.total,
      });
    });
  });
}

/** Alternating A/B rounds, so drift on a shared 2-core machine hits both sides alike. */
export async function ab(a, b, rounds, opts) {
  const out = { a: [], b: [] };
  for (let i = 0; i < rounds; i++) {
    out.a.push(await load(a.url, { ...opts, path: a.path, pick: a.pick }));
    out.b.push(await load(b.url, { ...opts, path: b.path, pick: b.pick }));
  }
  const mean = (xs, k) => xs.reduce((s, x) => s + x[k], 0) / xs.length;
  const sum = (xs, k) => xs.reduce((s, x) => s + x[k], 0);
  const agg = (xs) => ({
    rps: mean(xs, "rps"),
    p50: mean(xs, "p50"),
    p99: mean(xs, "p99"),
    non2xx: sum(xs, "non2xx"),
    errors: sum(xs, "errors"),
  });
  return { a: agg(out.a), b: agg(out.b) };
}

/** Zipf(s) sampler over 1..n. */
export function zipf(n, s) {
  const weights = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s);
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf = [];
  let acc = 0;
  for (const w of weights) {
    acc += w / total;
    cdf.push(acc);
  }
  return () => {
    const u = Math.random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
