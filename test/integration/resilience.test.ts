import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { isLoading } from "../../src/cache/engine";
import { cacheStats } from "../../src/cache/stats";
import { abandonCacheApiEntries, memory } from "../../src/cache/tiers";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import { keeper, unreachable, unreachableKeeper } from "../helpers/budget";
import { useClock } from "../helpers/clock";
import { CANARY_TOKEN, CANARY_TOKEN_NEXT } from "../helpers/constants";
import {
  DOCUMENTED_BREAKER_COOLDOWN_MS,
  DOCUMENTED_BREAKER_THRESHOLD,
  DOCUMENTED_KEY_FAILURE_MS,
  DOCUMENTED_POLICY,
} from "../helpers/documented";
import { loadWatch } from "../helpers/joins";
import { kvWithPut, storedKey } from "../helpers/kv";
import { assertSafe, type Called, call, expectProblem, health, ORIGIN } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";
import { logLines } from "../setup";

const ENTITY = DOCUMENTED_POLICY.entity;
const S = 1000;

// For requests held at the fake (fake.hold) until the test has seen what it waits for: no
// timeout may end the hold first, however long a busy machine takes to get there.
const PATIENT: Partial<Env> = { UPSTREAM_TIMEOUT_MS: "30000", UPSTREAM_BUDGET_TIMEOUT_MS: "10000" };
// vi.waitFor's bound on such a wait: it only ends a hung test (the condition is the point).
const UNTIL_HELD = { timeout: 12_000, interval: 10 };

describe("coalescing", () => {
  /** `n` concurrent requests for /v1/tracks/:id, released once all of them have reached its one load. */
  async function concurrentMisses(id: number, n: number, override: Partial<Env> = {}): Promise<Called[]> {
    const hold = fake.hold(`/tracks/${id}`);
    const watch = loadWatch(`v1:track:id=${id}`, { ...PATIENT, ...override });
    const pending = Promise.all(Array.from({ length: n }, () => call(`/v1/tracks/${id}`, {}, watch.env)));
    await hold.arrived;
    await vi.waitFor(() => expect(watch.reachedLoad(n), "every request reached the load").toBe(true), UNTIL_HELD);
    expect(hold.count, "requests BeatPass saw while the load was held").toBe(1);
    hold.release();
    return pending;
  }

  it("100 concurrent requests for one cold key make exactly 1 upstream request and get one body", async () => {
    const results = await concurrentMisses(5, 100);
    expect(upstreamPaths()).toEqual(["/tracks/5"]);
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r.headers.get("Cache-Status")?.includes("collapsed"))).toHaveLength(99);
    expect(cacheStats.coalesced).toBe(99);
  });

  it("20 concurrent requests for one cold key still make 1 upstream request with the keeper and coordinators unreachable", async () => {
    expect((await call("/v1/tracks/9")).status).toBe(200); // this isolate holds a lease
    const down = {
      UPSTREAM_BUDGET: unreachableKeeper(),
      COORDINATORS: unreachable<Env["COORDINATORS"]>(),
      UPSTREAM_BUDGET_TIMEOUT_MS: "50",
    };
    const results = await concurrentMisses(5, 20, down);
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(upstreamPaths()).toEqual(["/tracks/9", "/tracks/5"]);
  });

  it("concurrent waiters share the load's failure too", async () => {
    fake.addFault({ kind: "status", status: 500, path: "/tracks/6", times: 1 });
    const results = await concurrentMisses(6, 20);
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(502));
    expect(upstreamPaths()).toEqual(["/tracks/6"]);
  });
});

