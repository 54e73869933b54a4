import { mkdirSync } from "node:fs";
import { build } from "esbuild";

/**
 * Bundles sim/isolate.ts (the Worker's own cache, budget and upstream modules) for the
 * simulation. Every ambient the runtime provides and the simulation must control is renamed
 * to a field of `__sim`, the per-isolate object sim/fleet.mjs passes to `createIsolate`:
 * simulated time and timers, seeded randomness, that isolate's data centre's Cache API, the
 * simulated BeatPass. The code itself is not touched. The bundle is one factory function, so
 * V8 compiles it once and each call evaluates the modules afresh: a new isolate's state.
 */
export const BUNDLE = "sim/.build/isolate.mjs";

const RUNTIME = {
  "Date.now": "__sim.now",
  setTimeout: "__sim.setTimeout",
  clearTimeout: "__sim.clearTimeout",
  "Math.random": "__sim.random",
  "AbortSignal.timeout": "__sim.abortTimeout",
  // Real WebCrypto settles on a thread pool, outside simulated time: the same digest, at once.
  "crypto.subtle.digest": "__sim.digest",
  // Isolate ids from the isolate's seeded randomness: a run replays exactly.
  "crypto.randomUUID": "__sim.randomUUID",
  caches: "__sim.caches",
  fetch: "__sim.fetch",
  Response: "__sim.Response",
  Headers: "__sim.Headers",
  console: "__sim.console",
};

// The keeper extends DurableObject from `cloudflare:workers`, which only workerd provides.
export const workersRuntime = {
  name: "cloudflare-workers",
  setup(b) {
    b.onResolve({ filter: /^cloudflare:workers$/ }, () => ({ path: "cloudflare:workers", namespace: "sim" }));
    b.onLoad({ filter: /.*/, namespace: "sim" }, () => ({
      contents: "export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }",
      loader: "js",
    }));
  },
};

export async function bundleIsolate(outfile = BUNDLE) {
  mkdirSync("sim/.build", { recursive: true });
  await build({
    entryPoints: ["sim/isolate.ts"],
    outfile,
    bundle: true,
    format: "iife",
    globalName: "isolateExports",
    platform: "neutral",
    target: "es2023",
    mainFields: ["module", "main"],
    define: RUNTIME,
    // One compiled copy, many instances: each call is a fresh isolate's module state.
    banner: { js: "export function createIsolate(__sim) {" },
    footer: { js: "return isolateExports;\n}" },
    plugins: [workersRuntime],
    logLevel: "warning",
  });
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await bundleIsolate());
