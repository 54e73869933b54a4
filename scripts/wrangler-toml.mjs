import { readFileSync } from "node:fs";

/**
 * What the Node-side tools (benchmark, fleet tests, simulation) read from wrangler.toml, so
 * they run the Worker under the deployed settings rather than copies of them.
 */
const TOML = readFileSync(new URL("../wrangler.toml", import.meta.url), "utf8");

export const COMPAT_DATE = /^compatibility_date = "([^"]+)"/m.exec(TOML)[1];
export const COMPAT_FLAGS = JSON.parse(/^compatibility_flags = (\[.*\])/m.exec(TOML)?.[1] ?? "[]");

/** The top-level [[ratelimits]] (local development and tests), by binding name. */
export function ratelimits() {
  const topLevel = TOML.split(/^\[env\./m)[0] ?? "";
  const out = {};
  const block =
    /\[\[ratelimits\]\]\s*\nname = "([^"]+)"\s*\nnamespace_id = "([^"]+)"\s*\nsimple = \{ limit = (\d+), period = (\d+) \}/g;
  for (const m of topLevel.matchAll(block)) {
    out[m[1]] = { namespace_id: m[2], simple: { limit: Number(m[3]), period: Number(m[4]) } };
  }
  return out;
}
