import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { resetTiers } from "../../src/cache/tiers";
import { keeper } from "../helpers/budget";
import { useClock } from "../helpers/clock";
import { KV_LIMITS, putRefusal, storedKey, takeKvRefusals } from "../helpers/kv";
import { call } from "../helpers/request";
import { upstreamPaths } from "../helpers/upstream";

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