describe("stale-while-revalidate", () => {
  it("past the soft TTL answers at once from the stale copy and refreshes exactly once in the background", async () => {
    const clock = useClock();
    const first = await call("/v1/tracks/8");
    clock.advance(ENTITY.soft * S + 5 * S);

    // BeatPass does not answer the refresh until the test has seen what happens meanwhile.
    const hold = fake.hold("/tracks/8");
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(`${ORIGIN}/v1/tracks/8`), env, ctx);
    const body = await res.text();
    assertSafe(res.headers, body);
    // The answer is complete while BeatPass is still being asked.
    expect(isLoading("v1:track:id=8")).toBe(true);
    expect(res.status).toBe(200);
    expect(body).toBe(first.text);
    expect(res.headers.get("Cache-Status")).toBe("beatpass-edge; hit; ttl=-5; detail=stale-while-revalidate");
    expect(res.headers.get("Age")).toBe(String(ENTITY.soft + 5));
    expect(res.headers.get("Cache-Control")).toBe(
      `public, max-age=${ENTITY.soft}, stale-while-revalidate=${ENTITY.hard - ENTITY.soft}, stale-if-error=${ENTITY.staleIfError - ENTITY.soft}`,
    );
    // More stale requests while the refresh runs do not start another one.
    await hold.arrived;
    await call("/v1/tracks/8");
    expect(hold.count, "refreshes sent").toBe(1);
    hold.release();
    await waitOnExecutionContext(ctx);
    expect(isLoading("v1:track:id=8")).toBe(false);
    expect(upstreamPaths()).toEqual(["/tracks/8", "/tracks/8"]);

    const next = await call("/v1/tracks/8");
    expect(next.headers.get("Cache-Status")).toBe(`beatpass-edge; hit; ttl=${ENTITY.soft}; detail=memory`);
    expect(upstreamPaths()).toHaveLength(2);
  });

  it("a failing background refresh keeps serving the stale copy and logs why", async () => {
    const clock = useClock();
    await call("/v1/tracks/8");
    clock.advance(ENTITY.soft * S + S);
    fake.addFault({ kind: "status", status: 500, path: "/tracks/8", times: 1 });
    const res = await call("/v1/tracks/8");
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Status")).toContain("stale-while-revalidate");
    expect(logLines.some((l) => l.includes("background_refresh_failed"))).toBe(true);
  });
});

describe("stale-if-error", () => {
  // status: what BeatPass answered; problem: what a viewer with no copy gets instead.
  const faults = [
    { name: "500", fault: { kind: "status", status: 500 } as const, status: 500, problem: [502, "upstream_error"] },
    {
      name: "invalid JSON",
      fault: { kind: "invalid_json" } as const,
      status: 200,
      problem: [502, "upstream_invalid_json"],
    },
    { name: "timeout", fault: { kind: "hang" } as const, status: undefined, problem: [504, "upstream_timeout"] },
    {
      name: "429",
      fault: { kind: "status", status: 429 } as const,
      status: 429,
      problem: [503, "upstream_rate_limited"],
    },
  ] as const;

  it.each(faults)(
    "BeatPass $name with a copy inside the window: 200 with the stale body",
    async ({ fault, status }) => {
      const clock = useClock();
      const first = await call("/v1/tracks/9");
      clock.advance(ENTITY.hard * S + 60 * S); // past SWR: must ask BeatPass first
      fake.addFault({ ...fault, path: "/tracks/9", times: 1 });
      const res = await call("/v1/tracks/9", {}, { UPSTREAM_TIMEOUT_MS: "50" });
      expect(res.status).toBe(200);
      expect(res.text).toBe(first.text);
      const ttl = ENTITY.soft - ENTITY.hard - 60;
      expect(res.headers.get("Cache-Status")).toBe(
        `beatpass-edge; fwd=stale${status ? `; fwd-status=${status}` : ""}; ttl=${ttl}; detail=stale-if-error`,
      );
      expect(upstreamPaths()).toEqual(["/tracks/9", "/tracks/9"]);
    },
  );

  it.each(faults)("BeatPass $name with no copy: problem+json with Retry-After", async ({ fault, problem }) => {
    fake.addFault({ ...fault, path: "/tracks/9", times: 1 });
    const res = await call("/v1/tracks/9", {}, { UPSTREAM_TIMEOUT_MS: "50" });
    expectProblem(res, problem[0], problem[1]); // checks Retry-After too
  });

  it("a copy older than the stale-if-error window is not served", async () => {
    const clock = useClock();
    await call("/v1/tracks/9");
    clock.advance(ENTITY.staleIfError * S + S);
    fake.addFault({ kind: "status", status: 500, path: "/tracks/9", times: 1 });
    expectProblem(await call("/v1/tracks/9"), 502, "upstream_error");
  });

  it("a 404 during a background refresh replaces the copy with BeatPass's answer in every tier", async () => {
    const clock = useClock();
    await call("/v1/tracks/9");
    clock.advance(ENTITY.soft * S + S);
    fake.addFault({ kind: "status", status: 404, path: "/tracks/9" });
    expect((await call("/v1/tracks/9")).status).toBe(200); // stale, refresh learns of the 404
    const stored = await env.BEATPASS_CACHE.getWithMetadata<{ status?: number }>(storedKey("v1:track:id=9"));
    expect(stored.value).toBe("");
    expect(stored.metadata?.status).toBe(404);
    expectProblem(await call("/v1/tracks/9"), 404, "not_found");
    abandonCacheApiEntries();
    memory.clear();
    expectProblem(await call("/v1/tracks/9"), 404, "not_found"); // from KV, as a fresh isolate would
    expect(upstreamPaths()).toEqual(["/tracks/9", "/tracks/9"]);
  });

  it.each([
    [404, "not_found"],
    [410, "gone"],
    [403, "forbidden"],
  ] as const)("a %i from BeatPass is passed on, not hidden behind the stale copy", async (status, code) => {
    const clock = useClock();
    await call("/v1/tracks/9");
    clock.advance(ENTITY.hard * S + S);
    fake.addFault({ kind: "status", status, path: "/tracks/9", times: 1 });
    expectProblem(await call("/v1/tracks/9"), status, code);
  });

  it("a copy BeatPass answered 404 for is gone: a later BeatPass failure cannot bring it back", async () => {
    const clock = useClock();
    const first = await call("/v1/tracks/9");
    clock.advance(ENTITY.hard * S + S);
    fake.addFault({ kind: "status", status: 404, path: "/tracks/9", times: 1 });
    expectProblem(await call("/v1/tracks/9"), 404, "not_found");
    clock.advance(DOCUMENTED_POLICY.negative.hard * S + S);
    fake.addFault({ kind: "status", status: 500, path: "/tracks/9", times: 1 });
    expectProblem(await call("/v1/tracks/9"), 502, "upstream_error");
    expect(await env.BEATPASS_CACHE.get(storedKey("v1:track:id=9"))).not.toBe(JSON.stringify(first.json()));
    expect(upstreamPaths()).toEqual(["/tracks/9", "/tracks/9", "/tracks/9"]);
  });
});

