import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { groupOf } from "../../src/budget/groups";
import { isLoading } from "../../src/cache/engine";
import { cacheStats } from "../../src/cache/stats";
import { ipLimitKey } from "../../src/clients/ip";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { keeper, unreachableKeeper } from "../helpers/budget";
import { useClock } from "../helpers/clock";
import { DOCUMENTED_MISS_LIMITS, DOCUMENTED_POLICY } from "../helpers/documented";
import { loadWatch } from "../helpers/joins";
import { call, expectProblem } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";
import { clockedMissBudget } from "../helpers/window";
import { logLines } from "../setup";

const S = 1000;
const MISSING = 99_999; // no such track in the fake catalogue
// For a load held at the fake (fake.hold) until the test releases it: no timeout may end it first.
const PATIENT: Partial<Env> = { UPSTREAM_TIMEOUT_MS: "30000", UPSTREAM_BUDGET_TIMEOUT_MS: "10000" };

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

describe("the budget's priorities", () => {
  it("with the budget near spent, background and scheduled refreshes are refused while viewers' misses pass", async () => {
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
    expect(upstreamPaths(), "no refresh took the viewers' quarter").toHaveLength(6);

    // Viewers' misses take the last two permits; the next one is refused, not queued.
    expect((await call("/v1/tracks/26", {}, over)).status).toBe(200);
    expect((await call("/v1/tracks/27", {}, over)).status).toBe(200);
    const refused = await call("/v1/tracks/28", {}, over);
    expectProblem(refused, 503, "upstream_budget_exhausted");
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(upstreamPaths()).toHaveLength(8);
  });
});

describe("a refusal for one network's share", () => {
  it("is not handed to another viewer who joined that client's load: it asks in its own name", async () => {
    const busyIp = "198.51.100.50";
    // A keeper whose first renewal (the busy client's miss, in a new isolate) answers only once
    // the second viewer has joined, with the busy client's network past its share.
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    const real = keeper() as unknown as { lease(ask: unknown): Promise<Record<string, unknown>> };
    let renewals = 0;
    const stub = new Proxy(real as object, {
      get: (target, method) => {
        if (method !== "lease") return Reflect.get(target, method);
        return async (ask: unknown) => {
          const grant = await real.lease(ask);
          if (++renewals > 1) return grant;
          await firstHeld;
          return { ...grant, used: 1_000_000, capped: { [groupOf(ipLimitKey(busyIp), "anon")]: Date.now() + 60_000 } };
        };
      },
    });
    const key = "v1:search:limit=3&query=joined";
    const over: Partial<Env> = {
      UPSTREAM_BUDGET_TIMEOUT_MS: "10000",
      UPSTREAM_BUDGET: { idFromName: () => ({}), get: () => stub } as unknown as Env["UPSTREAM_BUDGET"],
    };
    const busy = call("/v1/search?query=joined", { headers: { "CF-Connecting-IP": busyIp } }, over);
    await vi.waitFor(() => expect(isLoading(key)).toBe(true), { timeout: 12_000, interval: 10 });
    const watch = loadWatch(key, over);
    const joined = call("/v1/search?query=joined", { headers: { "CF-Connecting-IP": "203.0.113.51" } }, watch.env);
    await vi.waitFor(() => expect(watch.reachedLoad(1), "the second viewer joined the load").toBe(true), {
      timeout: 12_000,
      interval: 10,
    });
    releaseFirst();
    expectProblem(await busy, 429, "client_miss_budget");
    const res = await joined;
    expect(res.status).toBe(200);
    expect(upstreamPaths()).toHaveLength(1);
  });
});

describe("when the budget keeper is unreachable", () => {
  for (const mode of ["throw", "hang"] as const) {
    it(`(${mode}) an isolate with no lease sends nothing: stale copies served, misses 503 with Retry-After`, async () => {
      const clock = useClock();
      // Cached while the keeper was fine.
      for (let id = 30; id < 33; id++) expect((await call(`/v1/tracks/${id}`)).status).toBe(200);
      clock.advance(DOCUMENTED_POLICY.entity.hard * S); // past hard: each needs a foreground load
      const { resetIsolate } = await import("../../src/isolate");
      resetIsolate(clock.now()); // a new isolate: no lease
      fake.requests.length = 0;
      const down: Partial<Env> = { UPSTREAM_BUDGET: unreachableKeeper(mode), UPSTREAM_BUDGET_TIMEOUT_MS: "50" };
      for (let id = 33; id < 38; id++) {
        const refused = await call(`/v1/tracks/${id}`, {}, down);
        expectProblem(refused, 503, "upstream_budget_exhausted");
        expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
      }
      // Copies past their hard window are still better than nothing.
      for (let id = 30; id < 33; id++) {
        const res = await call(`/v1/tracks/${id}`, {}, down);
        expect(res.status).toBe(200);
        expect(res.headers.get("Cache-Status")).toContain("stale");
      }
      expect(upstreamPaths()).toEqual([]);
      expect(logLines.some((l) => l.includes('"budget_unavailable"'))).toBe(true);
    });
  }
});
