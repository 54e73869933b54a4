import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { buildWorker } from "../scripts/build-worker.mjs";
import { ratelimits, storage } from "../scripts/wrangler-toml.mjs";
import { bundle, bundleWorker, COMPAT_DATE, COMPAT_FLAGS, median } from "./lib.mjs";

/**
 * Cold start, against a bare Hono Worker (bench/bare-hono.ts) bundled the same way: the
 * module import in fresh Node processes, and start-to-first-response in workerd through
 * miniflare with a new runtime per sample. Also the shipped bundle's bytes by dependency.
 */

/**
 * The bare Hono Worker, bundled by `wrangler deploy --dry-run` from a config of its own that
 * carries wrangler.toml's compatibility date and flags, minified without the keep-names helper
 * as scripts/build-worker.mjs builds ours.
 */
export function bundleBareHono(outdir) {
  mkdirSync(outdir, { recursive: true });
  const config = resolve(outdir, "wrangler.toml");
  writeFileSync(
    config,
    [
      'name = "bare-hono"',
      `main = ${JSON.stringify(relative(outdir, "bench/bare-hono.ts"))}`,
      `compatibility_date = ${JSON.stringify(COMPAT_DATE)}`,
      `compatibility_flags = ${JSON.stringify(COMPAT_FLAGS)}`,
      "minify = true",
      "keep_names = false",
      "",
    ].join("\n"),
  );
  // wrangler resolves --outdir against the config's directory; the file is named after `main`.
  return bundle(resolve(outdir, "out"), ["-c", config], "bare-hono.js");
}

/**
 * Node decides a `.js` file's module format from the nearest package.json; without
 * `"type": "module"` it parses the file to detect it (~15 ms, more for a bigger file). Every
 * bundle here is under bench/.build, which gets one.
 */
function markModules(file) {
  const dir = file.slice(0, file.indexOf("bench/.build/") + "bench/.build/".length);
  writeFileSync(`${dir}package.json`, '{ "type": "module" }\n');
}

const importMs = (file) =>
  JSON.parse(spawnSync(process.execPath, ["bench/startup.mjs", file], { encoding: "utf8" }).stdout).startupMs;

/** Module import in fresh Node processes, ours and the bare Worker alternating, `n` of each. */
export function importRatio(oursFile, bareFile, n = 9) {
  markModules(oursFile);
  markModules(bareFile);
  const ours = [];
  const bare = [];
  for (let i = 0; i < n; i++) {
    if (i % 2) {
      bare.push(importMs(bareFile));
      ours.push(importMs(oursFile));
    } else {
      ours.push(importMs(oursFile));
      bare.push(importMs(bareFile));
    }
  }
  return summary(ours, bare);
}

/** Medians of both sides, their ratio, and the lowest and highest ratio of one pair. */
function summary(ours, bare) {
  const pairs = ours.map((x, i) => x / bare[i]);
  return {
    samples: ours.length,
    oursMs: median(ours),
    bareMs: median(bare),
    ratio: median(ours) / median(bare),
    ratioMin: Math.min(...pairs),
    ratioMax: Math.max(...pairs),
  };
}

/**
 * From `new Miniflare` to the first response of one request, a new runtime (workerd process)
 * each time, disposed after; also to `mf.ready` (the runtime listening).
 */
