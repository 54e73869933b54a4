import { describe, expect, it } from "vitest";
import { useClock } from "../helpers/clock";
import { DOCUMENTED_LIMITS } from "../helpers/documented";
import { call, expectProblem } from "../helpers/request";
import { upstreamPaths } from "../helpers/upstream";

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

describe("the miss budget: a load is charged once, however many requests wait for it", () => {
  it("twelve requests at once for one cold track card from one address: two loads (track and waveform), two misses charged", async () => {
    const misses = countingLimiter();
    const ip = "198.51.100.9";
    const before = upstreamPaths().length;
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        call("/widget/track/6", { headers: { "CF-Connecting-IP": ip } }, { MISS_LIMIT_ANON: misses.binding }),
      ),
    );
    for (const res of answers) expect([res.status, res.headers.get("X-Problem-Code")]).toEqual([200, null]);
    expect(upstreamPaths().slice(before).sort()).toEqual(["/tracks/6", "/tracks/6/wave"]);
    expect(misses.keys).toEqual([`ip:${ip}`, `ip:${ip}`]);
  });

  it("a request joining a load whose client was refused is charged to its own budget", async () => {
    // The refused client's charge is held open until the other request has come to wait for it.
    let asked!: () => void;
    const wasAsked = new Promise<void>((r) => {
      asked = r;
    });
    let refuse!: () => void;
    const refusal = new Promise<void>((r) => {
      refuse = r;
    });
    const refusing = {
      limit: async () => {
        asked();
        await refusal;
        return { success: false };
      },
    } as unknown as RateLimit;
    const allowing = countingLimiter();
    const first = call(
      "/v1/tracks/7",
      { headers: { "CF-Connecting-IP": "198.51.100.10" } },
      { MISS_LIMIT_ANON: refusing },
    );
    await wasAsked;
    const second = call(
      "/v1/tracks/7",
      { headers: { "CF-Connecting-IP": "198.51.100.11" } },
      { MISS_LIMIT_ANON: allowing.binding },
    );
    // Long enough for the second request to reach the load and wait (it makes no upstream request meanwhile).
    await new Promise((r) => setTimeout(r, 50));
    expect(allowing.keys).toEqual([]);
    refuse();
    expectProblem(await first, 429, "client_miss_budget");
    expect((await second).status).toBe(200);
    expect(allowing.keys).toEqual(["ip:198.51.100.11"]);
  });
});
