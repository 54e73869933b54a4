import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env";
import worker from "../../src/index";
import {
  coordinator,
  keeper,
  observedCoordinators,
  observedKeeper,
  unreachable,
  unreachableKeeper,
} from "../helpers/budget";
import { useClock } from "../helpers/clock";
import { DOCUMENTED_POLICY, DOCUMENTED_RELAY_MS } from "../helpers/documented";
import { storedKey } from "../helpers/kv";
import { call, checked, expectProblem, ORIGIN } from "../helpers/request";
import { upstreamPaths } from "../helpers/upstream";

/**
 * One load per key when several isolates want it: the test plays "another isolate" by
 * talking to the coordinator that isolate's Worker would ask (begin, complete): this
 * location's for a viewer's miss, the key's shard for a refresh (src/budget/coordination.ts).
 */

const ENTITY = DOCUMENTED_POLICY.entity;
const S = 1000;
// The cache key of /v1/tracks/:id (README, "How caching works": v1:<route>:<params>).
const trackKey = (id: number) => `v1:track:id=${id}`;
// These tests are about the keeper's answers, not its absence: wait for them however busy the machine.
const PATIENT: Partial<Env> = { UPSTREAM_BUDGET_TIMEOUT_MS: "10000" };

type Cls = "viewer" | "refresh";

/** Another isolate takes `key`'s lease at the coordinator its `cls` of load asks, as its load would. */
async function otherIsolateLoads(key: string, cls: Cls = "viewer"): Promise<void> {
  const answer = await coordinator(key, cls).begin({
    key,
    cls,
    leaseMs: 10_000,
    freshFrom: Date.now() - ENTITY.soft * S,
  });
  expect(answer.kind).toBe("go");
}

