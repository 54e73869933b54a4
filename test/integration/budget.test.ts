import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { isLoading } from "../../src/cache/engine";
import { cacheStats } from "../../src/cache/stats";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { keeper } from "../helpers/budget";
import { useClock } from "../helpers/clock";
import {
  DOCUMENTED_FAIR_SHARE,
  DOCUMENTED_FALLBACK_PERMITS_PER_MINUTE,
  DOCUMENTED_MISS_LIMITS,
  DOCUMENTED_POLICY,
} from "../helpers/documented";
import { loadWatch } from "../helpers/joins";
import { storedKey } from "../helpers/kv";
import { call, expectProblem } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";
import { clockedMissBudget } from "../helpers/window";
import { logLines } from "../setup";

const S = 1000;
const MISSING = 99_999; // no such track in the fake catalogue
// For a load held at the fake (fake.hold) until the test releases it: no timeout may end it first.
const PATIENT: Partial<Env> = { UPSTREAM_TIMEOUT_MS: "30000", UPSTREAM_BUDGET_TIMEOUT_MS: "10000" };

/** A budget keeper binding whose every call fails (or never answers), as during an outage. */
function unreachableKeeper(mode: "throw" | "hang"): DurableObjectNamespace {
  const fail = () => (mode === "throw" ? Promise.reject(new Error("keeper unreachable")) : new Promise(() => {}));
  const stub = new Proxy({}, { get: () => fail });
  return { idFromName: () => ({}), get: () => stub } as unknown as DurableObjectNamespace;
}

describe("negative caching", () => {
  it("10 requests for a missing track make 1 upstream request, each answered 404 not_found", async () => {
    for (let i = 0; i < 10; i++) expectProblem(await call(`/v1/tracks/${MISSING}`), 404, "not_found");
    expect(upstreamPaths()).toEqual([`/tracks/${MISSING}`]);
  });

  it("a card for a missing track, asked 10 times, makes 1 upstream request in all", async () => {
    for (let i = 0; i < 10; i++) {
      // Widgets draw their errors (status 200, the code in X-Problem-Code): see widgets.test.ts.
      const res = await call(`/widget/track/${MISSING}`);
      expect(res.headers.get("X-Problem-Code")).toBe("not_found");
    }
    expect(upstreamPaths()).toEqual([`/tracks/${MISSING}`]);
  });

  it("asks again once the negative entry is past its soft window, and a purge clears it sooner", async () => {
    const clock = useClock();
    expectProblem(await call(`/v1/tracks/${MISSING}`), 404, "not_found");
    clock.advance(DOCUMENTED_POLICY.negative.soft * S - S);
    expectProblem(await call(`/v1/tracks/${MISSING}`), 404, "not_found");
    expect(upstreamPaths()).toHaveLength(1);
    clock.advance(2 * S);
    // Stale negative: answered from cache at once, refreshed in the background.
    expectProblem(await call(`/v1/tracks/${MISSING}`), 404, "not_found");
    expect(upstreamPaths()).toHaveLength(2);
    clock.advance(DOCUMENTED_POLICY.negative.hard * S);
    expectProblem(await call(`/v1/tracks/${MISSING}`), 404, "not_found");
    expect(upstreamPaths()).toHaveLength(3);
  });

  it("a track that stops existing is answered 404 from then on, without asking again", async () => {
    const clock = useClock();
    expect((await call("/v1/tracks/3")).status).toBe(200);
    fake.addFault({ kind: "status", status: 404, path: "/tracks/3" });
    clock.advance(DOCUMENTED_POLICY.entity.hard * S);
    expectProblem(await call("/v1/tracks/3"), 404, "not_found");
    for (let i = 0; i < 5; i++) expectProblem(await call("/v1/tracks/3"), 404, "not_found");
    expect(upstreamPaths()).toEqual(["/tracks/3", "/tracks/3"]);
  });
});

