/**
 * The Worker's own modules, as the fleet simulation runs them: sim/bundle.mjs bundles this
 * file once, with the runtime's clock, timers, randomness, fetch and Cache API pointed at the
 * simulation, and sim/fleet.mjs instantiates the bundle once per simulated isolate. Nothing
 * here decides anything: every decision is made by the code these lines re-export. A viewer's
 * request is answered by `serveRead`, the function the read routes' handler calls.
 */
export { KeyCoordinator } from "../src/budget/coordinator";
export { UpstreamBudget } from "../src/budget/keeper";
export { getOrLoad } from "../src/cache/engine";
export { requireConfig } from "../src/env";
export { resetIsolate } from "../src/isolate";
export { inputForRequest, keyForRequest, lookupForKey, readRequestOf } from "../src/routes/catalog";
export { tierDeps } from "../src/routes/deps";
export { problemFor, serveRead } from "../src/routes/serve-read";
export { refreshAhead } from "../src/scheduled";
