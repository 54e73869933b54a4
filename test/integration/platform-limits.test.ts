import {
  createExecutionContext,
  createScheduledController,
  env,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { resetTiers } from "../../src/cache/tiers";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { keeper, observedCoordinators, observedKeeper } from "../helpers/budget";
import { useClock } from "../helpers/clock";
import { CANARY_TOKEN, CANARY_TOKEN_NEXT } from "../helpers/constants";
import { DOCUMENTED_POLICY } from "../helpers/documented";
import { createKey } from "../helpers/keys";
import { KV_LIMITS, putRefusal, storedKey, takeKvRefusals } from "../helpers/kv";
import { signedPurge } from "../helpers/purge";
import { call, checked, ORIGIN } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";

/**
 * Cloudflare limits the Worker depends on that the local runtime does not (all) enforce:
 * docs/development.md, "Platform limits the local runtime does not enforce", lists each with
 * the test that fails when the Worker would cross it.
 */

// https://developers.cloudflare.com/kv/platform/limits/ (written out, not read from helpers/kv.ts).
const KEY_BYTES = 512;
const MIN_TTL_SECONDS = 60;
const METADATA_BYTES = 1024;
const VALUE_BYTES = 25 * 1024 * 1024;

const bytes = (s: string) => new TextEncoder().encode(s).byteLength;
/** Every KV key the Worker wrote that holds data (not its own bookkeeping under v1:meta:). */
async function dataKeys() {
  return (await env.BEATPASS_CACHE.list()).keys.filter((k) => !k.name.startsWith("v1:meta:"));
}

describe("the tests' KV refuses what production KV refuses", () => {
  it("states Cloudflare's documented limits", () => {
    expect(KV_LIMITS).toEqual({
      keyBytes: KEY_BYTES,
      minTtlSeconds: MIN_TTL_SECONDS,
      valueBytes: VALUE_BYTES,
      metadataBytes: METADATA_BYTES,
      writeIntervalMs: 1000,
    });
  });

  it("a key of 512 UTF-8 bytes is accepted, 513 refused (414), and empty, '.' and '..' refused (400)", async () => {
    const kv = env.BEATPASS_CACHE;
    await kv.put("é".repeat(256), "x");
    await expect(kv.put(`${"é".repeat(256)}a`, "x")).rejects.toThrow(/414/);
    await expect(kv.get(`${"é".repeat(256)}a`)).rejects.toThrow(/414/);
    for (const key of ["", ".", ".."]) await expect(kv.put(key, "x")).rejects.toThrow(/400/);
    expect(takeKvRefusals().map((r) => [r.op, r.status])).toEqual([
      ["put", 414],
      ["get", 414],
      ["put", 400],
      ["put", 400],
      ["put", 400],
    ]);
  });

  it("expirationTtl below 60 s and an expiration less than 60 s ahead are refused (400)", async () => {
    const kv = env.BEATPASS_CACHE;
    await expect(kv.put("a", "x", { expirationTtl: 59 })).rejects.toThrow(/400/);
    await kv.put("a", "x", { expirationTtl: 60 });
    const now = Date.now() / 1000;
    await expect(kv.put("b", "x", { expiration: Math.floor(now) + 59 })).rejects.toThrow(/400/);
    await kv.put("b", "x", { expiration: Math.ceil(now) + 120 });
    expect(takeKvRefusals().map((r) => [r.key, r.status])).toEqual([
      ["a", 400],
      ["b", 400],
    ]);
    // The edges, exactly (the real KV's own clock would blur them by the time it checks).
    expect(putRefusal("c", "x", { expiration: 1060 }, 1_000_000, undefined)).toBeUndefined();
    expect(putRefusal("c", "x", { expiration: 1059 }, 1_000_000, undefined)?.[0]).toBe(400);
  });

  it("a value over 25 MiB and metadata over 1024 bytes of JSON are refused (413)", async () => {
    const kv = env.BEATPASS_CACHE;
    const meta = (n: number) => ({ s: "x".repeat(n - bytes('{"s":""}')) });
    await kv.put("m", "x", { metadata: meta(METADATA_BYTES) });
    await expect(kv.put("n", "x", { metadata: meta(METADATA_BYTES + 1) })).rejects.toThrow(/413/);
    await expect(kv.put("v", "x".repeat(VALUE_BYTES + 1))).rejects.toThrow(/413/);
    expect(takeKvRefusals().map((r) => [r.key, r.status])).toEqual([
      ["n", 413],
      ["v", 413],
    ]);
    expect(putRefusal("v", "x".repeat(VALUE_BYTES), undefined, 0, undefined)).toBeUndefined();
  });

  it("a second write to one key within a second is refused (429); a second later it is accepted", async () => {
    const clock = useClock();
    const kv = env.BEATPASS_CACHE;
    await kv.put("k", "1");
    await kv.put("other", "1"); // the rule is per key
    clock.advance(999);
    await expect(kv.put("k", "2")).rejects.toThrow(/429/);
    clock.advance(1);
    await kv.put("k", "3");
    expect(await kv.get("k")).toBe("3");
    expect(takeKvRefusals().map((r) => [r.key, r.status])).toEqual([["k", 429]]);
  });

  it("the budget keeper's own KV binding is held to the same rules", async () => {
    await runInDurableObject(keeper(), async (instance) => {
      const kv = (instance as unknown as { env: { BEATPASS_CACHE: KVNamespace } }).env.BEATPASS_CACHE;
      await expect(kv.put("k", "x", { expirationTtl: 30 })).rejects.toThrow(/400/);
    });
    expect(takeKvRefusals().map((r) => [r.key, r.status])).toEqual([["k", 400]]);
  });
});

describe("KV's 60 s minimum TTL", () => {
  // Search windows of a CACHE_POLICY under a minute: the copy must still reach KV (the
  // last-known-good copy an outage is served from), kept max(60, staleIfError) seconds.
  it.each([59, 60, 61])("a search policy with staleIfError %i s still stores its entry in KV", async (window) => {
    const policy = JSON.stringify({ search: { soft: 10, hard: 30, staleIfError: window } });
    const before = Date.now();
    const res = await call("/v1/search?query=night", {}, { CACHE_POLICY: policy });
    const after = Date.now();
    expect(res.status).toBe(200);
    const keys = await dataKeys();
    expect(keys.map((k) => k.name)).toEqual([storedKey("v1:search:limit=3&query=night")]);
    expect(JSON.parse((await env.BEATPASS_CACHE.get(keys[0]?.name ?? "")) ?? "null")).toEqual(res.json());
    const ttl = Math.max(MIN_TTL_SECONDS, window);
    // KV stores an expiry in whole seconds, from its own clock.
    expect(keys[0]?.expiration).toBeGreaterThanOrEqual(Math.floor(before / 1000) + ttl);
    expect(keys[0]?.expiration).toBeLessThanOrEqual(Math.ceil(after / 1000) + ttl);
  });
});

describe("KV's 512-byte keys", () => {
  // README: a search query is at most 100 characters. The plain key of a search is
  // `v1:search:limit=3&query=<percent-encoded query>`, stored under the fake's namespace
  // prefix; "é" takes 6 bytes percent-encoded, so 100 characters reach well past 512.
  const plainKey = (query: string) => `v1:search:limit=3&query=${encodeURIComponent(query)}`;
  const queryFor = (storedBytes: number) => {
    const ascii = storedBytes - bytes(storedKey(plainKey("")));
    const accents = Math.floor((ascii - 100) / 5) + 1;
    return "é".repeat(accents) + "a".repeat(ascii - accents * 6);
  };

  it.each([
    [512, queryFor(512)],
    [513, queryFor(513)],
    [536, `${"é".repeat(80)}${"b".repeat(20)}`],
  ])(
    "a search whose key would be %i bytes is stored under one of at most 512 and served from KV",
    async (size, query) => {
      expect(query.length).toBeLessThanOrEqual(100);
      expect(bytes(storedKey(plainKey(query)))).toBe(size);
      const path = `/v1/search?query=${encodeURIComponent(query)}`;
      const first = await call(path);
      expect(first.status).toBe(200);
      const keys = await dataKeys();
      expect(keys).toHaveLength(1);
      expect(bytes(keys[0]?.name ?? "")).toBeLessThanOrEqual(KEY_BYTES);
      resetTiers(); // memory and Cache API gone: only KV has it
      const again = await call(path);
      expect(again.headers.get("Cache-Status")).toContain("detail=kv");
      expect(again.text).toBe(first.text);
      expect(upstreamPaths()).toEqual(["/search"]);
    },
  );
});

// https://developers.cloudflare.com/workers/platform/limits/ (Subrequests; Cache API limits):
// Workers Free allows 50 subrequests per invocation (fetch() and, in the same quota, Cache API
// calls; a Service binding call is counted here too, to be safe) and 1,000 to Cloudflare
// services (KV, Durable Objects); Workers Paid 10,000 in all.
// https://developers.cloudflare.com/kv/platform/limits/: 1,000 KV operations per invocation.
const FREE_SUBREQUESTS = 50;
const SERVICE_SUBREQUESTS = 1000;
const PAID_SUBREQUESTS = 10_000;
const KV_OPERATIONS = 1000;

const RATE_LIMITERS = [
  "RATE_LIMIT_ANON",
  "RATE_LIMIT_STANDARD",
  "RATE_LIMIT_PARTNER",
  "MISS_LIMIT_ANON",
  "MISS_LIMIT_STANDARD",
  "MISS_LIMIT_PARTNER",
] as const;

/**
 * Bindings that count every subrequest the Worker makes through them, for one invocation:
 * fetch() (the setup's fetch mock), Cache API calls, KV operations, budget keeper calls, the
 * rasteriser and the rate limiters.
 */
function subrequestMeter() {
  const n = { cacheApi: 0, kv: 0, raster: 0, rateLimit: 0 };
  const fetches = vi.mocked(globalThis.fetch).mock.calls.length;
  const cache = caches.default as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const spies = (["match", "put", "delete"] as const).map((method) => {
    const real = cache[method]?.bind(cache) as (...args: unknown[]) => Promise<unknown>;
    return vi.spyOn(cache, method).mockImplementation((...args: unknown[]) => {
      n.cacheApi++;
      return real(...args);
    });
  });
  const kv = env.BEATPASS_CACHE as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const countedKv = Object.fromEntries(
    ["get", "getWithMetadata", "put", "delete", "list"].map((method) => [
      method,
      (...args: unknown[]) => {
        n.kv++;
        return kv[method]?.(...args);
      },
    ]),
  );
  const observed = observedKeeper();
  const coordination = observedCoordinators();
  const raster = env.RASTER as Fetcher;
  const bindings: Partial<Env> = {
    BEATPASS_CACHE: countedKv as unknown as KVNamespace,
    UPSTREAM_BUDGET: observed.ns,
    COORDINATORS: coordination.ns,
    RASTER: {
      fetch: (...args: Parameters<Fetcher["fetch"]>) => {
        n.raster++;
        return raster.fetch(...args);
      },
    } as unknown as Fetcher,
  };
  for (const name of RATE_LIMITERS) {
    const real = env[name] as RateLimit;
    bindings[name] = {
      limit: (options: RateLimitOptions) => {
        n.rateLimit++;
        return real.limit(options);
      },
    };
  }
  return {
    bindings,
    /** What was counted so far; `external` is what Workers Free caps at 50. */
    counts() {
      const fetch = vi.mocked(globalThis.fetch).mock.calls.length - fetches;
      const keeperCalls = observed.calls.length + coordination.calls.length;
      return {
        fetch,
        cacheApi: n.cacheApi,
        raster: n.raster,
        kv: n.kv,
        keeper: keeperCalls,
        rateLimit: n.rateLimit,
        external: fetch + n.cacheApi + n.raster,
        services: n.kv + keeperCalls + n.rateLimit,
      };
    },
    stop: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

/** One invocation of the Worker's fetch handler (binary bodies too), waiting for its waitUntil work. */
async function invoke(path: string, init: RequestInit, bindings: Partial<Env>) {
  const ctx = createExecutionContext();
  const req = new Request(`${ORIGIN}${path}`, init);
  if (!req.headers.has("CF-Connecting-IP")) req.headers.set("CF-Connecting-IP", "203.0.113.7");
  const res = await worker.fetch(req, { ...env, ...bindings }, ctx);
  const body = new Uint8Array(await res.arrayBuffer());
  await waitOnExecutionContext(ctx);
  return checked(res, new TextDecoder("latin1").decode(body));
}

describe("subrequests per invocation", () => {
  /** The faults that make one upstream load as costly as the client allows: a network retry on each token, and a 401 that rotates to BEATPASS_TOKEN_NEXT. */
  function costliestLoad(path: string) {
    fake.acceptTokens([CANARY_TOKEN, CANARY_TOKEN_NEXT]);
    fake.addFault({ kind: "network", path, times: 1 });
    fake.addFault({ kind: "status", status: 401, path, times: 1 });
    fake.addFault({ kind: "network", path, times: 1 });
  }

  it("a JSON miss with a network retry on each token and a token rotation stays within Workers Free", async () => {
    const key = await createKey({ tier: "standard" });
    costliestLoad("/tracks/1");
    const meter = subrequestMeter();
    const res = await invoke(
      "/v1/tracks/1",
      { headers: { "X-Api-Key": key } },
      { ...meter.bindings, BEATPASS_TOKEN_NEXT: CANARY_TOKEN_NEXT },
    );
    const n = meter.counts();
    meter.stop();
    expect(res.status).toBe(200);
    // README, "Resilience": one retry after a network error, one retry on BEATPASS_TOKEN_NEXT after a 401.
    expect(n.fetch).toBe(4);
    expect(n.external).toBeLessThanOrEqual(FREE_SUBREQUESTS);
    expect(n.services).toBeLessThanOrEqual(SERVICE_SUBREQUESTS);
  });

  it("a PNG track card with artwork, every read cold and the track's load the costliest, stays within Workers Free", async () => {
    costliestLoad("/tracks/3");
    const meter = subrequestMeter();
    const res = await invoke("/widget/track/3.png", {}, { ...meter.bindings, BEATPASS_TOKEN_NEXT: CANARY_TOKEN_NEXT });
    const n = meter.counts();
    meter.stop();
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/png");
    expect(res.headers.get("X-Problem-Code")).toBeNull();
    // The track (4 attempts), its waveform, its artwork; then the rasteriser.
    expect(fake.requests.map((r) => r.path)).toEqual([
      "/api/v1/tracks/3",
      "/api/v1/tracks/3",
      "/api/v1/tracks/3",
      "/api/v1/tracks/3",
      "/api/v1/tracks/3/wave",
      expect.stringMatching(/^\/images\//),
    ]);
    expect(n.raster).toBe(1);
    expect(n.external).toBeLessThanOrEqual(FREE_SUBREQUESTS);
    expect(n.services).toBeLessThanOrEqual(SERVICE_SUBREQUESTS);
  });

  it("a purge of the maximum 100 resources stays within Workers Free", async () => {
    const secret = "purge-secret-for-tests-0123456789abcdef";
    // README, "Purge": at most 100 resources per request.
    const resources = Array.from({ length: 100 }, (_, i) => `track:${i + 1}`);
    const meter = subrequestMeter();
    const res = await invoke("/hooks/purge", await signedPurge(secret, JSON.stringify({ resources })), {
      ...meter.bindings,
      PURGE_WEBHOOK_SECRET: secret,
    });
    const n = meter.counts();
    meter.stop();
    expect(res.status).toBe(200);
    expect(res.json().purged).toHaveLength(100);
    expect(n.keeper).toBe(1); // the whole purge is one call to the keeper, whatever its size
    expect(n.external).toBeLessThanOrEqual(FREE_SUBREQUESTS);
    expect(n.services).toBeLessThanOrEqual(SERVICE_SUBREQUESTS);
  });

  it("the refresh-ahead run, every candidate cold and the largest budget, stays within Workers Paid and KV's 1,000 operations", async () => {
    // The shared hot list holds 120 keys the fake has; a run considers at most 100.
    const keys = [
      ...Array.from({ length: 60 }, (_, i) => `v1:track:id=${i + 1}`),
      ...Array.from({ length: 60 }, (_, i) => `v1:track-wave:id=${i + 1}`),
    ];
    await env.BEATPASS_CACHE.put("v1:meta:hot", JSON.stringify(Object.fromEntries(keys.map((k, i) => [k, 1000 - i]))));
    const meter = subrequestMeter();
    const ctx = createExecutionContext();
    await worker.scheduled(
      createScheduledController({ cron: "* * * * *" }),
      // README, "Configuration": REFRESH_BUDGET_PER_MINUTE is at most 300.
      { ...env, ...meter.bindings, REFRESH_BUDGET_PER_MINUTE: "300" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const n = meter.counts();
    meter.stop();
    expect(n.fetch + n.cacheApi + n.kv + n.keeper).toBeLessThanOrEqual(PAID_SUBREQUESTS);
    expect(n.kv).toBeLessThanOrEqual(KV_OPERATIONS);
    expect(n.services).toBeLessThanOrEqual(SERVICE_SUBREQUESTS);
  });
});

describe("Durable Object calls per viewer request", () => {
  // One Durable Object takes about 1,000 requests a second
  // (https://developers.cloudflare.com/durable-objects/platform/limits/). The keeper is one
  // object for the whole deployment, so no request's path goes through it: docs/caching.md,
  // "What coordination costs": a load asks its coordinator once and reports its outcome once
  // (one object per location, 16 by key); the keeper only renews leases; a cache hit asks nobody.
  const COORDINATOR_CALLS_PER_LOAD = 2;

  it("a burst of 100 requests to cached keys asks neither the keeper nor a coordinator", async () => {
    for (let id = 1; id <= 5; id++) expect((await call(`/v1/tracks/${id}`)).status).toBe(200);
    const k = observedKeeper();
    const c = observedCoordinators();
    for (let i = 0; i < 100; i++) {
      const res = await call(`/v1/tracks/${(i % 5) + 1}`, {}, { UPSTREAM_BUDGET: k.ns, COORDINATORS: c.ns });
      expect(res.status).toBe(200);
    }
    expect([k.calls, c.calls]).toEqual([[], []]);
  });

  it("cold requests make two coordinator calls per upstream request (two more per lease asked without a live one) and the keeper only lease renewals, under one in two even in a cold isolate: a JSON miss, a card of two reads, a stale refresh", async () => {
    const clock = useClock();
    const k = observedKeeper();
    const c = observedCoordinators();
    const over = { UPSTREAM_BUDGET: k.ns, COORDINATORS: c.ns };
    for (let id = 1; id <= 10; id++) expect((await call(`/v1/tracks/${id}`, {}, over)).status).toBe(200);
    expect((await call("/widget/track/11", {}, over)).status).toBe(200); // the track and its waveform
    clock.advance(DOCUMENTED_POLICY.entity.soft * 1000 + 1000);
    expect((await call("/v1/tracks/1", {}, over)).headers.get("Cache-Status")).toContain("stale-while-revalidate");
    const loads = upstreamPaths();
    expect(loads).toHaveLength(13);
    const perLoad = c.calls.filter((m) => m === "begin" || m === "complete");
    expect(perLoad).toEqual(Array(loads.length).fill(["begin", "complete"]).flat());
    expect(perLoad.length).toBe(COORDINATOR_CALLS_PER_LOAD * loads.length);
    // An isolate with no live lease asks its location's gate before the keeper, and tells it the answer.
    const gate = c.calls.filter((m) => m !== "begin" && m !== "complete");
    expect(new Set(gate)).toEqual(new Set(["leaseTurn", "leaseTold"]));
    expect(gate.filter((m) => m === "leaseTurn").length).toBe(gate.filter((m) => m === "leaseTold").length);
    expect(gate.length / 2).toBeLessThanOrEqual(k.calls.length);
    // A cold isolate's lease starts small and grows with its demand (docs/caching.md), and it
    // outlives no LEASE_MS: a few renewals here; a warm fleet's ratio is test/fleet/leases.test.ts's.
    expect(new Set(k.calls)).toEqual(new Set(["lease"]));
    expect(k.calls.length).toBeLessThan(loads.length / 2);
  });
});