describe("the 429 pause", () => {
  it("after 429 Retry-After: 30 no request of any family leaves for 30 s, then traffic resumes", async () => {
    const clock = useClock();
    fake.addFault({ kind: "status", status: 429, headers: { "Retry-After": "30" }, path: "/tracks/1", times: 1 });
    const limited = await call("/v1/tracks/1");
    expectProblem(limited, 503, "upstream_rate_limited");
    expect(limited.headers.get("Retry-After")).toBe("30");
    expect(upstreamPaths()).toHaveLength(1);

    // Every entity route, over the next 30 s of simulated time: zero upstream requests.
    // BeatPass counts one limit for the token across endpoints: every family waits.
    const entityRoutes = ["/v1/tracks/2", "/v1/albums/1", "/v1/artists/3", "/v1/genres", "/v1/search?query=x"];
    for (let elapsed = 0; elapsed < 30; elapsed += 5) {
      for (const path of entityRoutes) {
        const res = await call(path);
        expectProblem(res, 503, "upstream_rate_limited");
        expect(Number(res.headers.get("Retry-After"))).toBe(30 - elapsed);
      }
      clock.advance(5 * S);
    }
    expect(upstreamPaths()).toHaveLength(1);

    // 30 s have passed: traffic resumes.
    expect((await call("/v1/tracks/2")).status).toBe(200);
    expect(upstreamPaths()).toEqual(["/tracks/1", "/tracks/2"]);
  });

  it("is kept by the keeper and the coordinators: a fresh isolate (empty memory) honours it too", async () => {
    const clock = useClock();
    fake.addFault({ kind: "status", status: 429, headers: { "Retry-After": "30" }, path: "/tracks/1", times: 1 });
    await call("/v1/tracks/1");
    const { resetAdmission: resetGuard } = await import("../../src/budget/admission");
    resetGuard();
    clock.advance(10 * S);
    const res = await call("/v1/tracks/2");
    expectProblem(res, 503, "upstream_rate_limited");
    expect(res.headers.get("Retry-After")).toBe("20");
    expect(upstreamPaths()).toHaveLength(1);
  });

  it("reaches a warm isolate on its next miss after another isolate's 429", async () => {
    const clock = useClock();
    expect((await call("/v1/tracks/1")).status).toBe(200);
    // What another isolate's 429 (Retry-After: 60) tells the keeper.
    await keeper().pause(clock.now() + 60 * S);
    clock.advance(6 * S);
    const res = await call("/v1/tracks/2");
    expectProblem(res, 503, "upstream_rate_limited");
    expect(res.headers.get("Retry-After")).toBe("54");
    expect(upstreamPaths()).toEqual(["/tracks/1"]);
  });

  it("holds in the isolate that saw the 429 even when the keeper and coordinators cannot be reached", async () => {
    const clock = useClock();
    expect((await call("/v1/tracks/9")).status).toBe(200); // this isolate holds a lease
    const down = {
      UPSTREAM_BUDGET: unreachableKeeper(),
      COORDINATORS: unreachable<Env["COORDINATORS"]>(),
      UPSTREAM_BUDGET_TIMEOUT_MS: "50",
    };
    fake.addFault({ kind: "status", status: 429, headers: { "Retry-After": "30" }, path: "/tracks/1", times: 1 });
    expectProblem(await call("/v1/tracks/1", {}, down), 503, "upstream_rate_limited");
    clock.advance(10 * S);
    // The isolate's lease has permits left; the pause still comes first.
    for (let id = 2; id < 5; id++) {
      const res = await call(`/v1/tracks/${id}`, {}, down);
      expectProblem(res, 503, "upstream_rate_limited");
      expect(res.headers.get("Retry-After")).toBe("20");
    }
    expect(upstreamPaths()).toEqual(["/tracks/9", "/tracks/1"]);
  });

  it("serves stale data instead of the problem while the gate is shut", async () => {
    const clock = useClock();
    const first = await call("/v1/tracks/3");
    clock.advance(ENTITY.hard * S + S);
    fake.addFault({ kind: "status", status: 429, headers: { "Retry-After": "30" }, path: "/tracks/1", times: 1 });
    await call("/v1/tracks/1");
    const res = await call("/v1/tracks/3");
    expect(res.status).toBe(200);
    expect(res.text).toBe(first.text);
    expect(res.headers.get("Cache-Status")).toContain("detail=stale-if-error");
    expect(upstreamPaths()).toEqual(["/tracks/3", "/tracks/1"]);
  });
});

