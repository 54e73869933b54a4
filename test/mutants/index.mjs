import { BUDGET } from "./budget.mjs";
import { CACHE } from "./cache.mjs";
import { EDGE } from "./edge.mjs";
import { FEEDS } from "./feeds.mjs";
import { RENDER } from "./render.mjs";
import { UPSTREAM } from "./upstream.mjs";

/**
 * The mutant catalogue for `npm run mutants` (scripts/mutants.mjs). Each mutant is one
 * realistic bug: `from` (found exactly once in `file`) becomes `to`. `tests` are the files
 * that should catch it; `why` is what a user would suffer. A mutant that no test can catch
 * because it changes nothing observable carries `equivalent` with the reason.
 */
export const MUTANTS = [...UPSTREAM, ...BUDGET, ...CACHE, ...EDGE, ...RENDER, ...FEEDS];
