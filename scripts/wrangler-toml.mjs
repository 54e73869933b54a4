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

/**
 * The top-level KV namespaces and Durable Objects, as miniflare options: every class a
 * `new_sqlite_classes` migration names is SQLite-backed, as deployed.
 */
export function storage() {
  const topLevel = TOML.split(/^\[env\./m)[0] ?? "";
  const sqlite = new Set(
    [...topLevel.matchAll(/^new_sqlite_classes = (\[.*\])/gm)].flatMap((m) => JSON.parse(m[1] ?? "[]")),
  );
  const kvNamespaces = [...topLevel.matchAll(/\[\[kv_namespaces\]\]\s*\nbinding = "([^"]+)"/g)].map((m) => m[1]);
  const durableObjects = {};
  for (const m of topLevel.matchAll(
    /\[\[durable_objects\.bindings\]\]\s*\nname = "([^"]+)"\s*\nclass_name = "([^"]+)"/g,
  ))
    durableObjects[m[1]] = { className: m[2], useSQLite: sqlite.has(m[2]) };
  return { kvNamespaces, durableObjects };
}
