import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { locationCoordinator } from "../../src/budget/coordination";
import { resetPurges } from "../../src/cache/purge";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { hitLane } from "../../src/routes/hit-lane";
import { useClock } from "../helpers/clock";
import { DOCUMENTED_LIMITS, DOCUMENTED_POLICY } from "../helpers/documented";
import { laneHelpers } from "../helpers/lane";
import { call, checked, expectProblem } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";
import { logLines } from "../setup";

/**
 * The hit lane (src/routes/hit-lane.ts) answers a memory hit without Hono. Its promise is that
 * nobody can tell: for every request it answers, the Hono app (createApp, which has no lane)
 * gives the same status, body and headers, and everything it does not answer it leaves
 * untouched for the app. The rest of the suite goes through the Worker's entry, lane and all.
 */

const ANON = DOCUMENTED_LIMITS.anon;
const IP = "203.0.113.40";

function ctx() {
  return createExecutionContext();
}

const { request, bothWays, declines } = laneHelpers(IP, "lane-test-1");

describe("the hit lane answers exactly as the app would", () => {
  it.each([
    ["a track", "/v1/tracks/1", "/v1/tracks/1"],
    ["a list with its query", "/v1/tracks?page=2&per_page=5", "/v1/tracks?page=2&per_page=5"],
    [
      "the same list, its parameters in another order and a tracking one added",
      "/v1/tracks?per_page=5&utm_source=x&page=2",
      "/v1/tracks?page=2&per_page=5",
    ],
    ["a search", "/v1/search?query=night&limit=4", "/v1/search?query=night&limit=4"],
    ["a tag's tracks", "/v1/tags/dark/tracks", "/v1/tags/dark/tracks"],
    ["a track with a repeated parameter (the first counts)", "/v1/tracks/2?with=tags&with=x", "/v1/tracks/2?with=tags"],
    ["a path with an escaped character, which Hono's router decodes too", "/v1/tracks/%31", "/v1/tracks/1"],
    ["a query with escapes and a plus", "/v1/search?query=night%20drive+2", "/v1/search?query=night+drive+2"],
  ])("%s", async (_name, path, prime) => {
    useClock(Date.UTC(2026, 11, 6, 12, 0, 0));
    expect((await call(prime, { headers: { "CF-Connecting-IP": IP } })).status).toBe(200);
    const { lane, app } = await bothWays(path);
    expect(lane.status).toBe(200);
    expect(lane.headers).toContainEqual(["cache-status", expect.stringContaining("detail=memory")]);
    expect(lane).toEqual(app);
  });

  it("conditional requests: a matching ETag (plain, weak, in a list, or *) is a 304, another one a 200", async () => {
    useClock(Date.UTC(2026, 11, 6, 12, 1, 0));
    const first = await call("/v1/tracks/3");
    const etag = first.headers.get("ETag") as string;
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*", '"other"']) {
      const { lane, app } = await bothWays("/v1/tracks/3", { headers: { "If-None-Match": inm } });
      expect(lane.status).toBe(inm === '"other"' ? 200 : 304);
      expect(lane).toEqual(app);
    }
  });

  it("CORS with an allowlist: a listed origin, another one, and none", async () => {
    useClock(Date.UTC(2026, 11, 6, 12, 2, 0));
    const allow = { ALLOWED_ORIGINS: "https://a.example" };
    await call("/v1/tracks/4", {}, allow);
    for (const origin of ["https://a.example", "https://b.example", undefined]) {
      const headers: Record<string, string> = origin ? { Origin: origin } : {};
      const { lane, app } = await bothWays("/v1/tracks/4", { headers }, allow);
      expect(lane).toEqual(app);
      expect(lane.headers).toContainEqual(["vary", "Origin, X-Api-Key"]);
    }
  });

  it("an older copy: its Age, and a stale one served while one refresh starts", async () => {
    const clock = useClock(Date.UTC(2026, 11, 6, 12, 3, 0));
    await call("/v1/tracks/5");
    clock.advance(7_000);
    const aged = await bothWays("/v1/tracks/5");
    expect(aged.lane.headers).toContainEqual(["age", "7"]);
    expect(aged.lane).toEqual(aged.app);

    clock.advance(DOCUMENTED_POLICY.entity.soft * 1000);
    const before = upstreamPaths().length;
    const stale = await bothWays("/v1/tracks/5");
    expect(stale.lane.headers).toContainEqual([
      "cache-status",
      expect.stringContaining("detail=stale-while-revalidate"),
    ]);
    expect(stale.lane).toEqual(stale.app);
    expect(upstreamPaths().slice(before)).toEqual(["/tracks/5"]);
  });

  it("logs the same line, with the route's pattern and no query", async () => {
    useClock(Date.UTC(2026, 11, 6, 12, 4, 0));
    const all = { REQUEST_LOG: "all" };
    await call("/v1/tags/dark/tracks?page=1", {}, all);
    logLines.length = 0;
    await bothWays("/v1/tags/dark/tracks?page=1", {}, all);
    const [lane, app] = logLines.map((l) => JSON.parse(l));
    expect(logLines).toHaveLength(2);
    expect(lane).toEqual(app);
    expect(lane).toMatchObject({ event: "request", route: "/v1/tags/:name/tracks", status: 200, cache: "hit" });
  });
});

