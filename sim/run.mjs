import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { bundleIsolate } from "./bundle.mjs";
import { closingLine, report } from "./report.mjs";
import { SCENARIOS } from "./scenarios.mjs";

/**
 * `npm run simulate`: bundles the Worker's modules for the simulation, runs every scenario (one
 * thread per core, the largest jobs first), writes bench/SIMULATION.md and prints one line per
 * scenario. `--only <name>` runs one scenario (and writes no report).
 */
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const scenarios = SCENARIOS.filter((s) => !only || s.name === only);
if (scenarios.length === 0) throw new Error(`no scenario named ${only}`);

const started = performance.now();
const bundleUrl = pathToFileURL(await bundleIsolate()).href;
// Weight: requests simulated (what the time goes on).
const jobs = scenarios
  .map((s) => ({ scenario: s.name, budgetOn: true, weight: s.rps * (s.params?.durationS ?? 1800) }))
  .sort((a, b) => b.weight - a.weight);
const results = [];
const threads = Math.max(1, Math.min(availableParallelism(), jobs.length));

await Promise.all(
  Array.from({ length: threads }, async () => {
    const worker = new Worker(new URL("./worker.mjs", import.meta.url), { workerData: { bundleUrl } });
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
      worker.postMessage({ scenario: job.scenario, budgetOn: job.budgetOn });
      const result = await next();
      results.push(result);
      process.stderr.write(`  ${result.scenario}: ${(result.wallMs / 1000).toFixed(1)} s\n`);
    }
    await worker.terminate();
  }),
);

const wallS = (performance.now() - started) / 1000;
if (!only) writeFileSync("bench/SIMULATION.md", report(SCENARIOS, results, { wallS, threads }));
// Every measured figure, for reading beyond the table (git-ignored).
writeFileSync("sim/.build/results.json", JSON.stringify(results, null, 1));
for (const s of scenarios)
  console.log(
    closingLine(
      s,
      results.find((r) => r.scenario === s.name),
    ),
  );