describe("circuit breaker", () => {
  const THRESHOLD = DOCUMENTED_BREAKER_THRESHOLD;
  const COOLDOWN_MS = DOCUMENTED_BREAKER_COOLDOWN_MS;

  it(`opens after ${THRESHOLD} consecutive failures; BeatPass sees one probe per cool-down, however many arrive`, async () => {
    const clock = useClock();
    fake.addFault({ kind: "status", status: 500, path: "/tracks/" });
    for (let id = 1; id < THRESHOLD; id++) expectProblem(await call(`/v1/tracks/${id}`), 502, "upstream_error");
    expect((await health()).json().breakers).toEqual({ entity: "closed" }); // one short of it
    expectProblem(await call(`/v1/tracks/${THRESHOLD}`), 502, "upstream_error");
    expect(upstreamPaths()).toHaveLength(THRESHOLD);

    // Open: nothing leaves during the cool-down, whatever the key.
    for (let id = 10; id < 30; id++) expectProblem(await call(`/v1/tracks/${id}`), 503, "upstream_unavailable");
    expect(upstreamPaths()).toHaveLength(THRESHOLD);
    expect((await health()).json().breakers).toEqual({ entity: "open" });
    clock.advance(COOLDOWN_MS - 1000);
    expectProblem(await call("/v1/tracks/31"), 503, "upstream_unavailable");
    expect(upstreamPaths()).toHaveLength(THRESHOLD);

    // Each cool-down lets exactly one probe through: the others are answered while it is held
    // at BeatPass.
    for (let round = 1; round <= 3; round++) {
      clock.advance(COOLDOWN_MS);
      const hold = fake.hold("/tracks/4");
      const answered: Called[] = [];
      const pending = Array.from({ length: 10 }, (_, i) =>
        call(`/v1/tracks/${40 + i}`, {}, PATIENT).then((r) => {
          answered.push(r);
          return r;
        }),
      );
      await hold.arrived;
      await vi.waitFor(() => expect(answered).toHaveLength(9), UNTIL_HELD);
      expect(answered.map((r) => r.status)).toEqual(Array(9).fill(503));
      hold.release();
      const answers = await Promise.all(pending);
      expect(upstreamPaths()).toHaveLength(THRESHOLD + round);
      expect(answers.filter((r) => r.status === 502)).toHaveLength(1); // the probe
      expect(answers.filter((r) => r.status === 503)).toHaveLength(9);
    }

    // BeatPass recovers: the next probe succeeds and closes the breaker.
    fake.faults.length = 0;
    clock.advance(COOLDOWN_MS);
    expect((await call("/v1/tracks/50")).status).toBe(200);
    expect((await call("/v1/tracks/51")).status).toBe(200);
    expect((await health()).json().breakers).toEqual({ entity: "closed" });
    // Closed means counting from zero again: one failure does not reopen it.
    fake.addFault({ kind: "status", status: 500, path: "/tracks/52", times: 1 });
    expectProblem(await call("/v1/tracks/52"), 502, "upstream_error");
    expect((await call("/v1/tracks/53")).status).toBe(200);
  });

  it("counts distinct failing ids: two ids failing again and again over half a minute leave it closed", async () => {
    const clock = useClock();
    fake.addFault({ kind: "status", status: 500, path: "/tracks/44" });
    fake.addFault({ kind: "status", status: 500, path: "/tracks/55" });
    for (let round = 0; round < 3; round++) {
      for (const id of [44, 55]) expectProblem(await call(`/v1/tracks/${id}`), 502, "upstream_error");
      clock.advance(DOCUMENTED_KEY_FAILURE_MS + S); // each id is asked again once its failure is forgotten
    }
    expect(upstreamPaths()).toHaveLength(6);
    expect((await call("/v1/tracks/1")).status).toBe(200);
    expect((await health()).json().breakers).toEqual({ entity: "closed" });
  });

  it(`failures minutes apart do not add up: ${THRESHOLD} ids failing 5 minutes apart leave it closed`, async () => {
    const clock = useClock();
    fake.addFault({ kind: "status", status: 500, path: "/tracks/" });
    for (let id = 1; id <= THRESHOLD; id++) {
      if (id > 1) clock.advance(5 * 60 * S);
      expectProblem(await call(`/v1/tracks/${id}`), 502, "upstream_error");
    }
    fake.faults.length = 0;
    expect((await call("/v1/tracks/20")).status).toBe(200);
    expect((await health()).json().breakers).toEqual({ entity: "closed" });
  });

  it("after a failed probe, rests BeatPass a whole cool-down again before the next one", async () => {
    const clock = useClock();
    fake.addFault({ kind: "status", status: 500, path: "/tracks/" });
    for (let id = 1; id <= THRESHOLD; id++) expectProblem(await call(`/v1/tracks/${id}`), 502, "upstream_error");
    clock.advance(COOLDOWN_MS);
    expectProblem(await call("/v1/tracks/10"), 502, "upstream_error"); // the probe, failing
    expect(upstreamPaths()).toHaveLength(THRESHOLD + 1);
    clock.advance(COOLDOWN_MS - S);
    for (let id = 11; id < 15; id++) expectProblem(await call(`/v1/tracks/${id}`), 503, "upstream_unavailable");
    expect(upstreamPaths()).toHaveLength(THRESHOLD + 1);
    expect((await health()).json().breakers).toEqual({ entity: "open" });
  });

  it("does not count 404s as failures", async () => {
    for (let i = 0; i < THRESHOLD * 2; i++) expectProblem(await call(`/v1/tracks/${900 + i}`), 404, "not_found");
    expect((await call("/v1/tracks/1")).status).toBe(200);
    expect((await health()).json().breakers).toEqual({ entity: "closed" });
  });
});

