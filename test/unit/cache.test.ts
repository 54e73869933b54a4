import { describe, expect, it } from "vitest";
import { etagFor } from "../../src/cache/entry";
import { parseKey } from "../../src/cache/keys";
import { MemoryTier } from "../../src/cache/memory";
import { parsePolicy } from "../../src/cache/policy";
import { shouldWriteKv } from "../../src/cache/tiers";
import { matchesEtag } from "../../src/http/respond";
import { DOCUMENTED_POLICY } from "../helpers/documented";

const entry = (body: string, etag = '"a"') => ({ body, etag, fetchedAt: 0 });

describe("MemoryTier", () => {
  it("evicts the least recently used entry past its entry limit", () => {
    const m = new MemoryTier(2, 1_000_000);
    m.set("a", entry("1"));
    m.set("b", entry("2"));
    m.get("a");
    m.set("c", entry("3"));
    expect(m.get("b")).toBeUndefined();
    expect(m.get("a")?.body).toBe("1");
    expect(m.size).toBe(2);
  });

  it("evicts by bytes and refuses a body bigger than the whole tier", () => {
    // a and b are 132 bytes each as counted: body and ETag (2 bytes a character), the entry
    // object (32), the key and the LRU's record (32). Two do not fit in 250.
    const m = new MemoryTier(100, 250);
    m.set("a", entry("x".repeat(30)));
    m.set("b", entry("x".repeat(30)));
    expect(m.get("a")).toBeUndefined();
    m.set("huge", entry("x".repeat(120)));
    expect(m.get("huge")).toBeUndefined();
    expect(m.get("b")).toBeDefined();
  });

  it("by default keeps thousands of small bodies (a popular catalogue's head): its bytes decide, not a count of 1,000", () => {
    const m = new MemoryTier();
    for (let i = 0; i < 5000; i++) m.set(`v1:track:${i}`, entry("x".repeat(1500)));
    expect(m.size).toBe(5000);
    expect(m.get("v1:track:0")).toBeDefined();
  });
});

describe("shouldWriteKv", () => {
  const keep = 3600;
  it("writes new content, skips unchanged content while the KV copy is young, rewrites it when old", () => {
    const e = entry("x", '"new"');
    expect(shouldWriteKv(e, undefined, undefined, 10_000, keep)).toBe("write");
    expect(shouldWriteKv(e, { etag: '"old"', storedAt: 9_000 }, undefined, 10_000, keep)).toBe("write");
    expect(shouldWriteKv(e, { etag: '"new"', storedAt: 9_000 }, undefined, 10_000, keep)).toBe("unchanged");
    expect(shouldWriteKv(e, { etag: '"new"', storedAt: 0 }, undefined, (keep / 2) * 1000 + 1, keep)).toBe("write");
  });

  it("never writes one key twice within a second", () => {
    expect(shouldWriteKv(entry("x"), undefined, 9_500, 10_000, 3600)).toBe("rate");
    expect(shouldWriteKv(entry("x"), undefined, 9_000, 10_000, 3600)).toBe("write");
  });
});

describe("parsePolicy", () => {
  it("defaults, merges partial overrides given as JSON or object", () => {
    expect(parsePolicy(undefined)).toEqual({ ok: true, policy: DOCUMENTED_POLICY });
    const r = parsePolicy('{"search":{"soft":30}}');
    expect(r.ok && r.policy.search).toEqual({ ...DOCUMENTED_POLICY.search, soft: 30 });
    expect(parsePolicy({ media: { hard: 700_000 } }).ok).toBe(true);
  });

  it.each([
    ["{", "not valid JSON"],
    ['{"nope":{"soft":1}}', "CACHE_POLICY"],
    ['{"entity":{"soft":0}}', "CACHE_POLICY"],
    ['{"entity":{"soft":"5"}}', "CACHE_POLICY"],
    ['{"entity":{"ttl":5}}', "CACHE_POLICY"],
    ['{"entity":{"soft":7200}}', "soft <= hard <= staleIfError"],
  ])("rejects %s", (raw, message) => {
    const r = parsePolicy(raw);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issue).toContain(message);
  });
});

describe("parseKey", () => {
  it("round-trips the params of a plain key and refuses hashed or foreign ones", () => {
    expect(parseKey("v1:track:id=3&with=album%2Ctags")).toEqual({
      route: "track",
      params: { id: "3", with: "album,tags" },
    });
    expect(parseKey("v1:genres:")).toEqual({ route: "genres", params: {} });
    expect(parseKey(`v1:search:sha256=${"a".repeat(64)}`)).toBeUndefined();
    expect(parseKey("v0:track:id=3")).toBeUndefined();
    expect(parseKey("v1:meta:hot")).toEqual({ route: "meta", params: { hot: "" } });
  });
});

describe("ETags", () => {
  it("are strong, quoted and content-derived", async () => {
    const a = await etagFor('{"data":1}');
    expect(a).toMatch(/^"[0-9a-f]{32}"$/);
    expect(await etagFor('{"data":1}')).toBe(a);
    expect(await etagFor('{"data":2}')).not.toBe(a);
  });

  it("If-None-Match uses weak comparison over a list", () => {
    expect(matchesEtag('"a", W/"b"', '"b"')).toBe(true);
    expect(matchesEtag("*", '"b"')).toBe(true);
    expect(matchesEtag('"c"', '"b"')).toBe(false);
    expect(matchesEtag(undefined, '"b"')).toBe(false);
  });
});

describe("writeTiers", () => {
  it("a load that raced another (no KV record of its own) does not cause a rewrite later", async () => {
    const { newEntry } = await import("../../src/cache/entry");
    const { writeTiers } = await import("../../src/cache/tiers");
    const puts: string[] = [];
    const kv = { put: async (k: string) => void puts.push(k) } as unknown as KVNamespace;
    let t = 1_000_000;
    const waits: Promise<unknown>[] = [];
    const deps = {
      kv,
      waitUntil: (p: Promise<unknown>) => void waits.push(p),
      now: () => t,
      fast: { memory: true, cacheApi: false },
    };
    // Two loads of the same content finish 20 ms apart; neither saw the other's write.
    const first = await newEntry('{"data":1}', t);
    writeTiers(deps, "k", first, undefined, 3600);
    t += 20;
    const second = await newEntry('{"data":1}', t);
    writeTiers(deps, "k", second, undefined, 3600);
    // A refresh 5 s later, with the raced entry as "previous": content unchanged, no write.
    t += 5000;
    const third = await newEntry('{"data":1}', t);
    writeTiers(deps, "k", third, second, 3600);
    await Promise.all(waits);
    expect(puts).toEqual(["k"]);
  });
});
