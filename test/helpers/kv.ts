import { env } from "cloudflare:test";

type Put = (key: string, value: string, opts?: KVNamespacePutOptions) => Promise<void>;

/**
 * The test KV namespace with its writes going through `put` (to count or refuse them);
 * `put` receives the real namespace's put to pass a write on.
 */
export function kvWithPut(
  put: (key: string, value: string, opts: KVNamespacePutOptions | undefined, real: Put) => Promise<void>,
): KVNamespace {
  const kv = env.BEATPASS_CACHE;
  const real: Put = (key, value, opts) => kv.put(key, value, opts);
  return {
    get: kv.get.bind(kv),
    getWithMetadata: kv.getWithMetadata.bind(kv),
    list: kv.list.bind(kv),
    delete: kv.delete.bind(kv),
    put: (key: string, value: string, opts?: KVNamespacePutOptions) => put(key, value, opts, real),
  } as unknown as KVNamespace;
}
