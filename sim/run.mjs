import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { bundleIsolate } from "./bundle.mjs";
import { closingLine, report } from "./report.mjs";
import { SCENARIOS } from "./scenarios.mjs";

/**
 * `npm run simulate`: bundles the Worker's modules for the simulation, runs the scenarios (one
 * thread per core, the largest jobs first), keeps each one's figures in
 * bench/simulation/<name>.json, renders bench/SIMULATION.md from them and prints one line per
 * scenario. Without arguments it runs every scenario not marked `separate` (none is today: a
 * scenario too long for the 15 minutes would be, run with `--only <name>`, which runs that one
 * and renders the report again from every kept result, each row saying how and when it was
 * run). `--render` only renders the report from the kept results.
 */
const renderOnly = process.argv.includes("--render");
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const scenarios = SCENARIOS.filter((s) => (only ? s.name === only : !s.separate));
if (scenarios.length === 0) throw new Error(`no scenario named ${only}`);

/** Each scenario's figures from its last run, with how it was run (the report is rendered from them). */
const RESULTS_DIR = "bench/simulation";

const started = performance.now();
const bundleUrl = pathToFileURL(await bundleIsolate()).href;
// Weight: requests simulated (what the time goes on).
const jobs = renderOnly
  ? []
  : scenarios
      .map((s) => ({
        scenario: s.name,
        weight: s.rps * (s.params?.durationS ?? 1800) + (s.flash ? s.flash.rps * (s.flash.rampS + s.flash.holdS) : 0),
      }))
      .sort((a, b) => b.weight - a.weight);
const results = [];
const threads = Math.min(availableParallelism(), jobs.length);

await Promise.all(
  Array.from({ length: threads }, async () => {
    // 1,200 isolates' module state and memory tiers outgrow a thread's default heap; a larger
    // young generation collects the requests' short-lived objects less often (384 MB was 15%
    // faster at 100k than the default, 1.5 GB about 10% faster again: 88 s against 99 s for 10
    // simulated seconds, sampled once each).
    const worker = new Worker(new URL("./worker.mjs", import.meta.url), {
      workerData: { bundleUrl },
      resourceLimits: { maxOldGenerationSizeMb: 14_000, maxYoungGenerationSizeMb: 1536 },
    });
    const messages = [];
    let wake;
    worker.on("message", (m) => {
      messages.push(m);
      wake?.();
    });
    const failed = new Promise((_, reject) => worker.once("error", reject));
    const next = async () => {
      while (messages.length === 0) await Promise.race([new Promise((r) => (wake = r)), failed]);
      return messages.shift();
    };
    await next();
    for (let job = jobs.shift(); job; job = jobs.shift()) {
      worker.postMessage({ scenario: job.scenario, budgetOn: true });
      const result = await next();
      results.push(result);
      process.stderr.write(`  ${result.scenario}: ${(result.wallMs / 1000).toFixed(1)} s\n`);
    }
    await worker.terminate();
  }),
);

const wallS = (performance.now() - started) / 1000;
const run = {
  command: only ? `npm run simulate -- --only ${only}` : "npm run simulate",
  wallS: Math.round(wallS),
  threads,
  date: new Date().toISOString().slice(0, 10),
};
mkdirSync(RESULTS_DIR, { recursive: true });
for (const r of results)
  writeFileSync(`${RESULTS_DIR}/${r.scenario}.json`, `${JSON.stringify({ run, ...r }, null, 1)}\n`);
const kept = SCENARIOS.map((s) => {
  try {
    return JSON.parse(readFileSync(`${RESULTS_DIR}/${s.name}.json`, "utf8"));
  } catch {
    return undefined;
  }
}).filter(Boolean);
writeFileSync("bench/SIMULATION.md", report(SCENARIOS, kept));
if (renderOnly) process.exit(0);
for (const s of scenarios)
  console.log(
    closingLine(
      s,
      results.find((r) => r.scenario === s.name),
    ),
  );
console.log(`${run.command}: ${run.wallS} s on ${threads} threads`);