/** Until a request of this test is waiting at the coordinator on another isolate's load (not a fixed sleep). */
async function untilSomeoneWaits(key: string, cls: Cls = "viewer"): Promise<void> {
  for (let polls = 0; (await coordinator(key, cls).status()).waiting === 0; polls++) {
    if (polls > 2000) throw new Error("nobody came to wait on the load");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("a key another isolate is loading", () => {
  it("a viewer's miss waits for that load and is answered with its data: no second upstream request", async () => {
    useClock(); // the other isolate's lease cannot run out while this test waits
    const key = trackKey(5);
    await otherIsolateLoads(key);
    const pending = call("/v1/tracks/5", {}, PATIENT);
    await untilSomeoneWaits(key);
    const body = JSON.stringify({ data: { id: 5, name: "Loaded by another isolate" } });
    await coordinator(key).complete(key, { kind: "data", body, etag: '"other-isolate"', fetchedAt: Date.now() });

    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.text).toBe(body);
    expect(res.headers.get("Cache-Status")).toContain("collapsed");
    expect(upstreamPaths()).toEqual([]);
  });

  it("a miss for a key another isolate loaded moments ago gets that load's body, though KV has no copy yet", async () => {
    useClock(); // "moments ago" whatever the machine's speed: the keeper relays a load's body for a minute
    const key = trackKey(7);
    await otherIsolateLoads(key);
    const body = JSON.stringify({ data: { id: 7, name: "Loaded by another isolate" } });
    await coordinator(key).complete(key, { kind: "data", body, etag: '"other-isolate"', fetchedAt: Date.now() });
    const res = await call("/v1/tracks/7", {}, PATIENT);
    expect(res.status).toBe(200);
    expect(res.text).toBe(body);
    expect(upstreamPaths()).toEqual([]);
  });

  it("a body loaded before a purge is not handed to a miss after it, even where the purge is not known yet", async () => {
    const clock = useClock();
    expect((await call("/v1/genres", {}, PATIENT)).status).toBe(200); // this isolate has read the purge record
    const key = trackKey(7);
    await otherIsolateLoads(key);
    const before = JSON.stringify({ data: { id: 7, name: "Before the purge" } });
    await coordinator(key).complete(key, { kind: "data", body: before, etag: '"before"', fetchedAt: clock.now() });
    clock.advance(S);
    await keeper().recordPurge(["track:7"]);
    const res = await call("/v1/tracks/7", {}, PATIENT);
    expect(res.status).toBe(200);
    expect(res.text).not.toBe(before);
    expect(upstreamPaths()).toEqual(["/genres", "/tracks/7"]);
  });

  it("a stale copy whose key another isolate has just renewed is not refreshed again here", async () => {
    const clock = useClock();
    const first = await call("/v1/tracks/8", {}, PATIENT);
    expect(first.status).toBe(200);
    clock.advance(ENTITY.soft * S + S);
    // Another isolate renews the key meanwhile (BeatPass has not changed it).
    const key = trackKey(8);
    await otherIsolateLoads(key, "refresh");
    const renewed = { body: first.text, etag: first.headers.get("ETag") ?? "", fetchedAt: clock.now() };
    await coordinator(key, "refresh").complete(key, { kind: "data", ...renewed });

    const stale = await call("/v1/tracks/8", {}, PATIENT);
    expect(stale.status).toBe(200);
    expect(stale.headers.get("Cache-Status")).toContain("stale-while-revalidate");
    expect(upstreamPaths(), "the background refresh was skipped").toEqual(["/tracks/8"]);
  });

  it("a stale copy's background refresh that finds the key being loaded elsewhere takes that load's copy", async () => {
    const clock = useClock();
    const first = await call("/v1/tracks/10", {}, PATIENT);
    clock.advance(ENTITY.soft * S + S);
    const key = trackKey(10);
    await otherIsolateLoads(key, "refresh");
    // The stale copy is served at once; its refresh waits on the other isolate's load.
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(`${ORIGIN}/v1/tracks/10`), { ...env, ...PATIENT }, ctx);
    expect(checked(res, await res.text()).headers.get("Cache-Status")).toContain("stale-while-revalidate");
    await untilSomeoneWaits(key, "refresh");
    const renewed = { body: first.text, etag: first.headers.get("ETag") ?? "", fetchedAt: clock.now() };
    await coordinator(key, "refresh").complete(key, { kind: "data", ...renewed });
    await waitOnExecutionContext(ctx);

    const next = await call("/v1/tracks/10", {}, PATIENT);
    expect(next.headers.get("Cache-Status")).not.toContain("stale");
    expect(upstreamPaths()).toEqual(["/tracks/10"]);
  });

  it("while another isolate's newer copy is not in KV here, stale hits ask the key's coordinator about it once", async () => {
    const clock = useClock();
    expect((await call("/v1/tracks/9", {}, PATIENT)).status).toBe(200);
    clock.advance(ENTITY.soft * S + S);
    // Another isolate renewed the key with changed content; its KV write has not arrived here,
    // and a minute later its coordinator no longer hands its body over.
    const key = trackKey(9);
    await otherIsolateLoads(key, "refresh");
    const changed = JSON.stringify({ data: { id: 9, name: "Changed elsewhere" } });
    await coordinator(key, "refresh").complete(key, {
      kind: "data",
      body: changed,
      etag: '"changed"',
      fetchedAt: clock.now(),
    });
    clock.advance(DOCUMENTED_RELAY_MS + S);
    const { ns, calls } = observedCoordinators();
    for (let i = 0; i < 3; i++) {
      const res = await call("/v1/tracks/9", {}, { ...PATIENT, COORDINATORS: ns });
      expect(res.headers.get("Cache-Status")).toContain("stale-while-revalidate");
    }
    expect(calls.filter((m) => m === "begin")).toEqual(["begin"]);
    expect(upstreamPaths()).toEqual(["/tracks/9"]);
  });

  it("a refused refresh is decided here: no keeper or coordinator call for that key for 30 s, none for any key until the retry time", async () => {
    const clock = useClock();
    // A budget of 4: refreshes are granted only while less than 3 are in use.
    const small: Partial<Env> = { ...PATIENT, UPSTREAM_BUDGET_PER_MINUTE: "4" };
    for (const id of [8, 9]) expect((await call(`/v1/tracks/${id}`, {}, small)).status).toBe(200);
    clock.advance(ENTITY.soft * S + S);
    // Viewers' misses spend the whole budget of this minute: nothing is left for a refresh.
    for (const id of [1, 2, 3, 4]) expect((await call(`/v1/tracks/${id}`, {}, small)).status).toBe(200);
    const keeperSeen = observedKeeper();
    const coordSeen = observedCoordinators();
    const asks = () => keeperSeen.calls.length + coordSeen.calls.length;
    const staleHit = async (id: number) => {
      const res = await call(
        `/v1/tracks/${id}`,
        {},
        { ...small, UPSTREAM_BUDGET: keeperSeen.ns, COORDINATORS: coordSeen.ns },
      );
      expect(res.headers.get("Cache-Status"), `track ${id}`).toContain("stale-while-revalidate");
    };
    await staleHit(9);
    const afterFirst = asks();
    for (let i = 0; i < 3; i++) await staleHit(9);
    await staleHit(8);
    expect(asks(), "refused refreshes ask nobody until the budget frees").toBe(afterFirst);
    expect(upstreamPaths()).toEqual(["/tracks/8", "/tracks/9", "/tracks/1", "/tracks/2", "/tracks/3", "/tracks/4"]);
  });

  it("refresh-ahead moves on from a key being loaded elsewhere, where a stale copy's refresh waits for it", async () => {
    const key = trackKey(31);
    await otherIsolateLoads(key, "refresh");
    const ask = (cls: "refresh" | "scheduled") =>
      coordinator(key, cls).begin({ key, cls, leaseMs: 10_000, freshFrom: Date.now() - ENTITY.soft * S });
    expect((await ask("scheduled")).kind).toBe("skip");
    expect((await ask("refresh")).kind).toBe("wait");
  });

  it("a viewer told to wait is answered even if the coordinator never reports the load's outcome", async () => {
    // A coordinator that says "wait" and then never answers (overloaded, or restarted meanwhile).
    const stub = {
      begin: async () => ({ kind: "wait" }),
      awaitLoad: () => new Promise(() => {}),
      complete: async () => undefined,
      pause: async () => undefined,
    };
    const silent = { idFromName: () => ({}), get: () => stub } as unknown as Env["COORDINATORS"];
    // Bounded by the load's timeout, the lease margin and the keeper's timeout: were the wait
    // unbounded, this request would never be answered (and the test would time out).
    const res = await call(
      "/v1/tracks/6",
      {},
      { COORDINATORS: silent, UPSTREAM_TIMEOUT_MS: "50", UPSTREAM_BUDGET_TIMEOUT_MS: "50" },
    );
    // Like a load that timed out: 504 with Retry-After, never a 500.
    expectProblem(res, 504, "upstream_timeout");
    expect(upstreamPaths()).toEqual([]);

    // With a copy past its hard window, that copy is served instead, and kept.
    const clock = useClock();
    expect((await call("/v1/tracks/7")).status).toBe(200);
    clock.advance(ENTITY.hard * S + S);
    const quiet = { COORDINATORS: silent, UPSTREAM_TIMEOUT_MS: "50", UPSTREAM_BUDGET_TIMEOUT_MS: "50" };
    for (let i = 0; i < 2; i++) {
      const stale = await call("/v1/tracks/7", {}, quiet);
      expect(stale.status).toBe(200);
      expect(stale.headers.get("Cache-Status")).toContain("detail=stale-if-error");
    }
    expect(await env.BEATPASS_CACHE.get(storedKey(trackKey(7)))).not.toBeNull();
  });
});