describe("the breaker and one failing key", () => {
  it("10 requests for one failing id do not stop cold requests for other ids of the family", async () => {
    fake.addFault({ kind: "status", status: 500, path: "/tracks/44" });
    for (let i = 0; i < 10; i++) expectProblem(await call("/v1/tracks/44"), 502, "upstream_error");
    // The failing key is not asked again for a while: its own problem, not BeatPass's. Nor
    // does it spend the deployment's budget: one permit, for the one request that was sent.
    expect(upstreamPaths().filter((p) => p === "/tracks/44")).toHaveLength(1);
    expect(cacheStats.keeper_calls).toBeLessThanOrEqual(2); // acquire + complete
    for (let id = 45; id < 50; id++) expect((await call(`/v1/tracks/${id}`)).status).toBe(200);
    expect(upstreamPaths().filter((p) => p !== "/tracks/44")).toEqual(
      [45, 46, 47, 48, 49].map((id) => `/tracks/${id}`),
    );
  });
});

describe("per-client miss budget", () => {
  it("one anonymous client asking for 100 distinct cold keys causes at most 30 upstream requests", async () => {
    useClock(); // the miss budget's window (helpers/window.ts) cannot roll over meanwhile
    const misses = clockedMissBudget();
    expect((await call("/v1/tracks/2", {}, misses)).status).toBe(200); // cached before, for the other client
    fake.requests.length = 0;
    const attacker = { "CF-Connecting-IP": "198.51.100.7" };
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await call(`/v1/search?query=junk-${i}`, { headers: attacker }, misses);
      statuses.push(res.status);
      if (res.status !== 200) expectProblem(res, 429, "client_miss_budget");
      // Meanwhile another client's cached request is untouched.
      if (i % 10 === 0) expect((await call("/v1/tracks/2", {}, misses)).status).toBe(200);
    }
    expect(upstreamPaths().length).toBeLessThanOrEqual(DOCUMENTED_MISS_LIMITS.anon.limit);
    expect(statuses.filter((s) => s === 200)).toHaveLength(DOCUMENTED_MISS_LIMITS.anon.limit);
    // The same client's cache hits are still served.
    expect((await call("/v1/search?query=junk-0", { headers: attacker }, misses)).status).toBe(200);
  });
});

describe("what a request pays the budget keeper", () => {
  it("a miss asks it once (reported as Server-Timing budget); a cache hit never asks", async () => {
    const miss = await call("/v1/tracks/11");
    expect(miss.headers.get("Server-Timing")).toMatch(/budget;dur=\d+/);
    const asked = cacheStats.keeper_calls;
    expect(asked).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 10; i++) {
      const hit = await call("/v1/tracks/11");
      expect(hit.headers.get("Server-Timing")).not.toContain("budget");
    }
    expect(cacheStats.keeper_calls).toBe(asked);
  });
});

describe("per-client miss budget and the cache", () => {
  it("a client's requests that join a load already in flight cost it nothing from its miss budget", async () => {
    useClock(); // the miss budget's window (helpers/window.ts) cannot roll over meanwhile
    const client = { headers: { "CF-Connecting-IP": "203.0.113.50" } };
    const joining = DOCUMENTED_MISS_LIMITS.anon.limit + 10;
    // BeatPass holds the first request's load until every other request has joined it.
    const hold = fake.hold("/tracks/12");
    const watch = loadWatch("v1:track:id=12", { ...PATIENT, ...clockedMissBudget() });
    const first = call("/v1/tracks/12", client, watch.env);
    await hold.arrived;
    const joined = Promise.all(Array.from({ length: joining }, () => call("/v1/tracks/12", client, watch.env)));
    await vi.waitFor(() => expect(watch.reachedLoad(1 + joining), "every request reached the load").toBe(true), {
      timeout: 12_000,
      interval: 10,
    });
    hold.release();
    expect((await first).status).toBe(200);
    expect((await joined).map((r) => r.status)).toEqual(Array(joining).fill(200));
    expect(upstreamPaths()).toEqual(["/tracks/12"]);
  });

  it("a client past its miss budget is still served a copy past its hard window, rather than 429", async () => {
    const clock = useClock(); // also holds the miss budget's window (helpers/window.ts) still
    const misses = clockedMissBudget();
    expect((await call("/v1/tracks/2", {}, misses)).status).toBe(200);
    clock.advance(DOCUMENTED_POLICY.entity.hard * S + S); // the copy now needs a load before it is served
    const client = { headers: { "CF-Connecting-IP": "203.0.113.51" } };
    // Spend the client's misses on cold searches: the budget's worth pass, the next is refused.
    for (let i = 0; i < DOCUMENTED_MISS_LIMITS.anon.limit; i++)
      expect((await call(`/v1/search?query=spent${i}`, client, misses)).status).toBe(200);
    expectProblem(await call("/v1/search?query=spent-over", client, misses), 429, "client_miss_budget");
    const res = await call("/v1/tracks/2", client, misses);
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Status")).toContain("stale-if-error");
  });
});

