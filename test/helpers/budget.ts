import { env } from "cloudflare:test";
import { BUDGET_OBJECT_NAME } from "../../src/budget/keeper";

/** The one budget keeper every isolate of the test Worker talks to (as another isolate would). */
export function keeper() {
  const ns = env.UPSTREAM_BUDGET;
  if (!ns) throw new Error("wrangler.toml binds UPSTREAM_BUDGET");
  return ns.get(ns.idFromName(BUDGET_OBJECT_NAME));
}
