/**
 * Module evaluation time of a bundle: a fresh Node process that imports nothing else first
 * (bench/run.mjs runs it several times and takes the median). Prints {"startupMs": n}.
 */
import { pathToFileURL } from "node:url";
import "./workers-runtime-stub.mjs";

const t0 = performance.now();
await import(pathToFileURL(process.argv[2]).href);
console.log(JSON.stringify({ startupMs: performance.now() - t0 }));