describe("what the lane leaves to the app, having done nothing", () => {
  it("other methods, an API key, other routes, paths Hono decodes or does not match", async () => {
    useClock(Date.UTC(2026, 11, 6, 12, 5, 0));
    await call("/v1/tracks/1", { headers: { "CF-Connecting-IP": IP } });
    expect(hitLane(request("/v1/tracks/1"), env as Env, ctx())).toBeInstanceOf(Response);
    for (const method of ["HEAD", "POST", "OPTIONS"]) declines(request("/v1/tracks/1", { method }));
    declines(request("/v1/tracks/1", { headers: { "X-Api-Key": "bpe_whatever" } }));
    // (%25 stays encoded in the path Hono matches: "%" in it is a value only Hono decodes.)
    for (const path of [
      "/v1/tracks/1/",
      "/v1//tracks/1",
      "/v1/tracks/%251",
      "/v1/Tracks/1",
      "/widget/track/1",
      "/healthz",
    ])
      declines(request(path));
  });

  it("parameters never validated, and data not in memory", async () => {
    const clock = useClock(Date.UTC(2026, 11, 6, 12, 6, 0));
    declines(request("/v1/tracks/abc"));
    declines(request("/v1/tracks/6"));
    expectProblem(await call("/v1/tracks/abc"), 400, "invalid_request");
    declines(request("/v1/tracks/abc"));
    await call("/v1/tracks/6");
    // Past its hard window the copy is no answer from memory.
    clock.advance(DOCUMENTED_POLICY.entity.hard * 1000);
    declines(request("/v1/tracks/6"));
  });

  it("a cached 404: the app answers its problem, counted once per request", async () => {
    useClock(Date.UTC(2026, 11, 6, 12, 7, 0));
    fake.addFault({ kind: "status", status: 404, path: "/tracks/998" });
    const headers = { "CF-Connecting-IP": "203.0.113.41" };
    const limiter = { limit: async () => ({ success: true }) } as unknown as RateLimit;
    expectProblem(await call("/v1/tracks/998", { headers }, { RATE_LIMIT_ANON: limiter }), 404, "not_found");
    declines(request("/v1/tracks/998", { headers }), { ...env, RATE_LIMIT_ANON: limiter } as Env);
    // One request each: the lane's look counted nothing, so the limit is reached after exactly ANON.limit.
    for (let i = 1; i < ANON.limit; i++)
      expect((await call("/v1/tracks/998", { headers }, { RATE_LIMIT_ANON: limiter })).status).toBe(404);
    expectProblem(await call("/v1/tracks/998", { headers }, { RATE_LIMIT_ANON: limiter }), 429, "rate_limited");
  });

  it("before this isolate has read the purge record, which the app then reads", async () => {
    useClock(Date.UTC(2026, 11, 6, 12, 8, 0));
    await call("/v1/tracks/7");
    resetPurges();
    declines(request("/v1/tracks/7"));
    expect((await call("/v1/tracks/7")).headers.get("Cache-Status")).toContain("detail=memory");
    expect(hitLane(request("/v1/tracks/7"), env as Env, ctx())).toBeInstanceOf(Response);
  });

  it("a client past its limit here: its hits were counted once each, and the app refuses it", async () => {
    useClock(Date.UTC(2026, 11, 6, 12, 9, 0));
    const limiter = { limit: async () => ({ success: true }) } as unknown as RateLimit;
    const limited = { RATE_LIMIT_ANON: limiter };
    const headers = { "CF-Connecting-IP": "203.0.113.42" };
    await call("/v1/tracks/8", { headers }, limited);
    for (let i = 1; i < ANON.limit; i++) {
      const res = hitLane(request("/v1/tracks/8", { headers }), { ...env, ...limited } as Env, ctx());
      expect(res?.status).toBe(200);
    }
    declines(request("/v1/tracks/8", { headers }), { ...env, ...limited } as Env);
    const refused = await call("/v1/tracks/8", { headers }, limited);
    expectProblem(refused, 429, "rate_limited");
    expect(refused.headers.get("Retry-After")).toBe(String(ANON.periodSeconds));
  });

  it("a misconfigured deployment: the app says so", async () => {
    useClock(Date.UTC(2026, 11, 6, 12, 10, 0));
    await call("/v1/tracks/9");
    const broken = { BEATPASS_API_BASE: "https://user:pw@open.beatpass.ca/api/v1" };
    declines(request("/v1/tracks/9"), { ...env, ...broken } as Env);
    expectProblem(await call("/v1/tracks/9", {}, broken), 503, "config_error");
  });
});

