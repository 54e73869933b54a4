import { env } from "cloudflare:test";
import { kvNamespace } from "../../src/cache/namespace";
import { FAKE_API_BASE } from "./constants";

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

/**
 * The test KV namespace with its reads counted: `reads` lists the key of every get and
 * getWithMetadata, in order.
 */
export function kvCountingReads(): { kv: KVNamespace; reads: string[] } {
  const kv = env.BEATPASS_CACHE;
  const reads: string[] = [];
  const counted =
    <A extends unknown[], R>(f: (key: string, ...rest: A) => R) =>
    (key: string, ...rest: A): R => {
      reads.push(key);
      return f(key, ...rest);
    };
  return {
    reads,
    kv: {
      get: counted(kv.get.bind(kv) as (key: string, ...rest: unknown[]) => unknown),
      getWithMetadata: counted(kv.getWithMetadata.bind(kv) as (key: string, ...rest: unknown[]) => unknown),
      list: kv.list.bind(kv),
      delete: kv.delete.bind(kv),
      put: kv.put.bind(kv),
    } as unknown as KVNamespace,
  };
}

/** The test KV namespace, except that every read fails (a KV outage as the Worker sees it). */
export function kvFailingReads(): KVNamespace {
  const kv = env.BEATPASS_CACHE;
  const fail = async () => {
    throw new Error("KV GET failed: 503 Service Unavailable");
  };
  return {
    get: fail,
    getWithMetadata: fail,
    put: kv.put.bind(kv),
    delete: kv.delete.bind(kv),
    list: kv.list.bind(kv),
  } as unknown as KVNamespace;
}

/**
 * Where the Worker under test stores a cache key in KV: under the namespace of the fake's
 * API base (src/cache/namespace.ts; tests of that rule assert the behaviour, not this).
 */
export function storedKey(key: string, apiBase = FAKE_API_BASE): string {
  const ns = kvNamespace(new URL(apiBase));
  return ns ? `${ns}:${key}` : key;
}
