import { parentPort, workerData } from "node:worker_threads";
import { SCENARIOS } from "./scenarios.mjs";
import { runScenario } from "./simulate.mjs";

/** One of the runner's threads: runs the jobs it is sent, one at a time, and posts each result. */
const { createIsolate } = await import(workerData.bundleUrl);
parentPort.on("message", async ({ scenario, budgetOn }) => {
  const s = SCENARIOS.find((x) => x.name === scenario);
  parentPort.postMessage(await runScenario(s, budgetOn, createIsolate));
});
parentPort.postMessage("ready");
