import { describe, expect, it } from "vitest";
import { useClock } from "../helpers/clock";
import { DOCUMENTED_LIMITS } from "../helpers/documented";
import { call, expectProblem } from "../helpers/request";

/**
 * A request served from this isolate's memory costs this isolate's CPU and nothing shared:
 * it is counted in the isolate (no I/O on a hit's path), while a request that reaches past
 * memory (KV, the Cache API, BeatPass) is also charged to the deployment-wide Rate Limiting
 * binding (docs/caching.md, "Clients").
 */
const ANON = DOCUMENTED_LIMITS.anon;

/** A Rate Limiting binding that allows everything and counts the keys it was asked about. */
function countingLimiter() {
  const keys: string[] = [];
  return {
    keys,
    binding: {
      limit: async ({ key }: { key: string }) => {
        keys.push(key);
        return { success: true };
      },
    } as unknown as RateLimit,
  };
}

describe("per-client limits: memory hits counted in the isolate", () => {
  it("a memory hit asks the deployment-wide limiter nothing; the request that loaded it was charged there", async () => {
    useClock(Date.UTC(2026, 11, 6, 10, 0, 5));
    const limiter = countingLimiter();
    const ip = "198.51.100.7";
    const headers = { "CF-Connecting-IP": ip };
    const first = await call("/v1/tracks/1", { headers }, { RATE_LIMIT_ANON: limiter.binding });
    expect(first.status).toBe(200);
    expect(limiter.keys).toEqual([`ip:${ip}`]);
    for (let i = 0; i < 10; i++) {
      const hit = await call("/v1/tracks/1", { headers }, { RATE_LIMIT_ANON: limiter.binding });
      expect(hit.status).toBe(200);
      expect(hit.headers.get("Cache-Status")).toContain("detail=memory");
      expect(hit.headers.get("RateLimit-Policy")).toBe(`"anon";q=${ANON.limit};w=${ANON.periodSeconds}`);
    }
    expect(limiter.keys).toHaveLength(1);
  });

  it("past the tier's limit in a window, the isolate refuses with 429 and the binding's headers; other clients and the next window are served", async () => {
    const clock = useClock(Date.UTC(2026, 11, 6, 10, 1, 20));
    const limiter = countingLimiter();
    const env = { RATE_LIMIT_ANON: limiter.binding };
    const a = { "CF-Connecting-IP": "198.51.100.8" };
    for (let i = 0; i < ANON.limit; i++) expect((await call("/v1/genres", { headers: a }, env)).status).toBe(200);
    const past = await call("/v1/genres", { headers: a }, env);
    expectProblem(past, 429, "rate_limited");
    expect(past.headers.get("Retry-After")).toBe(String(ANON.periodSeconds));
    expect(past.headers.get("RateLimit")).toBe(`"anon";r=0;t=${ANON.periodSeconds}`);
    expect(past.headers.get("RateLimit-Policy")).toBe(`"anon";q=${ANON.limit};w=${ANON.periodSeconds}`);
    // Only the loads were charged to the deployment-wide limiter, never the refusal.
    expect(limiter.keys.length).toBeLessThan(ANON.limit);

    expect((await call("/v1/genres", { headers: { "CF-Connecting-IP": "198.51.100.9" } }, env)).status).toBe(200);
    // 20 s into the minute: the window ends 40 s later.
    clock.advance(39_000);
    expectProblem(await call("/v1/genres", { headers: a }, env), 429, "rate_limited");
    clock.advance(1_000);
    expect((await call("/v1/genres", { headers: a }, env)).status).toBe(200);
  });

  it("the deployment-wide limiter still refuses a client whose requests reach past memory", async () => {
    useClock(Date.UTC(2026, 11, 6, 10, 2, 0));
    const refuse = { limit: async () => ({ success: false }) } as unknown as RateLimit;
    const res = await call(
      "/v1/tracks/2",
      { headers: { "CF-Connecting-IP": "198.51.100.10" } },
      { RATE_LIMIT_ANON: refuse },
    );
    expectProblem(res, 429, "rate_limited");
    expect(res.headers.get("Retry-After")).toBe(String(ANON.periodSeconds));
  });
});
