import { DEFAULT_API_BASE } from "../env";
import { fnv1a } from "../lib/hash";

/**
 * Cached data is stored under a namespace of the BeatPass it came from: nothing for
 * BeatPass itself (the deployed case, whose keys stay as they were), a short hash of the base
 * for any other (the local fake, a staging API). So `npm start` (the fake) and `npm run dev`
 * (the real BeatPass) cannot serve each other's data, even from one state folder, and
 * pointing a deployment at another API never serves the old one's copies.
 */
export function kvNamespace(apiBase: URL): string {
  const href = apiBase.href.replace(/\/$/, "");
  if (href === DEFAULT_API_BASE) return "";
  // A name, not a secret; synchronous, so no await on the hot path.
  return `ns-${fnv1a(href).toString(16).padStart(8, "0")}`;
}

const wrapped = new WeakMap<KVNamespace, Map<string, KVNamespace>>();

/** The KV binding with every key under `ns` ("" = the binding itself). */
export function namespaced(kv: KVNamespace, ns: string): KVNamespace {
  if (!ns) return kv;
  let byNs = wrapped.get(kv);
  if (!byNs) {
    byNs = new Map();
    wrapped.set(kv, byNs);
  }
  let view = byNs.get(ns);
  if (!view) {
    const at = (key: string) => `${ns}:${key}`;
    view = {
      get: (key: string, opts?: unknown) => kv.get(at(key), opts as never),
      getWithMetadata: (key: string, opts?: unknown) => kv.getWithMetadata(at(key), opts as never),
      put: (key: string, value: unknown, opts?: unknown) => kv.put(at(key), value as never, opts as never),
      delete: (key: string) => kv.delete(at(key)),
      list: (opts?: { prefix?: string }) => kv.list({ ...opts, prefix: at(opts?.prefix ?? "") }),
    } as unknown as KVNamespace;
    byNs.set(ns, view);
  }
  return view;
}
