import { type AdmissionOptions, admission } from "../budget/admission";
import { groupOf } from "../budget/groups";
import type { Coordinator, Purpose } from "../cache/engine";
import { kvNamespace, namespaced } from "../cache/namespace";
import type { TierDeps } from "../cache/tiers";
import { admitMiss } from "../clients/miss-budget";
import type { Config, Env } from "../env";
import type { Client, Trace } from "../lib/trace";

/** A background load has nobody waiting on it, so it may take longer than a viewer's. */
export const BACKGROUND_TIMEOUT_MS = 15_000;
/** Where requests without request.cf (wrangler dev, tests) are coordinated: one location. */
export const LOCAL_COLO = "local";
/** A lease outlives its load's timeout by this much, so a slow holder still completes it. */
const LEASE_MARGIN_MS = 2_000;

export function loadTimeoutMs(config: Config, purpose: Purpose): number {
  return purpose === "foreground"
    ? config.upstreamTimeoutMs
    : Math.max(config.upstreamTimeoutMs, BACKGROUND_TIMEOUT_MS);
}

/**
 * What the cache engine needs for one request: the tiers, the budget keeper that grants
 * every upstream load, and (for a viewer's request) that client's miss budget. The time a
 * request spends asking the keeper is reported in its trace (Server-Timing `budget`).
 */
export function tierDeps(
  env: Env,
  ctx: { waitUntil(p: Promise<unknown>): void },
  config: Config,
  client?: Client,
  trace?: Trace,
): TierDeps {
  const waitUntil = (p: Promise<unknown>) => ctx.waitUntil(p);
  let coordinator: Coordinator | undefined;
  let built = false;
  return {
    kv: namespaced(env.BEATPASS_CACHE, kvNamespace(config.apiBase)),
    waitUntil,
    now: () => Date.now(),
    fast: config.fastTiers,
    // Built when a load first asks for it: a memory hit never does (it was ~2 µs of every hit).
    get coordinator(): Coordinator | undefined {
      if (!built) coordinator = admission(admissionOptions(env, config, waitUntil, client, trace));
      built = true;
      return coordinator;
    },
    // Still a plain field to whoever replaces it (tests stand one in, or none).
    set coordinator(replacement: Coordinator | undefined) {
      coordinator = replacement;
      built = true;
    },
    admitMiss: client ? () => admitMiss(env, client) : undefined,
    chargeShared: client?.chargeShared,
  };
}

/** Where a request's loads ask for coordination and permits (src/budget/admission.ts). */
export function admissionOptions(
  env: Env,
  config: Config,
  waitUntil: (p: Promise<unknown>) => void,
  client?: Client,
  trace?: Trace,
): AdmissionOptions {
  return {
    keeper: env.UPSTREAM_BUDGET,
    coordinators: env.COORDINATORS,
    location: trace?.colo ?? LOCAL_COLO,
    perMinute: config.budgetPerMinute,
    timeoutMs: config.budgetTimeoutMs,
    leaseMs: (purpose) => loadTimeoutMs(config, purpose) + LEASE_MARGIN_MS,
    waitUntil,
    group: client && groupOf(client.limitKey, client.tier),
    onPermitWait: trace
      ? (ms) => {
          trace.budgetMs = (trace.budgetMs ?? 0) + ms;
        }
      : undefined,
    onCoordinate: trace
      ? (ms) => {
          trace.coordMs = (trace.coordMs ?? 0) + ms;
        }
      : undefined,
  };
}
