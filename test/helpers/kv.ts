import { env } from "cloudflare:test";
import { kvNamespace } from "../../src/cache/namespace";
import { FAKE_API_BASE } from "./constants";

/**
 * What production KV refuses, as Cloudflare documents it (https://developers.cloudflare.com/kv/platform/limits/,
 * https://developers.cloudflare.com/kv/api/write-key-value-pairs/). Written here rather than
 * left to miniflare: the local runtime enforces some of these and not the write rate, and a
 * change there must not silently drop one.
 */
export const KV_LIMITS = {
  /** "Key size: 512 bytes" (UTF-8). */
  keyBytes: 512,
  /** "Expiration targets that are less than 60 seconds into the future are not supported." */
  minTtlSeconds: 60,
  /** "Value size: 25 MiB". */
  valueBytes: 25 * 1024 * 1024,
  /** "Key metadata: 1024 bytes" (its JSON serialisation). */
  metadataBytes: 1024,
  /** "Writes to same key: 1 per second"; more gives 429 errors. */
  writeIntervalMs: 1000,
} as const;

/** A KV operation production would have failed, with the status and reason its error gives. */
export interface KvRefusal {
  op: "get" | "put" | "delete";
  key: string;
  status: number;
  reason: string;
}

/**
 * Refusals since the test began. `test/setup.ts` fails any test that leaves one here; a test
 * that provokes them on purpose takes them with `takeKvRefusals()` and asserts on them.
 */
export const kvRefusals: KvRefusal[] = [];

/** Returns the refusals so far and clears them (for a test that expects some). */
export function takeKvRefusals(): KvRefusal[] {
  return kvRefusals.splice(0);
}

const utf8 = (s: string) => new TextEncoder().encode(s).byteLength;

function keyRefusal(key: string): [number, string] | undefined {
  if (key === "") return [400, "Key names must not be empty"];
  if (key === "." || key === "..") return [400, `Illegal key name "${key}". Please use a different name.`];
  const bytes = utf8(key);
  if (bytes > KV_LIMITS.keyBytes)
    return [414, `UTF-8 encoded length of ${bytes} exceeds key length limit of ${KV_LIMITS.keyBytes}.`];
  return undefined;
}

function valueBytes(value: unknown): number | undefined {
  if (typeof value === "string") return utf8(value);
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return value.byteLength;
  return undefined; // a stream: its length is not known before it is sent
}

/** Why production KV would refuse this put at time `now` (ms), or undefined. */
export function putRefusal(
  key: string,
  value: unknown,
  opts: KVNamespacePutOptions | undefined,
  now: number,
  lastWriteAt: number | undefined,
): [number, string] | undefined {
  const bad = keyRefusal(key);
  if (bad) return bad;
  const ttl = opts?.expirationTtl;
  if (ttl !== undefined && !(ttl >= KV_LIMITS.minTtlSeconds))
    return [400, `Invalid expiration_ttl of ${ttl}. Expiration TTL must be at least ${KV_LIMITS.minTtlSeconds}.`];
  const at = opts?.expiration;
  if (at !== undefined && !(at >= now / 1000 + KV_LIMITS.minTtlSeconds))
    return [
      400,
      `Invalid expiration of ${at}. Expiration times must be at least ${KV_LIMITS.minTtlSeconds} seconds in the future.`,
    ];
  const size = valueBytes(value);
  if (size !== undefined && size > KV_LIMITS.valueBytes)
    return [413, `Value length of ${size} exceeds limit of ${KV_LIMITS.valueBytes}.`];
  if (opts?.metadata !== undefined && opts.metadata !== null) {
    const meta = utf8(JSON.stringify(opts.metadata));
    if (meta > KV_LIMITS.metadataBytes)
      return [413, `Metadata length of ${meta} exceeds limit of ${KV_LIMITS.metadataBytes}.`];
  }
  if (lastWriteAt !== undefined && now - lastWriteAt < KV_LIMITS.writeIntervalMs)
    return [429, `Too Many Requests: one write per second per key (the last was ${now - lastWriteAt} ms ago)`];
  return undefined;
}

// When each key was last written, by Date.now() (so useClock() moves it). The tests have one
// namespace, BEATPASS_CACHE, whichever binding object writes to it.
const lastWrites = new Map<string, number>();
let enforced = false;

/** Forgets the refusals and write times of the previous test. */
export function resetKvLimits(): void {
  kvRefusals.length = 0;
  lastWrites.clear();
}

/**
 * Makes every KV namespace binding in this isolate refuse what production KV refuses: the
 * Worker's requests, its cron run, the budget keeper's own writes (it holds the binding
 * through its own env) and the tests' seeding all go through the same checks. A refused
 * operation throws as production's does and is recorded in `kvRefusals`.
 */
export function enforceKvLimits(): void {
  if (enforced) return;
  enforced = true;
  const proto = Object.getPrototypeOf(env.BEATPASS_CACHE) as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const refuse = (op: KvRefusal["op"], key: string, [status, reason]: [number, string]) => {
    kvRefusals.push({ op, key, status, reason });
    return Promise.reject(new Error(`KV ${op.toUpperCase()} failed: ${status} ${reason}`));
  };
  for (const method of ["get", "getWithMetadata", "delete"] as const) {
    const real = proto[method] as (this: object, ...args: unknown[]) => Promise<unknown>;
    proto[method] = function (this: object, key: unknown, ...rest: unknown[]) {
      // A list of keys (bulk get) is checked key by key.
      for (const k of Array.isArray(key) ? key : [key]) {
        const bad = typeof k === "string" ? keyRefusal(k) : undefined;
        if (bad) return refuse(method === "delete" ? "delete" : "get", String(k), bad);
      }
      return real.call(this, key, ...rest);
    };
  }
  const realPut = proto.put as (this: object, ...args: unknown[]) => Promise<unknown>;
  proto.put = function (this: object, key: unknown, value: unknown, opts?: unknown) {
    const k = String(key);
    const now = Date.now();
    const bad = putRefusal(k, value, opts as KVNamespacePutOptions | undefined, now, lastWrites.get(k));
    if (bad) return refuse("put", k, bad);
    lastWrites.set(k, now);
    return realPut.call(this, key, value, opts);
  };
}

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
