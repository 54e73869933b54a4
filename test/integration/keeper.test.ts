import { describe, expect, it, vi } from "vitest";
import type { Env } from "../../src/env";
import { resetIsolate } from "../../src/isolate";
import { coordinator, keeper, observedCoordinators, observedKeeper, unreachableKeeper } from "../helpers/budget";
import { useClock } from "../helpers/clock";
import { OPERATOR_KEY } from "../helpers/constants";
import { DOCUMENTED_GROUP_SHARE, DOCUMENTED_POLICY } from "../helpers/documented";
import { call, expectProblem, health } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";
import { clockedRateLimit } from "../helpers/window";

/**
 * Quota leases through the Worker: a miss spends a permit of this isolate's lease with no
 * round trip; the keeper is asked only to renew it (docs/caching.md, "Quota leases").
 */
const S = 1000;
const ENTITY = DOCUMENTED_POLICY.entity;
// These tests are about the keeper's answers, not its absence: wait for them however busy the machine.
const PATIENT: Partial<Env> = { UPSTREAM_BUDGET_TIMEOUT_MS: "10000" };
const timing = (res: { headers: Headers }, name: string) =>
  Number(new RegExp(`${name};dur=(\\d+)`).exec(res.headers.get("Server-Timing") ?? "")?.[1] ?? Number.NaN);

describe("a miss spends this isolate's lease", () => {
  it("the first miss of a cold isolate waits for its lease; the next spend it with no keeper call (Server-Timing budget 0)", async () => {
    const { ns, calls } = observedKeeper();
    const env = { ...PATIENT, UPSTREAM_BUDGET: ns };
    expect((await call("/v1/tracks/1", {}, env)).status).toBe(200);
    expect(calls).toEqual(["lease"]);
    const second = await call("/v1/tracks/2", {}, env);
    expect(second.status).toBe(200);
    expect(calls, "no round trip for a permit the lease holds").toEqual(["lease"]);
    expect(timing(second, "budget")).toBe(0);
    expect(upstreamPaths()).toEqual(["/tracks/1", "/tracks/2"]);
  });

  it("Server-Timing budget is the renewal waited for, not the clock running meanwhile", async () => {
    // A clock that moves on every read, as local workerd's does between two reads with no I/O.
    let t = Date.now();
    vi.spyOn(Date, "now").mockImplementation(() => t++);
    const { ns, calls } = observedKeeper();
    const env = { ...PATIENT, UPSTREAM_BUDGET: ns };
    const first = await call("/v1/tracks/1", {}, env);
    expect(first.status).toBe(200);
    expect(timing(first, "budget"), "the first miss waited for its lease").toBeGreaterThan(0);
    const second = await call("/v1/tracks/2", {}, env);
    expect(second.status).toBe(200);
    expect(calls).toEqual(["lease"]);
    expect(timing(second, "budget"), "spent from the lease: no wait").toBe(0);
  });

  it("cache hits ask neither the keeper nor a coordinator", async () => {
    expect((await call("/v1/tracks/3", {}, PATIENT)).status).toBe(200);
    const k = observedKeeper();
    const c = observedCoordinators();
    for (let i = 0; i < 100; i++) {
      const res = await call("/v1/tracks/3", {}, { ...PATIENT, UPSTREAM_BUDGET: k.ns, COORDINATORS: c.ns });
      expect(res.headers.get("Cache-Status")).toContain("hit");
    }
    expect([k.calls, c.calls]).toEqual([[], []]);
  });

  it("20 cold misses cost one coordinator question and one completion each, and a handful of renewals", async () => {
    const k = observedKeeper();
    const c = observedCoordinators();
    const env = { ...PATIENT, UPSTREAM_BUDGET: k.ns, COORDINATORS: c.ns };
    for (let id = 1; id <= 20; id++) expect((await call(`/v1/tracks/${id}`, {}, env)).status).toBe(200);
    expect(c.calls.filter((m) => m === "begin")).toHaveLength(20);
    expect(c.calls.filter((m) => m === "complete")).toHaveLength(20);
    // Each renewal asks for the isolate's demand over a whole lease: the lease grows with it.
    expect(k.calls.filter((m) => m === "lease").length).toBeLessThanOrEqual(4);
  });
});