describe("request.cf", () => {
  /** `req` with a cf whose reads are counted (workerd parses request.cf from JSON on its first read). */
  function withCf(req: Request, colo: string) {
    const seen = { reads: 0 };
    Object.defineProperty(req, "cf", {
      get: () => {
        seen.reads++;
        return { colo };
      },
    });
    return seen;
  }

  it("is read by a miss, whose coordinator is its data centre's; never by a hit", async () => {
    useClock(Date.UTC(2026, 11, 6, 12, 12, 0));
    const names: string[] = [];
    const real = env.COORDINATORS as DurableObjectNamespace;
    const coordinators = {
      idFromName: (name: string) => {
        names.push(name);
        return real.idFromName(name);
      },
      get: (id: DurableObjectId) => real.get(id),
    } as unknown as Env["COORDINATORS"];
    const e = { ...env, COORDINATORS: coordinators } as Env;

    const miss = request("/v1/tracks/11");
    const missCf = withCf(miss, "LHR");
    const c = ctx();
    const res = await worker.fetch(miss, e, c);
    await res.text();
    await waitOnExecutionContext(c);
    expect(res.headers.get("Cache-Status")).toContain("fwd=miss");
    expect(names).toContain(locationCoordinator("LHR"));
    expect(missCf.reads).toBeGreaterThan(0);

    // A card draws on more than the track (its waveform): its first view is a miss too.
    expect((await call("/widget/track/11")).status).toBe(200);
    for (const hit of [request("/v1/tracks/11"), request("/widget/track/11")]) {
      const hitCf = withCf(hit, "LHR");
      const h = await worker.fetch(hit, e, ctx());
      await h.text();
      expect(h.status).toBe(200);
      if (hit.url.includes("/v1/")) expect(h.headers.get("Cache-Status")).toContain("detail=memory");
      expect(hitCf.reads, hit.url).toBe(0);
    }
  });
});

describe("a fault in the lane", () => {
  it("is logged, and the app answers the request", async () => {
    useClock(Date.UTC(2026, 11, 6, 12, 11, 0));
    await call("/v1/tracks/10");
    // A binding the lane reads after it has found the hit, failing once (a bug of ours stands in).
    let reads = 0;
    const faulty = Object.create(env, {
      UPSTREAM_BUDGET: {
        get() {
          reads++;
          if (reads === 1) throw new Error("lane fault");
          return env.UPSTREAM_BUDGET;
        },
      },
    }) as Env;
    const c = ctx();
    const res = await worker.fetch(request("/v1/tracks/10"), faulty, c);
    const body = await res.text();
    await waitOnExecutionContext(c);
    checked(res, body);
    expect(res.status).toBe(200);
    expect(reads).toBeGreaterThan(1);
    const events = logLines.map((l) => JSON.parse(l));
    expect(events).toContainEqual(expect.objectContaining({ event: "hit_lane_failed", cause: "Error: lane fault" }));
  });
});