describe("one failing key", () => {
  it("its failure is answered from memory for a while, then it is asked again and served once BeatPass has recovered", async () => {
    const clock = useClock();
    fake.addFault({ kind: "status", status: 500, path: "/tracks/44", times: 1 });
    expectProblem(await call("/v1/tracks/44"), 502, "upstream_error");
    expectProblem(await call("/v1/tracks/44"), 502, "upstream_error");
    expect(upstreamPaths()).toEqual(["/tracks/44"]);
    clock.advance(DOCUMENTED_KEY_FAILURE_MS);
    expect((await call("/v1/tracks/44")).status).toBe(200);
    expect(upstreamPaths()).toEqual(["/tracks/44", "/tracks/44"]);
  });
});

describe("KV write failures", () => {
  it("a KV write that failed is tried again by the next refresh", async () => {
    const clock = useClock();
    const kv = env.BEATPASS_CACHE;
    let failNext = true;
    const flaky = kvWithPut((key, value, opts, real) => {
      if (failNext && !key.startsWith("v1:meta:")) {
        failNext = false;
        return Promise.reject(new Error("KV write refused"));
      }
      return real(key, value, opts);
    });
    await call("/v1/tracks/8", {}, { BEATPASS_CACHE: flaky });
    expect(await kv.get(storedKey("v1:track:id=8"))).toBeNull();
    clock.advance(ENTITY.soft * S + S); // stale: served, and refreshed in the background
    await call("/v1/tracks/8", {}, { BEATPASS_CACHE: flaky });
    expect(JSON.parse((await kv.get(storedKey("v1:track:id=8"))) ?? "null")?.data.id).toBe(8);
    expect(upstreamPaths()).toEqual(["/tracks/8", "/tracks/8"]);
  });
});

