import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { memory, resetTiers } from "../../src/cache/tiers";
import { requireConfig } from "../../src/env";
import { inputForRequest, readRequestOf } from "../../src/routes/catalog";
import { tierDeps } from "../../src/routes/deps";
import { serveRead } from "../../src/routes/serve-read";
import { useClock } from "../helpers/clock";
import { DOCUMENTED_POLICY } from "../helpers/documented";
import { storedKey } from "../helpers/kv";
import { call } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";
import { logLines } from "../setup";

/** Track 1 loaded (into memory), and its read route's answer as `serveRead` gives it, with the loads it leaves in the background. */
async function trackOneInMemory() {
  await call("/v1/tracks/1");
  const config = requireConfig(env);
  const input = await inputForRequest("track", { id: "1" });
  if (!input) throw new Error("track 1 is a valid request");
  const background: Promise<unknown>[] = [];
  const deps = tierDeps(env, { waitUntil: (p) => background.push(p) }, config);
  const read = () => serveRead(readRequestOf("track", input, config, env, deps));
  return { deps, read, background };
}

describe("KV cache", () => {
  it("serves a repeated request from cache with no upstream request, saying how old it is", async () => {
    const clock = useClock();
    const first = await call("/v1/tracks/1");
    expect(first.headers.get("Age")).toBe("0"); // just fetched
    clock.advance(42_000);
    const second = await call("/v1/tracks/1");
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    const left = DOCUMENTED_POLICY.entity.soft - 42;
    expect(second.headers.get("Cache-Status")).toBe(`beatpass-edge; hit; ttl=${left}; detail=memory`);
    expect(second.headers.get("Age")).toBe("42");
    // max-age is the whole soft window: a cache downstream subtracts Age itself (shared-cache.test.ts).
    expect(second.headers.get("Cache-Control")).toMatch(
      new RegExp(`^public, max-age=${DOCUMENTED_POLICY.entity.soft}, `),
    );
    expect(upstreamPaths()).toEqual(["/tracks/1"]);
  });

  it("answers a copy in memory without a promise, a stale one too (refreshing it in the background), not one past its hard window", async () => {
    const clock = useClock();
    const { read, background } = await trackOneInMemory();
    expect(read()).toMatchObject({ state: "fresh", tier: "memory" });
    clock.advance((DOCUMENTED_POLICY.entity.soft + 1) * 1000);
    expect(read()).toMatchObject({ state: "stale", tier: "memory" });
    await Promise.all(background);
    expect(upstreamPaths(), "the stale copy's refresh").toEqual(["/tracks/1", "/tracks/1"]);
    clock.advance(DOCUMENTED_POLICY.entity.hard * 1000);
    const old = read();
    expect(old, "past its hard window: the tiers and BeatPass are asked").toBeInstanceOf(Promise);
    expect(await old).toMatchObject({ state: "miss" });
  });

  it("starts no refresh of a stale copy while admission holds it back, and one once it lets it go", async () => {
    const clock = useClock();
    const { deps, read, background } = await trackOneInMemory();
    const admitted = deps.coordinator;
    if (!admitted) throw new Error("the test environment binds the keeper");
    const asked: { staleForMs: number; windowMs: number }[] = [];
    let holding = true;
    deps.coordinator = {
      holdsBack: (_key, staleForMs, windowMs) => {
        asked.push({ staleForMs, windowMs });
        return holding;
      },
      begin: (...args) => admitted.begin(...args),
      pause: (s) => admitted.pause(s),
    };
    clock.advance((DOCUMENTED_POLICY.entity.soft + 2) * 1000);
    expect(read()).toMatchObject({ state: "stale" });
    await Promise.all(background);
    expect(upstreamPaths(), "held back: no refresh").toEqual(["/tracks/1"]);
    const { soft, hard } = DOCUMENTED_POLICY.entity;
    expect(asked).toEqual([{ staleForMs: 2_000, windowMs: (hard - soft) * 1000 }]);
    holding = false;
    read();
    await Promise.all(background);
    expect(upstreamPaths()).toEqual(["/tracks/1", "/tracks/1"]);
  });

  it("reads the age of a KV copy from KV, not from when this isolate saw it", async () => {
    const clock = useClock();
    await call("/v1/tracks/1");
    resetTiers(); // a cold isolate: only KV has the copy
    clock.advance(100_000);
    const res = await call("/v1/tracks/1");
    expect(res.headers.get("Cache-Status")).toBe(
      `beatpass-edge; hit; ttl=${DOCUMENTED_POLICY.entity.soft - 100}; detail=kv`,
    );
    expect(res.headers.get("Age")).toBe("100");
    clock.advance(DOCUMENTED_POLICY.entity.soft * 1000);
    resetTiers();
    const stale = await call("/v1/tracks/1");
    expect(stale.headers.get("Cache-Status")).toContain("detail=stale-while-revalidate");
  });

  it("reads the age of a Cache API copy from the copy", async () => {
    const clock = useClock();
    await call("/v1/tracks/2");
    memory.clear(); // the Cache API still has it
    clock.advance(DOCUMENTED_POLICY.entity.soft * 1000 + 5000);
    const res = await call("/v1/tracks/2");
    expect(res.headers.get("Cache-Status")).toContain("detail=stale-while-revalidate");
    expect(res.headers.get("Age")).toBe(String(DOCUMENTED_POLICY.entity.soft + 5));
  });

  it("stores the normalised body under a versioned key with the route family's TTL", async () => {
    const before = Math.floor(Date.now() / 1000);
    await call("/v1/tracks/1?with=tags,album");
    const after = Math.ceil(Date.now() / 1000);
    const { keys } = await env.BEATPASS_CACHE.list();
    expect(keys.map((k) => k.name)).toEqual([storedKey("v1:track:id=1&with=album%2Ctags")]);
    const stored = await env.BEATPASS_CACHE.getWithMetadata<{ fetched_at: number; etag: string }>(keys[0]!.name);
    expect(JSON.parse(stored.value!).data.id).toBe(1);
    expect(stored.metadata?.fetched_at).toBeTypeOf("number");
    expect(stored.metadata?.etag).toMatch(/^"[0-9a-f]{32}"$/);
    // Written between `before` and `after`, to be kept for the stale-if-error window.
    expect(keys[0]!.expiration).toBeGreaterThanOrEqual(before + DOCUMENTED_POLICY.entity.staleIfError);
    expect(keys[0]!.expiration).toBeLessThanOrEqual(after + DOCUMENTED_POLICY.entity.staleIfError);
  });

  it("parameter order, defaults and unknown parameters do not change the key", async () => {
    await call("/v1/tracks?per_page=5&page=1&query=ghost");
    await call("/v1/tracks?query=ghost&utm_source=x&per_page=5");
    await call("/v1/tracks?perPage=5&query=ghost&page=1");
    expect(upstreamPaths()).toEqual(["/tracks"]);
  });

  it.each([
    "/v1/genres",
    "/v1/tracks/1",
    "/v1/artists/3?with=albums",
    "/v1/search?query=night",
    "/v1/tracks?page=2",
    "/v1/tags/dark/tracks",
  ])("unknown parameters on %s are neither forwarded nor part of the key", async (path) => {
    const sep = path.includes("?") ? "&" : "?";
    for (const junk of ["junk=1", "junk=2&utm_source=x", "JUNK=3", "junk"]) {
      expect((await call(`${path}${sep}${junk}`)).status).toBe(200);
    }
    expect(fake.requests).toHaveLength(1);
    for (const name of Object.keys(fake.requests[0]!.query)) expect(name).not.toMatch(/junk|utm/i);
  });

  it("different parameters are different entries", async () => {
    await call("/v1/tracks?page=1");
    await call("/v1/tracks?page=2");
    await call("/v1/tracks/1?with=tags");
    await call("/v1/tracks/1");
    expect(upstreamPaths()).toEqual(["/tracks", "/tracks", "/tracks/1", "/tracks/1"]);
  });

  it("never caches 5xx, 429 or invalid payloads", async () => {
    fake.addFault({ kind: "status", status: 500, path: "/albums/2", times: 1 });
    fake.addFault({ kind: "status", status: 429, path: "/albums/3", times: 1 });
    fake.addFault({ kind: "body", body: { status: "success", album: { id: "x" } }, path: "/albums/4", times: 1 });
    // The 429 goes last: it closes the family's gate, which would keep the others from asking.
    for (const id of [2, 4, 3]) expect((await call(`/v1/albums/${id}`)).status).toBeGreaterThanOrEqual(500);
    expect((await env.BEATPASS_CACHE.list()).keys.filter((k) => !k.name.startsWith("v1:meta:"))).toEqual([]);
    vi.spyOn(Date, "now").mockReturnValue(Date.now() + 61_000); // past the 429's gate
    for (const id of [2, 4, 3]) expect((await call(`/v1/albums/${id}`)).status).toBe(200);
    expect(upstreamPaths()).toEqual(["/albums/2", "/albums/4", "/albums/3", "/albums/2", "/albums/4", "/albums/3"]);
  });

  it("refetches once the entry is older than its TTL", async () => {
    await call("/v1/genres");
    const later = Date.now() + (DOCUMENTED_POLICY.taxonomy.staleIfError + 1) * 1000;
    vi.spyOn(Date, "now").mockReturnValue(later);
    const res = await call("/v1/genres");
    expect(res.headers.get("Cache-Status")).toContain("fwd=miss");
    expect(upstreamPaths()).toEqual(["/genres", "/genres"]);
  });

  it("a failing KV read or write never fails the request", async () => {
    const broken = {
      getWithMetadata: () => Promise.reject(new Error("KV read exploded")),
      put: () => Promise.reject(new Error("KV write exploded")),
    } as unknown as KVNamespace;
    const res = await call("/v1/tracks/3", {}, { BEATPASS_CACHE: broken });
    expect(res.status).toBe(200);
    expect(res.json().data.id).toBe(3);
    expect(logLines.some((l) => l.includes("kv_read_failed"))).toBe(true);
    expect(logLines.some((l) => l.includes("kv_write_failed"))).toBe(true);
  });

  it("answers HEAD from the cache too", async () => {
    await call("/v1/tracks/1");
    const head = await call("/v1/tracks/1", { method: "HEAD" });
    expect(head.headers.get("Cache-Status")).toContain("hit");
    expect(upstreamPaths()).toEqual(["/tracks/1"]);
  });
});

describe("cache namespaces", () => {
  // npm start (the local fake) and npm run dev (the real BeatPass) share one KV in a developer's
  // state folder if told to; data from one BeatPass must never be served as the other's.
  it("data cached from one BeatPass base is not served for another", async () => {
    // KV alone (no fast tiers, no coordinator relaying loads between isolates): two dev
    // processes share a state folder's KV, never a process.
    const only = { CACHE_FAST_TIERS: "none", COORDINATORS: undefined };
    const a = { BEATPASS_API_BASE: "https://fake-beatpass.test/api/v1", ...only };
    const b = { BEATPASS_API_BASE: "https://fake-beatpass.test/other/api/v1", ...only };
    expect((await call("/v1/genres", {}, a)).status).toBe(200);
    expect(fake.requests).toHaveLength(1);
    // Base b asks its own BeatPass (which has no such path): not answered from a's KV entry.
    await call("/v1/genres", {}, b);
    expect(fake.requests.map((r) => r.path)).toEqual(["/api/v1/genres", "/other/api/v1/genres"]);
    // Base a again: its own copy, no upstream request.
    expect((await call("/v1/genres", {}, a)).status).toBe(200);
    expect(fake.requests).toHaveLength(2);
  });
});