async function startOnce(workerOptions, path) {
  const t0 = performance.now();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: true,
      ...workerOptions,
      compatibilityDate: COMPAT_DATE,
      compatibilityFlags: COMPAT_FLAGS,
      cf: false,
      host: "127.0.0.1",
      port: 0,
      handleStructuredLogs: () => {},
    }),
  );
  try {
    const url = await mf.ready;
    const readyMs = performance.now() - t0;
    const res = await fetch(new URL(path, url), { headers: { "CF-Connecting-IP": "192.0.2.77" } });
    await res.arrayBuffer();
    const firstMs = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${path}: first response ${res.status}`);
    return { readyMs, firstMs };
  } finally {
    await mf.dispose();
  }
}

/**
 * Start-to-first-response: the shipped Worker with the bindings wrangler.toml gives it (KV, its
 * Durable Objects, the rate limiters; RASTER a stub answering 503, as no request here draws a
 * PNG) asked for /healthz and for /v1/tracks/1 (a miss: each runtime starts empty, so it loads
 * from the fake BeatPass), and the bare Hono Worker asked for `/`. `samples` rounds, each side
 * once per round, order reversed every other round.
 */
export async function firstResponse({ oursFile, bareFile, bindings, samples = 7 }) {
  const runtime = {
    ...storage(),
    ratelimits: ratelimits(),
    serviceBindings: { RASTER: () => new Response("no rasteriser in this row", { status: 503 }) },
    bindings,
  };
  const ours = { ...bundleWorker(oursFile), ...runtime };
  const sides = [
    { name: "healthz", options: ours, path: "/healthz" },
    { name: "track", options: ours, path: "/v1/tracks/1" },
    { name: "bare", options: { scriptPath: bareFile }, path: "/" },
    // The bare Worker under our bindings: what is left of the gap is our code's.
    { name: "bareBound", options: { ...bundleWorker(bareFile), ...runtime }, path: "/" },
  ];
  const runs = sides.map(() => []);
  // One start first, not counted: the first workerd start of a process also loads its binary.
  await startOnce(sides[2].options, sides[2].path);
  for (let i = 0; i < samples; i++) {
    const order = sides.map((_, k) => k);
    if (i % 2) order.reverse();
    for (const k of order) runs[k].push(await startOnce(sides[k].options, sides[k].path));
  }
  const pick = (k, field) => runs[k].map((x) => x[field]);
  const out = { samples };
  const bare = sides.findIndex((s) => s.name === "bare");
  const bound = sides.findIndex((s) => s.name === "bareBound");
  for (const [k, side] of sides.entries()) {
    if (side.name.startsWith("bare")) continue;
    out[side.name] = {
      first: summary(pick(k, "firstMs"), pick(bare, "firstMs")),
      ready: summary(pick(k, "readyMs"), pick(bare, "readyMs")),
      firstSameBindings: summary(pick(k, "firstMs"), pick(bound, "firstMs")),
    };
  }
  out.bindingsOnly = summary(pick(bound, "firstMs"), pick(bare, "firstMs"));
  return out;
}

/** The group a bundled input file belongs to in the size table. */
function groupOf(path) {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  if (pkg) return pkg[1];
  if (path.startsWith("src/render/fonts/")) return "src/render/fonts";
  const src = /^src\/([^/]+)\//.exec(path);
  // A directory of src/ as one row, a file at its top (app.ts, openapi.ts...) as its own.
  return src ? `src/${src[1]}` : path;
}

/**
 * Bytes each dependency puts into the deployed build, from its esbuild metafile
 * (scripts/build-worker.mjs): the minified bytes of each input, grouped by package (npm) or by
 * directory (src/), and how many of them are in the modules a new isolate parses at load (the
 * entry and its static imports) rather than in those a route imports when it first runs.
 */
export async function bundleDeps(outdir) {
  const meta = await buildWorker({ outdir, metafile: true });
  const outputs = Object.entries(meta.outputs).filter(([name]) => name.endsWith(".js"));
  const byName = new Map(outputs);
  const entry = outputs.find(([name]) => name.endsWith("/index.js"))?.[0];
  if (!entry) throw new Error("no index.js in the metafile");
  // The entry's static graph: what workerd evaluates before the first request.
  const atLoad = new Set([entry]);
  for (const name of atLoad)
    for (const imp of byName.get(name)?.imports ?? [])
      if (imp.kind === "import-statement" && byName.has(imp.path)) atLoad.add(imp.path);
  const groups = new Map();
  let total = 0;
  let owned = 0;
  let loadBytes = 0;
  for (const [name, output] of outputs) {
    total += output.bytes;
    if (atLoad.has(name)) loadBytes += output.bytes;
    for (const [path, input] of Object.entries(output.inputs)) {
      const g = groups.get(groupOf(path)) ?? { bytes: 0, atLoad: 0 };
      g.bytes += input.bytesInOutput;
      if (atLoad.has(name)) g.atLoad += input.bytesInOutput;
      groups.set(groupOf(path), g);
      owned += input.bytesInOutput;
    }
  }
  const rows = [...groups].map(([name, g]) => ({ name, ...g })).sort((a, b) => b.bytes - a.bytes);
  return { total, atLoad: loadBytes, modules: outputs.length, rows, glue: total - owned };
}