describe("HTTP caching", () => {
  it("If-None-Match with the current ETag gives 304 with no body", async () => {
    const first = await call("/v1/tracks/4");
    const etag = first.headers.get("ETag")!;
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, "*"]) {
      const res = await call("/v1/tracks/4", { headers: { "If-None-Match": inm } });
      expect(res.status).toBe(304);
      expect(res.text).toBe("");
      expect(res.headers.get("ETag")).toBe(etag);
      expect(res.headers.get("Cache-Control")).toMatch(/^public, max-age=\d+/);
    }
    const other = await call("/v1/tracks/4", { headers: { "If-None-Match": '"something-else"' } });
    expect(other.status).toBe(200);
    expect(upstreamPaths()).toEqual(["/tracks/4"]);
  });

  it("equal bodies give equal ETags; different bodies different ones", async () => {
    const a = await call("/v1/tracks/4");
    memory.clear();
    abandonCacheApiEntries();
    await env.BEATPASS_CACHE.delete("v1:track:id=4");
    const b = await call("/v1/tracks/4");
    const c = await call("/v1/tracks/5");
    expect(b.headers.get("ETag")).toBe(a.headers.get("ETag"));
    expect(c.headers.get("ETag")).not.toBe(a.headers.get("ETag"));
  });
});

describe("tiers", () => {
  it("walks memory, then the Cache API, then KV, and back-fills the faster tiers", async () => {
    await call("/v1/tracks/2");
    expect((await call("/v1/tracks/2")).headers.get("Cache-Status")).toMatch(/detail=memory$/);
    memory.clear();
    expect((await call("/v1/tracks/2")).headers.get("Cache-Status")).toMatch(/detail=cache_api$/);
    expect((await call("/v1/tracks/2")).headers.get("Cache-Status")).toMatch(/detail=memory$/);
    memory.clear();
    abandonCacheApiEntries();
    expect((await call("/v1/tracks/2")).headers.get("Cache-Status")).toMatch(/detail=kv$/);
    memory.clear();
    expect((await call("/v1/tracks/2")).headers.get("Cache-Status")).toMatch(/detail=cache_api$/);
    expect(upstreamPaths()).toEqual(["/tracks/2"]);
  });

  it("a CACHE_POLICY override changes the windows; a bad one leaves the defaults", async () => {
    const res = await call("/v1/genres", {}, { CACHE_POLICY: '{"taxonomy":{"soft":30,"hard":60,"staleIfError":120}}' });
    expect(res.headers.get("Cache-Control")).toBe("public, max-age=30, stale-while-revalidate=30, stale-if-error=90");
    const bad = await call("/v1/genres", {}, { CACHE_POLICY: '{"taxonomy":{"soft":90,"hard":60}}' });
    expect(bad.headers.get("Cache-Control")).toMatch(/^public, max-age=3600,/);
  });
});