describe("the budget keeper's priorities", () => {
  it("with the window near empty, background and scheduled refreshes are refused while viewers' misses pass", async () => {
    const clock = useClock();
    const over: Partial<Env> = { UPSTREAM_BUDGET_PER_MINUTE: "8", CACHE_POLICY: '{"entity":{"soft":10}}' };
    // A key asked for by three clients (so it is hot), then five more misses: 6 of 8 spent.
    for (const ip of ["192.0.2.1", "192.0.2.2", "192.0.2.3"])
      expect((await call("/v1/tracks/20", { headers: { "CF-Connecting-IP": ip } }, over)).status).toBe(200);
    for (let id = 21; id < 26; id++) expect((await call(`/v1/tracks/${id}`, {}, over)).status).toBe(200);
    expect(upstreamPaths()).toHaveLength(6);

    clock.advance(11 * S); // /tracks/20 is stale now
    const stale = await call("/v1/tracks/20", {}, over);
    expect(stale.status).toBe(200);
    expect(stale.headers.get("Cache-Status")).toContain("stale");
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "* * * * *" }), { ...env, ...over }, ctx);
    await waitOnExecutionContext(ctx);
    expect(upstreamPaths(), "no refresh took the viewers' reserve").toHaveLength(6);

    // Viewers' misses take the last two permits; the next one is refused, not queued.
    expect((await call("/v1/tracks/26", {}, over)).status).toBe(200);
    expect((await call("/v1/tracks/27", {}, over)).status).toBe(200);
    const refused = await call("/v1/tracks/28", {}, over);
    expectProblem(refused, 503, "upstream_budget_exhausted");
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(upstreamPaths()).toHaveLength(8);
  });
});