describe("a location's turn to ask the keeper (lease gate)", () => {
  const refusedUntil = (retryAt: number) => ({
    kind: "refused" as const,
    retryAt,
    newcomerRoom: 0,
    newcomerAt: 0,
    isolates: 12,
    pausedUntil: 0,
  });

  it("an isolate with no lease takes the refusal another isolate here was just given: no keeper call, the same retry time", async () => {
    const clock = useClock();
    const here = coordinator(trackKey(5));
    expect(await here.leaseTurn("another-isolate", false)).toMatchObject({ kind: "ask" });
    await here.leaseTold(refusedUntil(clock.now() + 40_000));
    const k = observedKeeper();
    const res = await call("/v1/tracks/5", {}, { ...PATIENT, UPSTREAM_BUDGET: k.ns });
    expectProblem(res, 503, "upstream_budget_exhausted");
    expect(res.headers.get("Retry-After")).toBe("40");
    expect(k.calls).toEqual([]);
    // From the retry time on, it asks the keeper itself.
    clock.advance(40_000);
    expect((await call("/v1/tracks/5", {}, { ...PATIENT, UPSTREAM_BUDGET: k.ns })).status).toBe(200);
    expect(k.calls).toContain("lease");
    expect(upstreamPaths()).toEqual(["/tracks/5"]);
  });

  it("an isolate the keeper refuses tells its location: the next isolate there is answered without asking", async () => {
    useClock();
    const perMinute = 5; // leases may hold 4 (a fifth is the new visitors'), one each at most
    const hold = (isolate: string, newcomers = 0) =>
      keeper().lease({
        isolate,
        location: "elsewhere",
        spent: 0,
        spentAt: [],
        want: { viewer: 1, refresh: 0, scheduled: 0 },
        newcomers,
        perMinute,
        groups: [],
        refused: { viewer: 0, refresh: 0, scheduled: 0 },
      });
    for (const id of ["x1", "x2", "x3", "x4"]) await hold(id);
    await hold("x5", 1); // and the new visitors' permit too
    const res = await call("/v1/tracks/5", {}, { ...PATIENT, UPSTREAM_BUDGET_PER_MINUTE: String(perMinute) });
    expectProblem(res, 503, "upstream_budget_exhausted");
    const next = await coordinator(trackKey(5)).leaseTurn("next-isolate", true);
    expect(next).toMatchObject({ kind: "heard", heard: { kind: "refused", newcomerRoom: 0 } });
    expect(upstreamPaths()).toEqual([]);
  });
});