describe("refresh ahead (scheduled)", () => {
  async function runScheduled(overrides: Record<string, string> = {}) {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "* * * * *" }), { ...env, ...overrides }, ctx);
    await waitOnExecutionContext(ctx);
  }

  it("re-fetches the hottest keys before they go stale, within its budget", async () => {
    const clock = useClock();
    // Each call() is a new client, and a key counts as hot once 3 clients asked for it.
    for (const [id, n] of [
      [1, 5],
      [2, 4],
      [3, 3],
    ] as const)
      for (let i = 0; i < n; i++) await call(`/v1/tracks/${id}`);
    expect(upstreamPaths()).toEqual(["/tracks/1", "/tracks/2", "/tracks/3"]);

    clock.advance(ENTITY.soft * S - 30 * S); // within the last minute of freshness
    await runScheduled({ REFRESH_BUDGET_PER_MINUTE: "2" });
    expect(upstreamPaths()).toEqual(["/tracks/1", "/tracks/2", "/tracks/3", "/tracks/1", "/tracks/2"]);
    expect(logLines.some((l) => l.includes('"event":"refresh_ahead"') && l.includes('"budget":1'))).toBe(true);

    clock.advance(60 * S); // the original copies are now past their soft TTL
    expect((await call("/v1/tracks/1")).headers.get("Cache-Status")).toContain("; hit; ttl=");
    expect((await call("/v1/tracks/1")).headers.get("Cache-Status")).not.toContain("stale");
    expect((await call("/v1/tracks/3")).headers.get("Cache-Status")).toContain("stale-while-revalidate");
  });

  it("leaves fresh keys alone and spends nothing with a zero budget", async () => {
    const clock = useClock();
    for (let i = 0; i < 3; i++) await call("/v1/tracks/1"); // three clients: a hot key
    await runScheduled();
    expect(upstreamPaths()).toHaveLength(1);
    clock.advance(ENTITY.soft * S);
    await runScheduled({ REFRESH_BUDGET_PER_MINUTE: "0" });
    expect(upstreamPaths()).toHaveLength(1);
  });
});