describe("fair shares under pressure", () => {
  it("once half the minute is spent, a client past its share gets 429 while other viewers' misses pass", async () => {
    useClock(); // the keeper's window: however long the requests take, they lie in one minute
    const perMinute = 100;
    const over: Partial<Env> = { UPSTREAM_BUDGET_PER_MINUTE: String(perMinute), UPSTREAM_BUDGET_TIMEOUT_MS: "10000" };
    const busy = { headers: { "CF-Connecting-IP": "198.51.100.40" } };
    const anonShare = Math.max(1, Math.floor(DOCUMENTED_FAIR_SHARE.anon * perMinute));
    // Calm window: the busy client's misses pass, more than its share under pressure.
    const calm = anonShare + 3;
    for (let i = 0; i < calm; i++) expect((await call(`/v1/search?query=calm${i}`, busy, over)).status).toBe(200);
    // Other viewers (a new address each) bring the window to the pressure mark.
    const mark = DOCUMENTED_FAIR_SHARE.pressure * perMinute;
    for (let i = 0; upstreamPaths().length < mark; i++)
      expect((await call(`/v1/search?query=other${i}`, {}, over)).status).toBe(200);

    const refused = await call("/v1/search?query=pressed", busy, over);
    expectProblem(refused, 429, "client_miss_budget");
    const retryAfter = Number(refused.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(62);
    expect(upstreamPaths()).toHaveLength(mark);
    // Another viewer's miss is granted; the busy client's cached data is still served.
    expect((await call("/v1/search?query=another", {}, over)).status).toBe(200);
    expect((await call("/v1/search?query=calm0", busy, over)).status).toBe(200);
    expect(upstreamPaths()).toHaveLength(mark + 1);
  });
});

describe("a refusal for one client's share", () => {
  it("is not handed to another viewer who joined that client's load: it asks in its own name", async () => {
    const key = "v1:search:limit=3&query=joined";
    // The keeper refuses the first ask (the busy client's) once the second viewer has joined.
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    const real = keeper() as unknown as { acquire(req: unknown): Promise<unknown> };
    let asks = 0;
    const stub = new Proxy(real as object, {
      get: (target, method) => {
        if (method !== "acquire") return Reflect.get(target, method);
        return async (req: { client?: { key: string } }) => {
          if (++asks === 1) {
            await firstHeld;
            return { kind: "denied", reason: "client", retryAfterMs: 30_000, purgedAt: 0 };
          }
          return real.acquire(req);
        };
      },
    });
    // The second viewer has joined once its KV read for the key is done (the first one read first).
    let reads = 0;
    const kv = new Proxy(env.BEATPASS_CACHE, {
      get: (target, method) => {
        const value = Reflect.get(target, method);
        if (method !== "getWithMetadata") return typeof value === "function" ? value.bind(target) : value;
        return async (...args: unknown[]) => {
          const out = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (args[0] === storedKey(key) && ++reads === 2) setTimeout(releaseFirst, 0);
          return out;
        };
      },
    });
    const over: Partial<Env> = {
      UPSTREAM_BUDGET_TIMEOUT_MS: "10000",
      BEATPASS_CACHE: kv,
      UPSTREAM_BUDGET: { idFromName: () => ({}), get: () => stub } as unknown as Env["UPSTREAM_BUDGET"],
    };
    const busy = call("/v1/search?query=joined", { headers: { "CF-Connecting-IP": "198.51.100.50" } }, over);
    await vi.waitFor(() => expect(isLoading(key)).toBe(true), { timeout: 12_000, interval: 10 });
    const joined = call("/v1/search?query=joined", { headers: { "CF-Connecting-IP": "198.51.100.51" } }, over);
    expectProblem(await busy, 429, "client_miss_budget");
    const res = await joined;
    expect(res.status).toBe(200);
    expect(asks).toBe(2);
    expect(upstreamPaths()).toHaveLength(1);
  });
});

describe("when the budget keeper is unreachable", () => {
  for (const mode of ["throw", "hang"] as const) {
    it(`(${mode}) serves stale copies, spends only a small allowance, and every 5xx carries Retry-After`, async () => {
      const clock = useClock();
      // Cached while the keeper was fine.
      for (let id = 30; id < 33; id++) expect((await call(`/v1/tracks/${id}`)).status).toBe(200);
      fake.requests.length = 0;
      clock.advance(DOCUMENTED_POLICY.entity.hard * S); // past hard: each needs a foreground load
      const down: Partial<Env> = {
        UPSTREAM_BUDGET: unreachableKeeper(mode) as Env["UPSTREAM_BUDGET"],
        UPSTREAM_BUDGET_TIMEOUT_MS: "50",
      };
      const answers = [];
      for (let id = 33; id < 33 + DOCUMENTED_FALLBACK_PERMITS_PER_MINUTE + 3; id++)
        answers.push(await call(`/v1/tracks/${id}`, {}, down));
      expect(answers.filter((r) => r.status === 200)).toHaveLength(DOCUMENTED_FALLBACK_PERMITS_PER_MINUTE);
      for (const r of answers.filter((r) => r.status !== 200)) expectProblem(r, 503, "upstream_budget_exhausted");
      // Copies past their hard window are still better than nothing.
      for (let id = 30; id < 33; id++) {
        const res = await call(`/v1/tracks/${id}`, {}, down);
        expect(res.status).toBe(200);
        expect(res.headers.get("Cache-Status")).toContain("stale");
      }
      expect(upstreamPaths()).toHaveLength(DOCUMENTED_FALLBACK_PERMITS_PER_MINUTE);
      expect(logLines.some((l) => l.includes('"budget_unavailable"'))).toBe(true);
    });
  }
});
