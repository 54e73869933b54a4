import CachePolicy from "http-cache-semantics";
import { describe, expect, it } from "vitest";
import { useClock } from "../helpers/clock";
import { DOCUMENTED_POLICY } from "../helpers/documented";
import { createKey } from "../helpers/keys";
import { type Called, call, ORIGIN } from "../helpers/request";

/**
 * What a shared cache in front of the Worker (a CDN, the Workers Cache, a corporate proxy)
 * makes of its headers, judged by http-cache-semantics (the RFC 9111 implementation npm's own
 * cache uses), not by reading our headers back.
 */

const S = 1000;
const ENTITY = DOCUMENTED_POLICY.entity;
/** Seconds a shared cache would serve the response without asking again (its freshness left). */
const freshLeft = (policy: CachePolicy) => policy.maxAge() - policy.age();

const asRequest = (path: string, headers: Record<string, string> = {}) => ({
  url: `${ORIGIN}${path}`,
  method: "GET",
  headers: { host: new URL(ORIGIN).host, ...lower(headers) },
});
const asResponse = (res: Called) => ({ status: res.status, headers: Object.fromEntries(res.headers) });
const lower = (h: Record<string, string>) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

/** The shared cache's view of `res`, the answer to `path` asked with `headers`. */
function sharedCacheOf(path: string, res: Called, headers: Record<string, string> = {}) {
  return new CachePolicy(asRequest(path, headers), asResponse(res), { shared: true });
}

describe("freshness downstream equals the Worker's own", () => {
  it("a miss is fresh downstream for the whole soft window", async () => {
    useClock();
    const res = await call("/v1/tracks/1");
    const policy = sharedCacheOf("/v1/tracks/1", res);
    expect(policy.storable()).toBe(true);
    expect(Math.abs(freshLeft(policy) - ENTITY.soft)).toBeLessThanOrEqual(1);
  });

  it("a hit 20 s old is fresh downstream for the soft window's remaining 280 s (±1 s), not 260", async () => {
    const clock = useClock();
    await call("/v1/tracks/2");
    clock.advance(20 * S);
    const res = await call("/v1/tracks/2");
    expect(res.headers.get("Cache-Status")).toContain("hit");
    const policy = sharedCacheOf("/v1/tracks/2", res);
    expect(Math.abs(freshLeft(policy) - (ENTITY.soft - 20))).toBeLessThanOrEqual(1);
  });

  it("a stale copy served while refreshing is stale downstream too", async () => {
    const clock = useClock();
    await call("/v1/tracks/3");
    clock.advance((ENTITY.soft + 5) * S);
    const res = await call("/v1/tracks/3");
    const policy = sharedCacheOf("/v1/tracks/3", res);
    expect(freshLeft(policy)).toBeLessThanOrEqual(0);
    expect(policy.satisfiesWithoutRevalidation(asRequest("/v1/tracks/3"))).toBe(false);
    expect(policy.stale()).toBe(true);
  });

  it("a card and an oEmbed answer count their age the same way", async () => {
    const clock = useClock();
    await call("/v1/tracks/4");
    clock.advance(30 * S);
    for (const path of [
      "/widget/track/4",
      "/widget/track/4.svg",
      "/oembed?url=https%3A%2F%2Fbeatpass.ca%2Ftrack%2F4",
    ]) {
      const res = await call(path);
      expect(res.status, path).toBe(200);
      expect(Math.abs(freshLeft(sharedCacheOf(path, res)) - (ENTITY.soft - 30)), path).toBeLessThanOrEqual(1);
    }
  });
});

describe("API keys and shared caches", () => {
  it("an API-key caller's answer is not storable by a shared cache", async () => {
    const key = await createKey();
    const res = await call("/v1/tracks/5", { headers: { "X-Api-Key": key } });
    expect(res.status).toBe(200);
    expect(res.headers.get("RateLimit-Policy")).toContain("standard");
    expect(sharedCacheOf("/v1/tracks/5", res, { "X-Api-Key": key }).storable()).toBe(false);
  });

  it("an anonymous answer stored by a shared cache is not handed to a request with a key (valid or not)", async () => {
    const res = await call("/v1/tracks/6");
    const policy = sharedCacheOf("/v1/tracks/6", res);
    expect(policy.storable()).toBe(true);
    expect(policy.satisfiesWithoutRevalidation(asRequest("/v1/tracks/6"))).toBe(true);
    expect(policy.satisfiesWithoutRevalidation(asRequest("/v1/tracks/6", { "X-Api-Key": "bp_invalid" }))).toBe(false);
    // ... and the Worker would have answered that request 401.
    expect((await call("/v1/tracks/6", { headers: { "X-Api-Key": "bp_invalid" } })).status).toBe(401);
  });
});

describe("Cache-Tag", () => {
  const CACHEABLE: [string, string[]][] = [
    ["/v1/tracks/7", ["track:7", "track"]],
    ["/v1/tracks/7/wave", ["track:7", "track-wave"]],
    ["/v1/artists/3", ["artist:3", "artist", "collections"]],
    ["/v1/albums/1", ["album:1", "album", "collections"]],
    ["/v1/tracks", ["tracks", "collections"]],
    ["/v1/search?query=night", ["search", "collections"]],
    ["/v1/genres", ["genres", "collections"]],
    ["/v1/tags/dark/tracks", ["tag:dark", "tag-tracks", "collections"]],
    ["/widget/track/7", ["track:7", "track"]],
    ["/widget/artist/3.svg", ["artist:3", "artist", "collections"]],
    ["/oembed?url=https%3A%2F%2Fbeatpass.ca%2Falbum%2F1", ["album:1", "album", "collections"]],
  ];

  it.each(CACHEABLE)("%s carries Cache-Tag %j", async (path, tags) => {
    const res = await call(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toMatch(/^public/);
    expect(res.headers.get("Cache-Tag")?.split(",")).toEqual(tags);
  });

  it("every public answer about a track names it, found or not, so purging track:7 reaches them all", async () => {
    const MISSING = 99_999;
    for (const id of [7, MISSING]) {
      for (const path of [
        `/v1/tracks/${id}`,
        `/v1/tracks/${id}/lyrics`,
        `/widget/track/${id}`,
        `/widget/track/${id}.svg`,
      ]) {
        const res = await call(path);
        expect(res.headers.get("Cache-Control"), path).toMatch(/^public/);
        expect(res.headers.get("Cache-Tag")?.split(","), path).toContain(`track:${id}`);
      }
    }
  });
});
