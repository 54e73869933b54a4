import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { gzipSync } from "node:zlib";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { buildRaster } from "../raster/build.mjs";
import { storage } from "../scripts/wrangler-toml.mjs";
import { bundleModules, COMPAT_DATE, COMPAT_FLAGS, median, percentile, pinning, workerdPids } from "./lib.mjs";

/**
 * PNG cards: the shipped Worker and the rasteriser (raster/) in one workerd, bound as in
 * wrangler.toml, asked for PNGs no memo has drawn (each request a new accent). For every
 * request, the CPU time workerd's threads used (/proc/<pid>/task/<tid>/schedstat, ns) and
 * the wall time; so a row is the whole cost of a PNG miss once the isolate is warm: reads from
 * cache, the SVG, resvg, PNG encoding. The first PNG of each card in a row is the first render
 * of its cover at that size (shrunk then, raster/shrink.ts): reported apart. Also: how big the
 * rasteriser is next to the Worker, and how long it takes to start, the reasons it is a
 * Worker of its own.
 */

function threadCpuNs(pids) {
  let ns = 0;
  for (const pid of pids) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // The thread ended.
      }
    }
  }
  return ns;
}

/** Renders that let V8 finish optimising resvg (measured: its tier-up ends within ~15). */
const WARMUP_RENDERS = 40;

export async function pngBench({ workerFile, bindings, port, renders = 110 }) {
  const raster = buildRaster("bench/.build/raster");
  const rasterBytes = readFileSync(`${raster.modulesRoot}/index_bg.wasm`);
  const started = performance.now();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port,
      workers: [
        {
          name: "beatpass-edge",
          modules: bundleModules(workerFile),
          modulesRoot: dirname(workerFile),
          compatibilityDate: COMPAT_DATE,
          compatibilityFlags: COMPAT_FLAGS,
          ...storage(),
          bindings,
          serviceBindings: { RASTER: "beatpass-edge-raster" },
          handleStructuredLogs: () => {},
        },
        { name: "beatpass-edge-raster", compatibilityDate: COMPAT_DATE, ...raster },
      ],
    }),
  );
  await mf.ready;
  const readyMs = performance.now() - started;
  const pids = workerdPids();
  // workerd on core 1, as the report says (it would inherit this process's core 0 otherwise).
  if (pinning) for (const pid of pids) spawnSync("taskset", ["-a", "-p", "-c", "1", pid]);
  try {
    const url = `http://127.0.0.1:${port}`;
    // First PNG: the rasteriser's isolate compiles and instantiates resvg.
    const t0 = performance.now();
    const first = await fetch(`${url}/widget/track/1.png`);
    await first.arrayBuffer();
    const firstMs = performance.now() - t0;
    // Then V8 runs resvg on its baseline WebAssembly code while it compiles the optimised code
    // on background threads (whose CPU schedstat counts): a once-per-isolate cost, measured
    // here on its own and kept out of the percentiles below, which are the steady state.
    const warmupCpuMs = [];
    for (let i = 0; i < WARMUP_RENDERS; i++) {
      const accent = (0xa00000 + i * 7919).toString(16).slice(-6);
      // The first ten draw the photo covers (tracks 21-30) at 800 px, a size no row below asks
      // for: V8 compiles the rasteriser's cover shrinking (raster/shrink.ts) here too, and not
      // in the first renders of the photo rows.
      const card = i < 10 ? `track/${21 + i}.png?width=800&` : `album/${(i % 10) + 1}.png?`;
      const before = threadCpuNs(pids);
      const res = await fetch(`${url}/widget/${card}accent=${accent}`);
      await res.arrayBuffer();
      warmupCpuMs.push((threadCpuNs(pids) - before) / 1e6);
    }
    // Tracks 21-30 have photographs for covers (fake/photo.mjs), JPEGs near the Worker's
    // artwork cap; the others flat gradients. A photo row is void if the cover was left out.
    const svg = await (await fetch(`${url}/widget/track/21.svg`)).text();
    if (!svg.includes("data:image/jpeg;base64,")) throw new Error("track 21's SVG card has no JPEG cover");
    const rows = [];
    // Size targets (KB): a photo does not deflate like flat colour; 300 KB is issue 27's.
    for (const [name, path, layout, firstId, targetKB] of [
      ["track, link preview 1200 × 630", "track", "", 1, 100],
      ["track, card size 480 × 136", "track", "&layout=card", 1, 100],
      ["album, link preview 1200 × 630", "album", "", 1, 100],
      ["track, photo cover, link preview 1200 × 630", "track", "", 21, 300],
      ["track, photo cover, card size 480 × 136", "track", "&layout=card", 21, 300],
    ]) {
      // The cards' data and artwork, read and cached through their SVG cards: the first PNG of
      // each card below is then the first render of its cover at this size (the rasteriser
      // shrinks it then, raster/shrink.ts), measured apart from the rest.
      for (let id = firstId; id < firstId + 10; id++) await (await fetch(`${url}/widget/${path}/${id}.svg`)).text();
      const cpuMs = [];
      const wallMs = [];
      const bytes = [];
      const firstCpuMs = [];
      for (let i = 0; i < renders; i++) {
        const id = (i % 10) + firstId;
        const accent = (0x100000 + i * 7919 + rows.length * 104729).toString(16).slice(-6);
        const before = threadCpuNs(pids);
        const w0 = performance.now();
        const res = await fetch(`${url}/widget/${path}/${id}.png?accent=${accent}${layout}`);
        const body = new Uint8Array(await res.arrayBuffer());
        wallMs.push(performance.now() - w0);
        cpuMs.push((threadCpuNs(pids) - before) / 1e6);
        if (res.status !== 200 || res.headers.get("Content-Type") !== "image/png")
          throw new Error(`${path}: ${res.status} ${res.headers.get("X-Problem-Code")}`);
        if (i < 10) {
          firstCpuMs.push(cpuMs.pop());
          wallMs.pop();
        } else bytes.push(body.length);
      }
      const sorted = (xs) => [...xs].sort((a, b) => a - b);
      rows.push({
        name,
        renders: cpuMs.length,
        cpuP50: median(cpuMs),
        cpuP99: percentile(sorted(cpuMs), 99),
        wallP50: median(wallMs),
        wallP99: percentile(sorted(wallMs), 99),
        bytesMax: Math.max(...bytes),
        bytesMedian: median(bytes),
        targetKB,
        firstCpuMedian: median(firstCpuMs),
        firstCpuMax: Math.max(...firstCpuMs),
      });
    }
    return {
      rows,
      firstMs,
      warmupRenders: WARMUP_RENDERS,
      warmupCpuMs: warmupCpuMs.reduce((a, b) => a + b, 0),
      warmupTailCpuMs: median(warmupCpuMs.slice(-10)),
      readyMs,
      pinned: pinning,
      rasterWasmKiB: rasterBytes.length / 1024,
      rasterWasmGzipKiB: gzipSync(rasterBytes, { level: 9 }).length / 1024,
    };
  } finally {
    await mf.dispose();
  }
}