describe("when the keeper cannot be reached", () => {
  it("the isolate spends what its lease holds, then refuses with 503 and Retry-After; nothing more leaves", async () => {
    expect((await call("/v1/tracks/1", {}, PATIENT)).status).toBe(200);
    const left = (await health()).json().budget.isolate.permits_left as number;
    expect(left).toBeGreaterThan(0);
    const down = { UPSTREAM_BUDGET: unreachableKeeper(), UPSTREAM_BUDGET_TIMEOUT_MS: "50" };
    const answers = [];
    for (let id = 2; id < 2 + left + 3; id++) answers.push(await call(`/v1/tracks/${id}`, {}, down));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(left);
    for (const refused of answers.filter((r) => r.status !== 200)) {
      expectProblem(refused, 503, "upstream_budget_exhausted");
      expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    }
    expect(upstreamPaths()).toHaveLength(1 + left);
  });

  it("a new isolate with no lease serves a copy it has, and sends nothing", async () => {
    const clock = useClock();
    expect((await call("/v1/tracks/4", {}, PATIENT)).status).toBe(200);
    clock.advance(ENTITY.hard * S + S);
    resetIsolate(clock.now());
    const res = await call(
      "/v1/tracks/4",
      {},
      { UPSTREAM_BUDGET: unreachableKeeper(), UPSTREAM_BUDGET_TIMEOUT_MS: "50" },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Status")).toContain("stale-if-error");
    expect(upstreamPaths()).toEqual(["/tracks/4"]);
  });
});

describe("a 429 from BeatPass", () => {
  it("is answered once the keeper and this location's coordinator know: other isolates send nothing", async () => {
    fake.addFault({ kind: "status", status: 429, headers: { "Retry-After": "30" }, path: "/tracks/5", times: 1 });
    const k = observedKeeper();
    const c = observedCoordinators();
    const res = await call("/v1/tracks/5", {}, { ...PATIENT, UPSTREAM_BUDGET: k.ns, COORDINATORS: c.ns });
    expectProblem(res, 503, "upstream_rate_limited");
    expect(k.calls).toContain("pause");
    expect(c.calls).toContain("pause");
    // Another isolate of this location, asking its coordinator before any load, hears the pause...
    const other = await coordinator("v1:track:id=6").begin({
      key: "v1:track:id=6",
      cls: "viewer",
      leaseMs: 1_000,
      freshFrom: 0,
    });
    expect(other.kind).toBe("paused");
    // ...and so does one anywhere that renews its lease: nothing is granted until Retry-After.
    expect((await keeper().status(240)).paused_until).not.toBeNull();
    resetIsolate();
    expectProblem(await call("/v1/tracks/6", {}, PATIENT), 503, "upstream_rate_limited");
    expect(upstreamPaths()).toEqual(["/tracks/5"]);
  });
});

/** A cold miss of its own for each n: searches (the fake has only 60 tracks). */
const cold = (n: number) => `/v1/search?query=cold-${n}`;

/** `n` misses from as many networks (one each: call() gives every request a /24 of its own). */
async function spendFromNetworks(env: Partial<Env>, n: number, firstId: number): Promise<number> {
  for (let i = 0; i < n; i++) expect((await call(cold(firstId + i), {}, env)).status).toBe(200);
  return firstId + n;
}

/** Misses until half the budget is in use: pressure (docs: fair shares apply from then). */
const pressure = (env: Partial<Env>, perMinute: number, firstId: number) =>
  spendFromNetworks(env, Math.ceil(DOCUMENTED_GROUP_SHARE.pressure * perMinute), firstId);

describe("fair shares by network", () => {
  it("in a quiet minute nobody is capped: one network's misses pass past its share", async () => {
    const perMinute = 40;
    const share = Math.max(1, Math.floor(DOCUMENTED_GROUP_SHARE.anon * perMinute));
    const env = { ...PATIENT, UPSTREAM_BUDGET_PER_MINUTE: String(perMinute) };
    for (let i = 1; i <= share + 2; i++) {
      const res = await call(cold(i), { headers: { "CF-Connecting-IP": `198.51.100.${i}` } }, env);
      expect(res.status, `address ${i}`).toBe(200);
    }
  });

  it("under pressure, a network that has had a tenth of the budget gets 429 client_miss_budget; another network's miss passes", async () => {
    const perMinute = 40;
    const share = Math.max(1, Math.floor(DOCUMENTED_GROUP_SHARE.anon * perMinute));
    const env = { ...PATIENT, UPSTREAM_BUDGET_PER_MINUTE: String(perMinute) };
    const next = await pressure(env, perMinute, 100);
    // Different addresses of one /24, one miss each (each within its own miss budget).
    for (let i = 1; i <= share; i++) {
      const res = await call(cold(next + i), { headers: { "CF-Connecting-IP": `198.51.100.${i}` } }, env);
      expect(res.status, `address ${i}`).toBe(200);
    }
    const refused = await call(cold(next + 20), { headers: { "CF-Connecting-IP": "198.51.100.77" } }, env);
    expectProblem(refused, 429, "client_miss_budget");
    const other = await call(cold(next + 21), { headers: { "CF-Connecting-IP": "203.0.113.5" } }, env);
    expect(other.status).toBe(200);
    // Cached data is still served to the refused network.
    const cached = await call(cold(next + 1), { headers: { "CF-Connecting-IP": "198.51.100.78" } }, env);
    expect(cached.status).toBe(200);
  });
});

describe("fair shares across isolates", () => {
  it("a network that spent its share through one isolate is refused by another, from that one's next renewal", async () => {
    const perMinute = 40;
    const share = Math.max(1, Math.floor(DOCUMENTED_GROUP_SHARE.anon * perMinute));
    const env = { ...PATIENT, UPSTREAM_BUDGET_PER_MINUTE: String(perMinute) };
    const from = (i: number) => ({ headers: { "CF-Connecting-IP": `198.51.100.${i}` } });
    for (let i = 1; i <= share; i++) expect((await call(cold(i), from(i), env)).status).toBe(200);
    // This isolate reports its spends at its next renewal (misses from other networks ask for
    // it), bringing the budget to pressure.
    await pressure(env, perMinute, 100);
    resetIsolate();
    // Another isolate: it has never seen that network, but the keeper has, through the reports.
    expect((await call(cold(30), { headers: { "CF-Connecting-IP": "203.0.113.9" } }, env)).status).toBe(200);
    expectProblem(await call(cold(31), from(77), env), 429, "client_miss_budget");
  });

  it("keeps the last fifth of the budget at the keeper for networks that have not spent this minute", async () => {
    const perMinute = 40;
    const env = { ...PATIENT, UPSTREAM_BUDGET_PER_MINUTE: String(perMinute) };
    const from = (ip: string) => ({ headers: { "CF-Connecting-IP": ip } });
    // Misses from as many networks until leases can hold no more (docs: all but the new
    // visitors' fifth of the budget).
    const kept = Math.floor(DOCUMENTED_GROUP_SHARE.newVisitors * perMinute);
    await spendFromNetworks(env, perMinute - kept, 100);
    expect((await keeper().status(perMinute)).in_use).toBeGreaterThanOrEqual(perMinute - kept);
    // Another isolate, holding nothing: a network that has not spent yet gets a permit of the
    // kept fifth; its second miss does not (the budget is spent for it); another new network's does.
    resetIsolate();
    expect((await call(cold(201), from("198.51.100.1"), env)).status).toBe(200);
    expectProblem(await call(cold(202), from("198.51.100.2"), env), 503, "upstream_budget_exhausted");
    expect((await call(cold(203), from("203.0.113.4"), env)).status).toBe(200);
  });

  it("gives a new network's burst one permit of the kept fifth, not the whole of it", async () => {
    const perMinute = 40;
    const env = { ...PATIENT, UPSTREAM_BUDGET_PER_MINUTE: String(perMinute) };
    const kept = Math.floor(DOCUMENTED_GROUP_SHARE.newVisitors * perMinute);
    await spendFromNetworks(env, perMinute - kept, 100);
    resetIsolate();
    // Four addresses of one new network at once: one newcomer (docs: the share is per network).
    const burst = await Promise.all(
      [1, 2, 3, 4].map((i) => call(cold(300 + i), { headers: { "CF-Connecting-IP": `198.51.100.${i}` } }, env)),
    );
    expect(burst.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of burst.filter((r) => r.status !== 200)) expectProblem(r, 503, "upstream_budget_exhausted");
    // What the burst did not take is still there for the next new network.
    expect((await call(cold(310), { headers: { "CF-Connecting-IP": "203.0.113.4" } }, env)).status).toBe(200);
  });
});

describe("a purge recorded elsewhere", () => {
  it("reaches this isolate with its next lease renewal, before the KV mirror is read again", async () => {
    const clock = useClock(); // the KV mirror is not read again meanwhile (it is read every few seconds)
    expect((await call("/v1/tracks/7", {}, PATIENT)).status).toBe(200);
    expect((await call("/v1/tracks/8", {}, PATIENT)).status).toBe(200);
    clock.advance(1_000); // the purge comes after the copies were stored
    await keeper().recordPurge(["track:7"]);
    // The lease holds permits, so nothing asks the keeper yet: the next renewal is what tells.
    const k = observedKeeper();
    for (let id = 9; upstreamPaths().length < 8 && id < 20; id++)
      expect((await call(`/v1/tracks/${id}`, {}, { ...PATIENT, UPSTREAM_BUDGET: k.ns })).status).toBe(200);
    expect(k.calls).toContain("lease");
    const purged = await call("/v1/tracks/7", {}, PATIENT);
    expect(purged.headers.get("Cache-Status")).not.toContain("hit");
    expect((await call("/v1/tracks/8", {}, PATIENT)).headers.get("Cache-Status")).toContain("hit");
  });
});

describe("/healthz and the budget", () => {
  it("says degraded to everyone while viewers' misses are refused for budget, and shows the operator the keeper's view", async () => {
    const env = { ...PATIENT, UPSTREAM_BUDGET_PER_MINUTE: "1" };
    expect((await call("/v1/tracks/1", {}, env)).status).toBe(200);
    expectProblem(await call("/v1/tracks/2", {}, env), 503, "upstream_budget_exhausted");
    expect((await call("/healthz", {}, env)).json()).toEqual({ status: "degraded" });
    const report = (await health(env)).json();
    expect(report.status).toBe("degraded");
    expect(report.budget.deployment).toMatchObject({ budget_per_minute: 1, in_use: 1, active_leases: 1 });
    expect(report.budget.deployment.last_hour.renewals).toBeGreaterThan(0);
  });

  it("limits X-Operator-Key tries to 10 a minute per address, right or wrong", async () => {
    useClock(); // the binding's minute (docs/operators.md: 10 tries) on the test's clock
    const guesses = { OPERATOR_GUESSES: clockedRateLimit({ limit: 10, periodSeconds: 60 }) };
    const from = { "CF-Connecting-IP": "192.0.2.44" };
    for (let i = 0; i < 10; i++) {
      const res = await call("/healthz", { headers: { ...from, "X-Operator-Key": `guess-${i}` } }, guesses);
      expect(res.json(), `try ${i + 1}`).toEqual({ status: "ok" });
    }
    const limited = await call("/healthz", { headers: { ...from, "X-Operator-Key": OPERATOR_KEY } }, guesses);
    expectProblem(limited, 429, "rate_limited");
    expect(limited.headers.get("Retry-After")).toBe("60");
    expect((await health(guesses)).json().token_configured, "another address is not limited").toBe(true);
  });
});