describe("token rotation", () => {
  it("a 401 on the current token succeeds with one retry on BEATPASS_TOKEN_NEXT, and neither token leaks", async () => {
    fake.acceptTokens([CANARY_TOKEN_NEXT]);
    const res = await call("/v1/tracks/1", {}, { BEATPASS_TOKEN_NEXT: CANARY_TOKEN_NEXT });
    expect(res.status).toBe(200);
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual([
      `Bearer ${CANARY_TOKEN}`,
      `Bearer ${CANARY_TOKEN_NEXT}`,
    ]);
    const rejected = logLines.find((l) => l.includes("token_rejected"));
    expect(JSON.parse(rejected!)).toMatchObject({ token: "BEATPASS_TOKEN", retrying_with: "BEATPASS_TOKEN_NEXT" });

    // From then on this isolate leads with the token that works.
    await call("/v1/tracks/2", {}, { BEATPASS_TOKEN_NEXT: CANARY_TOKEN_NEXT });
    expect(fake.requests).toHaveLength(3);
    expect(fake.requests[2]?.headers.authorization).toBe(`Bearer ${CANARY_TOKEN_NEXT}`);
  });

  it("once BEATPASS_TOKEN_NEXT has worked it keeps the lead: a 401 for one resource never flips back", async () => {
    const next = { BEATPASS_TOKEN_NEXT: CANARY_TOKEN_NEXT };
    fake.acceptTokens([CANARY_TOKEN_NEXT]);
    expect((await call("/v1/tracks/1", {}, next)).status).toBe(200);
    // Now both tokens are good, but BeatPass refuses one resource to anyone (401 for it).
    fake.acceptTokens([CANARY_TOKEN, CANARY_TOKEN_NEXT]);
    fake.addFault({ kind: "status", status: 401, path: "/tracks/5" });
    expectProblem(await call("/v1/tracks/5", {}, next), 503, "upstream_unauthorized");
    // Refused to the new token once while the old one still works: still no flip back.
    fake.acceptTokens([CANARY_TOKEN]);
    expect((await call("/v1/tracks/6", {}, next)).status).toBe(200);
    fake.acceptTokens([CANARY_TOKEN, CANARY_TOKEN_NEXT]);
    fake.requests.length = 0;
    for (const id of [2, 3, 4]) expect((await call(`/v1/tracks/${id}`, {}, next)).status).toBe(200);
    // One request per miss, each with the token that has worked.
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual(Array(3).fill(`Bearer ${CANARY_TOKEN_NEXT}`));
  });

  it("a 401 for one resource does not demote a working BEATPASS_TOKEN either", async () => {
    const next = { BEATPASS_TOKEN_NEXT: CANARY_TOKEN_NEXT };
    fake.addFault({ kind: "status", status: 401, path: "/tracks/5" });
    expectProblem(await call("/v1/tracks/5", {}, next), 503, "upstream_unauthorized");
    fake.requests.length = 0;
    for (const id of [2, 3]) expect((await call(`/v1/tracks/${id}`, {}, next)).status).toBe(200);
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual(Array(2).fill(`Bearer ${CANARY_TOKEN}`));
  });

  it("without a next token a 401 is a 503 upstream_unauthorized after one request", async () => {
    fake.acceptTokens(["some-other-token"]);
    expectProblem(await call("/v1/tracks/1"), 503, "upstream_unauthorized");
    expect(fake.requests).toHaveLength(1);
  });
});

describe("healthz", () => {
  it("counts the token's days down and warns under 14", async () => {
    const clock = useClock(Date.UTC(2026, 10, 28, 12));
    const ok = (await health({ BEATPASS_TOKEN_EXPIRES_AT: "2027-01-10" })).json();
    expect(ok).toMatchObject({ status: "ok", token_days_left: 42, warnings: [] });
    clock.advance(30 * 86_400 * S);
    const warn = (await health({ BEATPASS_TOKEN_EXPIRES_AT: "2027-01-10" })).json();
    expect(warn).toMatchObject({ status: "warn", token_days_left: 12 });
    expect(warn.warnings).toEqual(["token expires in 12 day(s)"]);
  });

  it("reports the last upstream error, the rate-limit headroom and the cache counters", async () => {
    await call("/v1/tracks/1");
    fake.addFault({ kind: "status", status: 500, path: "/tracks/2", times: 1 });
    await call("/v1/tracks/2");
    const h = (await health()).json();
    expect(h.last_upstream_error).toMatchObject({ code: "status_500" });
    expect(h.rate_limit).toMatchObject({ limit: 300, remaining: expect.any(Number) });
    expect(h.cache, JSON.stringify(h.cache)).toMatchObject({ misses: 1, upstream_loads: 2, kv_writes: 1 });
  });
});

describe("CACHE_FAST_TIERS", () => {
  it("can leave out the memory tier, or both fast tiers, and still serve from KV", async () => {
    await call("/v1/tracks/2", {}, { CACHE_FAST_TIERS: "cache_api" });
    expect((await call("/v1/tracks/2", {}, { CACHE_FAST_TIERS: "cache_api" })).headers.get("Cache-Status")).toMatch(
      /detail=cache_api$/,
    );
    expect((await call("/v1/tracks/2", {}, { CACHE_FAST_TIERS: "none" })).headers.get("Cache-Status")).toMatch(
      /detail=kv$/,
    );
    expect(upstreamPaths()).toEqual(["/tracks/2"]);
    // A value it does not know falls back to the default tiers (and /healthz says so).
    expect((await call("/v1/tracks/2", {}, { CACHE_FAST_TIERS: "disk" })).status).toBe(200);
  });
});