describe("an isolate that starts afresh (tests, the simulation's reused isolates)", () => {
  const grantOfThree = () => ({
    chain: "the-old-chain",
    granted: { viewer: 3, refresh: 0, scheduled: 0 },
    expires: Date.now() + 30_000,
    retryAt: 0,
    pausedUntil: 0,
    newcomerRoom: 0,
    newcomerAt: 0,
    isolates: 1,
    used: 0,
    capped: {},
    purgedAt: 0,
  });

  it.each([
    ["fails", (_: (g: unknown) => void, reject: (e: Error) => void) => reject(new Error("the old renewal failed"))],
    ["grants permits", (resolve: (g: unknown) => void) => resolve(grantOfThree())],
  ] as const)("is not touched by a renewal its earlier self left under way that then %s", async (_, settle) => {
    const key = trackKey(7);
    await otherIsolateLoads(key);
    const body = JSON.stringify({ data: { id: 7, name: "Loaded by another isolate" } });
    await coordinator(key).complete(key, { kind: "data", body, etag: '"other-isolate"', fetchedAt: Date.now() });
    // A keeper that answers only when told to.
    let answer: () => void = () => undefined;
    const late = new Promise((resolve, reject) => {
      answer = () => settle(resolve, reject);
    });
    late.catch(() => undefined);
    const slow = { idFromName: () => ({}), get: () => ({ lease: () => late }) } as unknown as Env["UPSTREAM_BUDGET"];
    // The miss is answered with the other isolate's load while this isolate's first renewal waits.
    const shared = await call("/v1/tracks/7", {}, { ...PATIENT, UPSTREAM_BUDGET: slow });
    expect(shared.text).toBe(body);
    const { resetIsolate } = await import("../../src/isolate");
    const { admissionHealth } = await import("../../src/budget/admission");
    resetIsolate();
    answer();
    await new Promise((r) => setTimeout(r, 10));
    expect(admissionHealth(Date.now()), "the new isolate holds no lease and was refused nothing").toMatchObject({
      permits_left: 0,
      keeper_unreachable: false,
    });
    // Its miss gets a lease of its own, and its data (no coordinator here: it asks the keeper itself).
    const fresh = await call("/v1/tracks/8", {}, { ...PATIENT, COORDINATORS: unreachable() });
    expect(fresh.status, fresh.text.slice(0, 200)).toBe(200);
    expect(upstreamPaths()).toEqual(["/tracks/8"]);
  });
});

describe("when the keeper cannot be reached", () => {
  it("a stale hit's background refresh spends nothing: with no lease, nothing leaves for BeatPass", async () => {
    const clock = useClock();
    expect((await call("/v1/tracks/3")).status).toBe(200);
    clock.advance(ENTITY.soft * S + S);
    const { resetIsolate } = await import("../../src/isolate");
    resetIsolate(clock.now()); // a new isolate, holding no lease, and its memory cold...
    const down = unreachableKeeper();
    for (let i = 0; i < 3; i++) {
      const res = await call("/v1/tracks/3", {}, { UPSTREAM_BUDGET: down, UPSTREAM_BUDGET_TIMEOUT_MS: "50" });
      expect(res.status).toBe(200);
      expect(res.headers.get("Cache-Status")).toContain("stale-while-revalidate");
    }
    expect(upstreamPaths()).toEqual(["/tracks/3"]);
  });
});
