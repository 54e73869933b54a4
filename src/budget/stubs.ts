import { cacheStats } from "../cache/stats";
import type { CoordinateRequest, Coordination, KeyCoordinator } from "./coordinator";
import { BUDGET_OBJECT_NAME, type KeeperAsk, type KeeperGrant, type UpstreamBudget } from "./keeper";
import type { Heard, LeaseTurn } from "./lease-gate";
import type { LoadOutcome } from "./leases";

/**
 * The isolate's stubs of the keeper and the coordinators. Every call is a (billed) Durable
 * Object request, counted apart for /healthz and the benchmark: `keeper_calls` for the one
 * global keeper, `coordinator_calls` for the per-location and per-key coordinators.
 */
export interface Keeper {
  lease(ask: KeeperAsk): Promise<KeeperGrant>;
  pause(until: number): Promise<void>;
  recordPurge(resources: string[]): Promise<number>;
  purgesSince(since: number): Promise<Record<string, number>>;
  foldHot(counts: [string, number][]): Promise<void>;
  hotKeys(limit: number): Promise<string[]>;
}

export interface Coordinator {
  begin(req: CoordinateRequest): Promise<Coordination>;
  complete(key: string, outcome: LoadOutcome): Promise<void>;
  awaitLoad(key: string): Promise<LoadOutcome>;
  pause(until: number): Promise<void>;
  leaseTurn(isolate: string, newcomer: boolean): Promise<LeaseTurn>;
  leaseTold(heard: Heard): Promise<void>;
}

export function keeperOf(ns: DurableObjectNamespace<UpstreamBudget> | undefined): Keeper | undefined {
  if (!ns) return undefined;
  const stub = ns.get(ns.idFromName(BUDGET_OBJECT_NAME)) as unknown as Keeper;
  const counted = <T>(call: () => Promise<T>): Promise<T> => {
    cacheStats.keeper_calls++;
    return call();
  };
  // Each method is called on the stub itself: an RPC stub has no Function.prototype to lean on.
  return {
    lease: (ask) => counted(() => stub.lease(ask)),
    pause: (until) => counted(() => stub.pause(until)),
    recordPurge: (resources) => counted(() => stub.recordPurge(resources)),
    purgesSince: (since) => counted(() => stub.purgesSince(since)),
    foldHot: (counts) => counted(() => stub.foldHot(counts)),
    hotKeys: (limit) => counted(() => stub.hotKeys(limit)),
  };
}

export function coordinatorOf(
  ns: DurableObjectNamespace<KeyCoordinator> | undefined,
  name: string,
): Coordinator | undefined {
  if (!ns) return undefined;
  const stub = ns.get(ns.idFromName(name)) as unknown as Coordinator;
  const counted = <T>(call: () => Promise<T>): Promise<T> => {
    cacheStats.coordinator_calls++;
    return call();
  };
  return {
    begin: (req) => counted(() => stub.begin(req)),
    complete: (key, outcome) => counted(() => stub.complete(key, outcome)),
    awaitLoad: (key) => counted(() => stub.awaitLoad(key)),
    pause: (until) => counted(() => stub.pause(until)),
    leaseTurn: (isolate, newcomer) => counted(() => stub.leaseTurn(isolate, newcomer)),
    leaseTold: (heard) => counted(() => stub.leaseTold(heard)),
  };
}

/** Rejects when `promise` has not settled within `ms` (the object is slow or unreachable). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Records a purge with the keeper (the one record every isolate follows); returns its time. */
export async function recordPurgeWithKeeper(
  ns: DurableObjectNamespace<UpstreamBudget> | undefined,
  resources: string[],
  timeoutMs: number,
): Promise<number> {
  const keeper = keeperOf(ns);
  if (!keeper) throw new Error("UPSTREAM_BUDGET is not bound");
  return within(keeper.recordPurge(resources), timeoutMs);
}
