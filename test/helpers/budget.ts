import { env } from "cloudflare:test";
import { BUDGET_OBJECT_NAME } from "../../src/budget/keeper";
import type { Env } from "../../src/env";

/** The one budget keeper every isolate of the test Worker talks to (as another isolate would). */
export function keeper() {
  const ns = env.UPSTREAM_BUDGET;
  if (!ns) throw new Error("wrangler.toml binds UPSTREAM_BUDGET");
  return ns.get(ns.idFromName(BUDGET_OBJECT_NAME));
}

/**
 * An UPSTREAM_BUDGET binding that forwards every call to the real keeper and records it:
 * `calls` lists the methods the Worker called, in order; `onCall` runs as each call is sent.
 */
export function observedKeeper(onCall: (method: string, args: unknown[]) => void = () => undefined) {
  const real = keeper() as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const calls: string[] = [];
  const stub = new Proxy(
    {},
    {
      get: (_, method) => {
        if (typeof method !== "string" || method === "then") return undefined;
        return (...args: unknown[]) => {
          calls.push(method);
          onCall(method, args);
          return real[method]?.(...args);
        };
      },
    },
  );
  const ns = { idFromName: () => ({}), get: () => stub } as unknown as Env["UPSTREAM_BUDGET"];
  return { ns, calls };
}

/** An UPSTREAM_BUDGET binding whose every call fails (or never answers), as during an outage. */
export function unreachableKeeper(mode: "throw" | "hang" = "throw") {
  const fail = () => (mode === "throw" ? Promise.reject(new Error("keeper unreachable")) : new Promise(() => {}));
  const stub = new Proxy({}, { get: (_, method) => (method === "then" ? undefined : fail) });
  return { idFromName: () => ({}), get: () => stub } as unknown as Env["UPSTREAM_BUDGET"];
}
