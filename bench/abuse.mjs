import { spawnSync } from "node:child_process";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { buildRaster } from "../raster/build.mjs";
import { ratelimits, storage } from "../scripts/wrangler-toml.mjs";
import { rotatingAddresses } from "./addresses.mjs";
import { bundleWorker, COMPAT_DATE, COMPAT_FLAGS, median, pinning, workerdPids } from "./lib.mjs";

/**
 * One address asking for PNG cards with random accents (each a card no memo has drawn), 4 at
 * a time, while cached JSON hits come from other addresses. The shipped Worker in its default
 * configuration (rate limiters of wrangler.toml, REQUEST_LOG unset) and the rasteriser in one
 * workerd, RASTER passing through a counter so every render is counted. Each round: the JSON
 * hit's quiet latency (sequential requests), then the same while the address sends its PNG
 * requests; a new abusing address per round, in a network of its own.
 */

const COUNTER = `let renders = 0;
export default {
  async fetch(req, env) {
    if (new URL(req.url).pathname === "/__renders") return new Response(String(renders));
    renders++;
    return env.RASTER.fetch(req);
  },
};`;

const QUIET_SAMPLES = 150;

/**
 * The budget a refusal names: the quota (q) and window (w, seconds) of the RateLimit-Policy item
 * that its RateLimit header reports spent (draft-ietf-httpapi-ratelimit-headers), or undefined.
 */
function renderBudget(refusal) {
  const name = /^"([^"]+)"/.exec(refusal?.limit ?? "")?.[1];
  if (!name) return undefined;
  const item = (refusal.policy ?? "").split(",").find((p) => p.trim().startsWith(`"${name}"`));
  const q = /;q=(\d+)/.exec(item ?? "")?.[1];
  const w = /;w=(\d+)/.exec(item ?? "")?.[1];
  return q === undefined || w === undefined ? undefined : { q: Number(q), w: Number(w) };
}

/**
 * Fresh renders the budget allows between `start` and `end` (epoch ms): its quota in every
 * window the flood touched (windows are aligned to the clock, as the binding's are), and one
 * more: the paused card, drawn once and charged to nobody.
 */
function allowedRenders(budget, start, end) {
  if (!budget) return undefined;
  const w = budget.w * 1000;
  return budget.q * (Math.floor(end / w) - Math.floor(start / w) + 1) + 1;
}

export async function abuseBench({ workerFile, bindings, port, pngs = 200, concurrency = 4, rounds = 3 }) {
  const raster = buildRaster("bench/.build/raster");
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port,
      handleStructuredLogs: () => {},
      workers: [
        {
          name: "beatpass-edge",
          ...bundleWorker(workerFile),
          compatibilityDate: COMPAT_DATE,
          compatibilityFlags: COMPAT_FLAGS,
          ...storage(),
          ratelimits: ratelimits(),
          bindings,
          serviceBindings: { RASTER: "render-counter" },
        },
        {
          name: "render-counter",
          script: COUNTER,
          modules: true,
          compatibilityDate: COMPAT_DATE,
          serviceBindings: { RASTER: "beatpass-edge-raster" },
        },
        { name: "beatpass-edge-raster", compatibilityDate: COMPAT_DATE, ...raster },
      ],
    }),
  );
  await mf.ready;
  if (pinning) for (const pid of workerdPids()) spawnSync("taskset", ["-a", "-p", "-c", "1", pid]);
  const counter = await mf.getWorker("render-counter");
  const renders = async () => Number(await (await counter.fetch("http://counter/__renders")).text());
  const url = `http://127.0.0.1:${port}`;
  const others = rotatingAddresses(65536, 172);
  const get = async (path, headers) => {
    const t0 = performance.now();
    const res = await fetch(`${url}${path}`, { headers });
    await res.arrayBuffer();
    return { res, ms: performance.now() - t0 };
  };
  const hit = async () => {
    const { res, ms } = await get("/v1/tracks/1", others());
    if (res.status !== 200) throw new Error(`JSON hit: ${res.status}`);
    return ms;
  };
  try {
    // The JSON hit cached, the card's data and artwork cached, the rasteriser past its
    // warm-up (40 renders, as bench/png.mjs measured), each from an address of its own.
    for (let i = 0; i < 20; i++) await hit();
    for (let i = 0; i < 40; i++) {
      const { res } = await get(`/widget/track/3.png?accent=${(0xc00000 + i * 7919).toString(16).slice(-6)}`, others());
      if (res.status !== 200) throw new Error(`PNG warm-up: ${res.status}`);
    }
    const out = [];
    for (let round = 0; round < rounds; round++) {
      const quiet = [];
      for (let i = 0; i < QUIET_SAMPLES; i++) quiet.push(await hit());
      const abuser = { "CF-Connecting-IP": `203.0.${113 - round}.9` };
      const before = await renders();
      const answers = [];
      let sent = 0;
      let done = false;
      const send = async () => {
        while (sent < pngs) {
          sent++;
          const accent = Math.floor(Math.random() * 0x1000000)
            .toString(16)
            .padStart(6, "0");
          const { res } = await get(`/widget/track/3.png?accent=${accent}`, abuser);
          answers.push({
            status: res.status,
            png: res.headers.get("Content-Type") === "image/png",
            problem: res.headers.get("X-Problem-Code"),
            retryAfter: res.headers.get("Retry-After"),
            policy: res.headers.get("RateLimit-Policy"),
            limit: res.headers.get("RateLimit"),
          });
        }
      };
      const busy = [];
      const meanwhile = (async () => {
        while (!done) busy.push(await hit());
      })();
      const t0 = performance.now();
      const startedAt = Date.now();
      await Promise.all(Array.from({ length: concurrency }, send));
      const abuseMs = performance.now() - t0;
      const endedAt = Date.now();
      done = true;
      await meanwhile;
      const count = (pred) => answers.filter(pred).length;
      out.push({
        quietP50: median(quiet),
        busyP50: median(busy),
        busySamples: busy.length,
        ratio: median(busy) / median(quiet),
        abuseMs,
        renders: (await renders()) - before,
        ok: count((a) => a.status === 200 && a.png && !a.problem),
        okProblem: count((a) => a.status === 200 && a.problem),
        refused: count((a) => a.status === 429),
        refusedWithRetryAfter: count((a) => a.status === 429 && a.retryAfter),
        refusedAsCard: count((a) => a.status === 429 && a.png),
        other: count((a) => a.status !== 200 && a.status !== 429),
        problems: [...new Set(answers.map((a) => a.problem).filter(Boolean))],
        budget: renderBudget(answers.find((a) => a.status === 429))?.q,
        allowed: allowedRenders(renderBudget(answers.find((a) => a.status === 429)), startedAt, endedAt),
      });
    }
    return { pngs, concurrency, quietSamples: QUIET_SAMPLES, pinned: pinning, rounds: out };
  } finally {
    await mf.dispose();
  }
}
