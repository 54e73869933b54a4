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
  return new RequestDeps(env, ctx, config, client, trace);
}

/**
 * A class, not an object literal: built for every request, and a memory hit reads only
 * `fast`, `now` and `waitUntil`. The KV view and the coordinator are made when a read first
 * goes past memory; accessors on the prototype cost a hit nothing, where a literal's getter
 * and setter were a new pair per request (bench/HISTORY.md, run 24).
 */
class RequestDeps implements TierDeps {
  readonly fast: Config["fastTiers"];
  /** Passed on unbound (syncPurges, admission), so an own function. */
  readonly waitUntil: (p: Promise<unknown>) => void;
  readonly admitMiss: (() => Promise<void>) | undefined;
  readonly chargeShared: (() => Promise<void>) | undefined;
  #kv: KVNamespace | undefined;
  #coordinator: Coordinator | undefined;
  #built = false;

  constructor(
    private readonly env: Env,
    ctx: { waitUntil(p: Promise<unknown>): void },
    private readonly config: Config,
    private readonly client?: Client,
    private readonly trace?: Trace,
  ) {
    this.fast = config.fastTiers;
    this.waitUntil = (p) => ctx.waitUntil(p);
    this.admitMiss = client ? () => admitMiss(env, client) : undefined;
    this.chargeShared = client?.chargeShared;
  }

  now(): number {
    return Date.now();
  }

  get kv(): KVNamespace {
    this.#kv ??= namespaced(this.env.BEATPASS_CACHE, kvNamespace(this.config.apiBase));
    return this.#kv;
  }

  get coordinator(): Coordinator | undefined {
    if (!this.#built)
      this.#coordinator = admission(admissionOptions(this.env, this.config, this.waitUntil, this.client, this.trace));
    this.#built = true;
    return this.#coordinator;
  }

  /** Still a plain field to whoever replaces it (tests stand one in, or none). */
  set coordinator(replacement: Coordinator | undefined) {
    this.#coordinator = replacement;
    this.#built = true;
  }
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
