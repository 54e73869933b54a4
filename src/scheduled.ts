import { renew } from "./budget/isolate-lease";
import { LoadRefused, loadOnce } from "./cache/engine";
import { hotKeys } from "./cache/hot";
import { loggableKey } from "./cache/keys";
import { readTiers } from "./cache/tiers";
import { type Env, loadConfig } from "./env";
import { logEvent } from "./lib/log";
import { lookupForKey } from "./routes/catalog";
import { admissionOptions, tierDeps } from "./routes/deps";
import { upstreamHealth } from "./upstream/health";

/**
 * Refresh ahead (the Cron Trigger, every minute): re-fetch the most requested keys shortly
 * before their soft TTL ends, so popular cards are almost never served stale. It spends at
 * most REFRESH_BUDGET_PER_MINUTE upstream requests per run, and less when BeatPass's last
 * X-RateLimit-Remaining says the shared budget is nearly gone: viewers' misses come first.
 */

/** How close to the end of its soft TTL a key must be to get refreshed: 20% of it, at most a minute. */
export const refreshLeadMs = (softSeconds: number) => Math.min(60_000, softSeconds * 200);
/** Requests left in BeatPass's window that refresh-ahead never touches. */
export const UPSTREAM_RESERVE = 50;
const MAX_CANDIDATES = 100;

export interface RefreshReport {
  refreshed: string[];
  failed: string[];
  skipped: { fresh: number; budget: number; unknown: number };
  budget: number;
}

export async function refreshAhead(env: Env, ctx: ExecutionContext): Promise<RefreshReport> {
  const report: RefreshReport = { refreshed: [], failed: [], skipped: { fresh: 0, budget: 0, unknown: 0 }, budget: 0 };
  const result = loadConfig(env);
  if (!result.ok) {
    logEvent("error", "refresh_ahead_skipped", { reason: "config_error" });
    return report;
  }
  const config = result.config;
  const deps = tierDeps(env, ctx, config);
  let budget = config.refreshBudgetPerMinute;
  const rl = upstreamHealth.rateLimit;
  if (rl?.remaining !== undefined && deps.now() - rl.seenAt < 60_000)
    budget = Math.min(budget, Math.max(0, rl.remaining - UPSTREAM_RESERVE));
  report.budget = budget;
  const candidates = await hotKeys(env.UPSTREAM_BUDGET, MAX_CANDIDATES);
  // The run's permits come from this isolate's lease, in the scheduled pool (the keeper grants
  // it only while half the budget is unspent): asked for once, for what the run may spend.
  if (budget > 0 && candidates.length > 0)
    await renew(
      admissionOptions(env, config, (p) => ctx.waitUntil(p)),
      { scheduled: Math.min(budget, candidates.length) },
    );

  for (const key of candidates) {
    const opts = await lookupForKey(key, config, env, deps);
    if (!opts) {
      report.skipped.unknown++;
      continue;
    }
    const found = await readTiers(deps, key, opts.policy.staleIfError);
    const age = found ? deps.now() - found.entry.fetchedAt : Number.POSITIVE_INFINITY;
    if (age < opts.policy.soft * 1000 - refreshLeadMs(opts.policy.soft)) {
      report.skipped.fresh++;
      continue;
    }
    if (budget <= 0) {
      report.skipped.budget++;
      continue;
    }
    budget--;
    try {
      await loadOnce(deps, opts, found?.entry, "scheduled");
      report.refreshed.push(key);
    } catch (err) {
      // The budget keeper said no (viewers come first) or another isolate has it in hand.
      if (err instanceof LoadRefused && err.reason !== "shared_failure") report.skipped.budget++;
      else report.failed.push(key);
    }
  }
  logEvent("info", "refresh_ahead", {
    refreshed: report.refreshed.length,
    failed: report.failed.length,
    skipped: report.skipped,
    budget: report.budget,
    keys: report.refreshed.slice(0, 20).map(loggableKey),
  });
  return report;
}
