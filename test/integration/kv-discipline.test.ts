import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { cacheStats } from "../../src/cache/stats";
import { abandonCacheApiEntries, memory } from "../../src/cache/tiers";
import { useClock } from "../helpers/clock";
import { DOCUMENTED_POLICY } from "../helpers/documented";
import { kvWithPut, storedKey } from "../helpers/kv";
import { call } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";

// KV is the costly, rate-limited tier (one write per key per second, paid per write): these
// tests count its writes. In a file of their own because the first one is the suite's
// heaviest (a thousand requests).
const ENTITY = DOCUMENTED_POLICY.entity;
const S = 1000;

describe("KV discipline", () => {
  function countingKv() {
    const puts: string[] = [];
    const wrapped = kvWithPut((key, value, opts, real) => {
      puts.push(key);
      return real(key, value, opts);
    });
    return { wrapped, puts };
  }

  it("1,000 requests over 10 keys write KV once per key while content is unchanged", async () => {
    const clock = useClock();
    const { wrapped, puts } = countingKv();
    const policy = JSON.stringify({ entity: { soft: 2, hard: 4, staleIfError: 3600 } });
    for (let i = 0; i < 1000; i++) {
      const res = await call(`/v1/tracks/${(i % 10) + 1}`, {}, { BEATPASS_CACHE: wrapped, CACHE_POLICY: policy });
      expect(res.status).toBe(200);
      clock.advance(100);
    }
    const dataPuts = puts.filter((k) => !k.startsWith("v1:meta:"));
    expect(dataPuts).toHaveLength(10);
    expect(new Set(dataPuts).size).toBe(10);
    // 100 s of traffic with a 2 s soft TTL: BeatPass saw at most one request per key per soft TTL.
    const perKey = new Map<string, number>();
    for (const p of upstreamPaths()) perKey.set(p, (perKey.get(p) ?? 0) + 1);
    expect(perKey.size).toBe(10);
    for (const n of perKey.values()) expect(n).toBeLessThanOrEqual(100 / 2 + 1);
    expect(cacheStats.kv_writes_skipped_unchanged).toBeGreaterThan(100);
  }, 120_000); // ~4 s idle, 12-24 s seen on a loaded 2-core machine

  it("rewrites KV when the content changes", async () => {
    const clock = useClock();
    const { wrapped, puts } = countingKv();
    await call("/v1/tracks/1", {}, { BEATPASS_CACHE: wrapped });
    clock.advance(ENTITY.hard * S + S);
    fake.addFault({
      kind: "body",
      body: { status: "success", track: { id: 1, name: "Renamed" } },
      path: "/tracks/1",
      times: 1,
    });
    const res = await call("/v1/tracks/1", {}, { BEATPASS_CACHE: wrapped });
    expect(res.json().data.name).toBe("Renamed");
    const key = storedKey("v1:track:id=1");
    expect(puts.filter((k) => !k.startsWith("v1:meta:"))).toEqual([key, key]);
  });

  it.each(["get", "put"] as const)("a KV %s that throws never changes the viewer's response", async (op) => {
    const normal = await call("/v1/tracks/3");
    memory.clear();
    abandonCacheApiEntries();
    await env.BEATPASS_CACHE.delete(storedKey("v1:track:id=3"));
    const kv = env.BEATPASS_CACHE;
    const broken = {
      get: op === "get" ? () => Promise.reject(new Error("boom")) : kv.get.bind(kv),
      getWithMetadata: op === "get" ? () => Promise.reject(new Error("boom")) : kv.getWithMetadata.bind(kv),
      put: op === "put" ? () => Promise.reject(new Error("boom")) : kv.put.bind(kv),
    } as unknown as KVNamespace;
    const res = await call("/v1/tracks/3", {}, { BEATPASS_CACHE: broken });
    expect(res.status).toBe(normal.status);
    expect(res.text).toBe(normal.text);
    expect(res.headers.get("ETag")).toBe(normal.headers.get("ETag"));
  });
});
