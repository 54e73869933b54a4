import { env } from "cloudflare:test";
import { keyShard, locationCoordinator } from "../../src/budget/coordination";
import { BUDGET_OBJECT_NAME } from "../../src/budget/keeper";
import type { Env } from "../../src/env";

/** Where the Worker under test runs: requests in the test pool carry no request.cf.colo. */
export const TEST_LOCATION = "local";

/** The one budget keeper every isolate of the test Worker renews its lease with. */
export function keeper() {
  const ns = env.UPSTREAM_BUDGET;
  if (!ns) throw new Error("wrangler.toml binds UPSTREAM_BUDGET");
  return ns.get(ns.idFromName(BUDGET_OBJECT_NAME));
}

/**
 * The coordinator another isolate would ask about `key` (coordination.ts): this location's
 * for a viewer's miss, the key's shard for a refresh.
 */
export function coordinator(key: string, cls: "viewer" | "refresh" | "scheduled" = "viewer") {
  const ns = env.COORDINATORS;
  if (!ns) throw new Error("wrangler.toml binds COORDINATORS");
  return ns.get(ns.idFromName(cls === "viewer" ? locationCoordinator(TEST_LOCATION) : keyShard(key)));
}

/**
 * A Durable Object binding that forwards every call to the real objects and records it:
 * `calls` lists the methods the Worker called, in order; `onCall` runs as each call is sent.
 */
function observed<K extends "UPSTREAM_BUDGET" | "COORDINATORS">(
  binding: K,
  onCall: (method: string, args: unknown[]) => void,
) {
  const real = env[binding] as unknown as DurableObjectNamespace;
  const calls: string[] = [];
  const ns = {
    idFromName: (name: string) => real.idFromName(name),
    get: (id: DurableObjectId) => {
      const stub = real.get(id) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      return new Proxy(
        {},
        {
          get: (_, method) => {
            if (typeof method !== "string" || method === "then") return undefined;
            return (...args: unknown[]) => {
              calls.push(method);
              onCall(method, args);
              return stub[method]?.(...args);
            };
          },
        },
      );
    },
  } as unknown as Env[K];
  return { ns, calls };
}

/** The keeper binding, observed (see observed). */
export function observedKeeper(onCall: (method: string, args: unknown[]) => void = () => undefined) {
  return observed("UPSTREAM_BUDGET", onCall);
}

/** The coordinators' binding, observed (see observed). */
export function observedCoordinators(onCall: (method: string, args: unknown[]) => void = () => undefined) {
  return observed("COORDINATORS", onCall);
}

/** A Durable Object binding whose every call fails (or never answers), as during an outage. */
export function unreachable<T = Env["UPSTREAM_BUDGET"]>(mode: "throw" | "hang" = "throw"): T {
  const fail = () => (mode === "throw" ? Promise.reject(new Error("object unreachable")) : new Promise(() => {}));
  const stub = new Proxy({}, { get: (_, method) => (method === "then" ? undefined : fail) });
  return { idFromName: () => ({}), get: () => stub } as unknown as T;
}

/** The keeper, unreachable (see unreachable). */
export function unreachableKeeper(mode: "throw" | "hang" = "throw") {
  return unreachable<Env["UPSTREAM_BUDGET"]>(mode);
}
