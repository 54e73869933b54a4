/**
 * The Worker's own modules, as the fleet simulation runs them: sim/bundle.mjs bundles this
 * file once, with the runtime's clock, timers, randomness, fetch and Cache API pointed at the
 * simulation, and sim/fleet.mjs instantiates the bundle once per simulated isolate. Nothing
 * here decides anything: every decision is made by the code these lines re-export.
 */
export { KeyCoordinator } from "../src/budget/coordinator";
export { UpstreamBudget } from "../src/budget/keeper";
export { freshInMemory, getOrLoad } from "../src/cache/engine";
export { maybeFlushHotKeys, recordHit } from "../src/cache/hot";
export { cacheKey } from "../src/cache/keys";
export { DEFAULT_POLICY } from "../src/cache/policy";
export { invalidBefore, syncPurges } from "../src/cache/purge";
export { requireConfig } from "../src/env";
export { resetIsolate } from "../src/isolate";
export { keyForRequest, lookupForKey } from "../src/routes/catalog";
export { tierDeps } from "../src/routes/deps";
export { problemFor } from "../src/routes/read-route";
export { refreshAhead } from "../src/scheduled";
