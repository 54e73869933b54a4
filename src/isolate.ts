import { resetAdmission } from "./budget/admission";
import { resetHotKeys } from "./cache/hot";
import { resetLoads } from "./cache/loads";
import { resetPurges } from "./cache/purge";
import { resetCacheStats } from "./cache/stats";
import { resetTiers } from "./cache/tiers";
import { resetApiKeyMemo } from "./clients/api-keys";
import { resetMissBudget } from "./clients/miss-budget";
import { resetRenderBudget } from "./clients/render-budget";
import { resetMemos } from "./lib/memo-budget";
import { resetSeenSignatures } from "./routes/hooks";
import { resetTokenState } from "./upstream/get";
import { resetUpstreamHealth } from "./upstream/health";

/**
 * Everything a Worker keeps in module state lives as long as its isolate: the memory tier,
 * in-flight loads, admission's lease, pause and breakers, memos, counters. This starts all of it
 * cold, as a new isolate would: between tests, and when the fleet simulation (sim/) recycles
 * a module instance for a new isolate. A module that gains state registers its reset here.
 */
export function resetIsolate(now = Date.now()): void {
  resetTiers();
  resetUpstreamHealth();
  resetTokenState();
  resetHotKeys(now);
  resetCacheStats();
  resetPurges();
  resetApiKeyMemo();
  resetMissBudget();
  resetRenderBudget();
  resetMemos();
  resetSeenSignatures();
  resetAdmission();
  resetLoads();
}
