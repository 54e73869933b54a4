import { createHmac } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DOCUMENTED_UPSTREAM_BUDGET_PER_MINUTE } from "../helpers/documented";
import {
  expectProblem,
  FLEET_OPERATOR_KEY,
  type Fleet,
  keyShardOf,
  type Reply,
  spread,
  startFleet,
  startUpstream,
  storedKey,
  type Upstream,
  until,
} from "./fleet";

// The budget keeper's promises, held deployment-wide: three instances of the bundled Worker in
// one miniflare, sharing one KV namespace and the one keeper Durable Object (fleet.ts). Each
// test starts its own fleet (its vars differ, and the keeper's window must start empty); the
// fake BeatPass is shared by the file and reset between tests.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const track = (id: number) => `/v1/tracks/${id}`;
const upstreamTrack = (id: number) => `/tracks/${id}`;
const trackKey = (id: number) => storedKey(upstream, `v1:track:id=${id}`);

let upstream: Upstream;
let fleet: Fleet | undefined;

beforeAll(async () => {
  // Every track id exists (tracks 1..60 and copies of them beyond): scenario c needs 200+ keys.
  upstream = await startUpstream({ synthesizeTracks: true });
});
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
  upstream.reset();
});
afterAll(async () => {
  await upstream?.close();
});

type KvEntry = { value: string | null; metadata: { fetched_at: number; etag: string } | null };
async function kvEntry(f: Fleet, key: string): Promise<KvEntry> {
  const kv = await f.kv();
  return (await kv.getWithMetadata(key, "text")) as KvEntry;
}
/** The KV copy of `key` (fetched after `newerThan`), once the write (done in waitUntil, after the answer) has landed. */
async function storedCopy(f: Fleet, key: string, newerThan = 0, deadlineMs = 60_000): Promise<KvEntry> {
  let entry: KvEntry = { value: null, metadata: null };
  await until(
    newerThan ? `a KV copy of ${key} fetched after ${newerThan}` : `a KV copy of ${key}`,
    async () => {
      entry = await kvEntry(f, key);
      return entry.value !== null && (entry.metadata?.fetched_at ?? 0) > newerThan;
    },
    { deadlineMs },
  );
  return entry;
}

function countBy<T>(xs: T[], f: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[f(x)] = (out[f(x)] ?? 0) + 1;
  return out;
}

describe("one cold key, 300 viewers on 3 instances at once", () => {
  it("costs exactly one upstream request, and all 300 get the same 200", async () => {
    fleet = await startFleet({ upstream });
    // BeatPass answers only once the test says so: while it is held no viewer can be answered,
    // so every request sent meanwhile is one the keeper has to deduplicate. The pause after the
    // last request was sent only makes the test sharper (more requests in flight at the
    // release); the assertions hold for any arrival order.
    const held = upstream.hold(upstreamTrack(1));
    const replies = spread(fleet, 300, () => track(1));
    await until("the load reached BeatPass", () => held.arrived() >= 1);
    await sleep(1000);
    expect(held.arrived(), "upstream requests while the load was held").toBe(1);
    held.release();
    const all = await replies;

    expect(upstream.count(), "upstream requests in all").toBe(1);
    expect(countBy(all, (r) => String(r.status))).toEqual({ 200: 300 });
    const body = all[0]?.text;
    expect(JSON.parse(body ?? "null").data).toMatchObject({ id: 1 });
    for (const r of all) expect(r.text).toBe(body);
    // Exactly one answer loaded it; the others joined that load (here or through the keeper)
    // or, arriving after it, were served the stored copy.
    const status = countBy(all, (r) => {
      const s = r.headers.get("Cache-Status") ?? "";
      return s.includes("collapsed") ? "collapsed" : s.includes("fwd=miss") ? "loaded" : s.includes("hit") ? "hit" : s;
    });
    expect(status.loaded, JSON.stringify(status)).toBe(1);
    expect((status.collapsed ?? 0) + (status.hit ?? 0)).toBe(299);
  });
});

describe("one stale key, 300 viewers on 3 instances at once", () => {
  const SOFT = 300;
  const HARD = 3600;
  const STALE_IF_ERROR = 86_400;
  // Halfway between soft and hard: stale, still served.
  const AGE_SECONDS = 1000;

  /**
   * 300 viewers ask for a copy that is stale (soft <= age < hard) at once. The refresh is held at
   * BeatPass until every viewer has been answered: the answers must not wait on it, and a second
   * refresh started meanwhile would show up as a second arrival.
   */
  async function staleStorm(
    f: Fleet,
    copy: { text: string; etag: string; fetchedAt: number },
    policy: { soft: number; hard: number },
    minAgeSeconds: number,
  ): Promise<void> {
    const before = upstream.count();
    const held = upstream.hold(upstreamTrack(1));
    const all = await spread(f, 300, () => track(1));
    for (const r of all) {
      expect(r.status).toBe(200);
      expect(r.text).toBe(copy.text);
      expect(r.headers.get("ETag")).toBe(copy.etag);
      // src/http/respond.ts: a stale answer says so in Cache-Status, and tells its real age,
      // at least the soft window (max-age), so no cache downstream takes it for fresh.
      expect(r.headers.get("Cache-Status")).toMatch(
        /^beatpass-edge; hit; ttl=(0|-\d+); detail=stale-while-revalidate$/,
      );
      expect(r.headers.get("Cache-Control")).toBe(
        `public, max-age=${policy.soft}, stale-while-revalidate=${policy.hard - policy.soft}, stale-if-error=${STALE_IF_ERROR - policy.soft}`,
      );
      expect(Number(r.headers.get("Age"))).toBeGreaterThanOrEqual(Math.max(minAgeSeconds, policy.soft));
      expect(Number(r.headers.get("Age"))).toBeLessThan(policy.hard);
    }
    // The refresh runs after the answers (waitUntil): wait for it, not for time. A deployment
    // that never refreshes fails here, after the deadline.
    await until("the background refresh reached BeatPass", () => held.arrived() >= 1, { deadlineMs: 20_000 });
    expect(held.arrived(), "refreshes at BeatPass while all 300 stale answers went out").toBe(1);
    held.release();
    // The key's coordinator holds no lease once every load has finished.
    const coordinator = await f.coordinator(`key:${keyShardOf(`v1:track:id=1`)}`);
    await until("no load in flight", async () => (await coordinator.status()).leases === 0);
    expect(upstream.count(upstreamTrack(1)) - before, "refreshes in all").toBe(1);
    expect(upstream.count() - before).toBe(1);
  }

  it("refreshes a copy aged in KV with exactly one upstream request, serving all 300 the stale copy", async () => {
    const policy = { soft: SOFT, hard: HARD };
    const vars = { CACHE_POLICY: JSON.stringify({ entity: policy }) };
    // Ageing without the wall clock: the fleet starts with empty memory and Cache API tiers, so
    // every instance first reads the KV copy, whose fetch time the test rewrote. The copy comes
    // from a separate one-instance deployment: this fleet's keeper then has no memory of loading
    // it (as after the keeper restarted), which would otherwise contradict the rewritten time.
    const donor = await startFleet({ upstream, size: 1, vars });
    let seed: Reply;
    let stored: KvEntry;
    try {
      seed = await donor.fetchVia(0, track(1));
      expect(seed.status).toBe(200);
      stored = await storedCopy(donor, trackKey(1));
    } finally {
      await donor.stop();
    }

    fleet = await startFleet({ upstream, vars });
    const aged = (stored.metadata?.fetched_at ?? 0) - AGE_SECONDS * 1000;
    // Same value and ETag; only the fetch time moves back. In every instance's KV: a copy
    // that old has long since propagated.
    for (let i = 0; i < fleet.size; i++) {
      await (await fleet.kv(i)).put(trackKey(1), stored.value ?? "", {
        metadata: { ...stored.metadata, fetched_at: aged },
      });
    }
    expect(upstream.count()).toBe(1);

    await staleStorm(
      fleet,
      { text: seed.text, etag: stored.metadata?.etag ?? "", fetchedAt: aged },
      policy,
      AGE_SECONDS,
    );

    // Every instance now serves the copy as fresh, without BeatPass and without a KV write: the
    // content did not change, and the keeper told the others their copy is current.
    for (let i = 0; i < 3; i++) {
      const after = await fleet.fetchVia(i, track(1));
      expect(after.status).toBe(200);
      expect(after.headers.get("Cache-Status")).toMatch(/^beatpass-edge; hit; ttl=[1-9]\d*; detail=memory$/);
    }
    expect(upstream.count()).toBe(2);
  });

  it("refreshes a copy it loaded itself once that goes stale on the clock", async () => {
    // The path every key takes in production: the keeper granted the load that made the copy,
    // then the copy ages, on the fleet's clock (fleet.ts, setClock): the keeper's memory of the
    // load ages with it.
    const policy = { soft: SOFT, hard: HARD };
    fleet = await startFleet({ upstream, vars: { CACHE_POLICY: JSON.stringify({ entity: policy }) } });
    const t = Date.now();
    await fleet.setClock(t);
    const seed = await fleet.fetchVia(0, track(1));
    expect(seed.status).toBe(200);
    const stored = await storedCopy(fleet, trackKey(1));
    const fetchedAt = stored.metadata?.fetched_at ?? 0;
    expect(fetchedAt).toBe(t);
    await fleet.setClock(t + AGE_SECONDS * 1000);

    await staleStorm(fleet, { text: seed.text, etag: stored.metadata?.etag ?? "", fetchedAt }, policy, AGE_SECONDS);
  });
});
describe("a budget of 30 a minute, 200 cold keys from 200 clients", () => {
  const BUDGET = 30;
  const WARM = [1001, 1002, 1003, 1004, 1005];

  it("never lets more than 30 requests a minute reach BeatPass; cached keys keep answering", async () => {
    fleet = await startFleet({ upstream, vars: { UPSTREAM_BUDGET_PER_MINUTE: String(BUDGET) } });
    const f = fleet;
    // The fleet's clock stands still (fleet.ts, setClock): however long the run takes, it lies
    // in one of the keeper's minutes, so exactly the budget is spent.
    const t = Date.now();
    await f.setClock(t);
    // Warm a few keys first, through different instances; this spends from the same budget.
    for (const [k, id] of WARM.entries()) expect((await f.fetchVia(k % f.size, track(id))).status).toBe(200);
    for (const id of WARM) await storedCopy(f, trackKey(id));
    expect(upstream.count()).toBe(WARM.length);

    // 200 cold keys, each from its own client, spread over the instances, all at once; and
    // meanwhile the warm keys, asked 40 times from other clients on every instance.
    const cold = Array.from({ length: 200 }, (_, k) => f.fetchVia(k % f.size, track(k + 1)));
    const warm = Array.from({ length: 40 }, (_, k) => f.fetchVia(k % f.size, track(WARM[k % WARM.length] ?? 0)));
    const [coldReplies, warmReplies] = await Promise.all([Promise.all(cold), Promise.all(warm)]);

    // Never more than the budget within the minute: here, all of it was spent.
    expect(upstream.count()).toBe(BUDGET);
    // Refusals are decided by each instance from its lease: the keeper is asked a few times, not per request.
    let keeperCalls = 0;
    for (let i = 0; i < f.size; i++)
      keeperCalls += (await f.fetchVia(i, "/healthz", { headers: { "X-Operator-Key": FLEET_OPERATOR_KEY } })).json()
        .cache.keeper_calls;
    expect(keeperCalls).toBeLessThanOrEqual(40);

    let loaded = 0;
    let refused = 0;
    for (const [k, r] of coldReplies.entries()) {
      if (r.status === 200) {
        loaded++;
        expect(r.json().data).toMatchObject({ id: k + 1 });
        continue;
      }
      refused++;
      expectProblem(r, 503, "upstream_budget_exhausted");
      // A permit comes back after BeatPass's minute plus the keeper's 2 s transit allowance,
      // and each isolate's retry is spread by up to 2 s more (docs/caching.md).
      expect(Number(r.headers.get("Retry-After"))).toBeLessThanOrEqual(64);
    }
    // Each key answered 200 cost exactly one request; the viewer class may spend every permit.
    expect(loaded).toBe(BUDGET - WARM.length);
    expect(refused).toBe(200 - loaded);
    for (const r of warmReplies) expect(r.status).toBe(200);

    // A minute and the keeper's transit allowance later, and past each isolate's retry spread
    // (up to 2 s, docs/caching.md), the budget is there again.
    await f.setClock(t + 64_001);
    const later = await f.fetchVia(0, track(500));
    expect(later.status).toBe(200);
    expect(upstream.count()).toBe(BUDGET + 1);
  });
});

describe("BeatPass says 429 to one instance", () => {
  const RETRY_AFTER = 5;

  it("stops every instance until Retry-After has passed, then lets the next miss through", async () => {
    fleet = await startFleet({ upstream });
    const f = fleet;
    // On the fleet's clock (fleet.ts, setClock): the pause ends when the test moves it, not
    // when a busy machine gets round to it.
    const t = Date.now();
    await f.setClock(t);
    upstream.fake.addFault({
      kind: "status",
      status: 429,
      headers: { "Retry-After": String(RETRY_AFTER) },
      path: upstreamTrack(50),
      times: 1,
    });
    // Every instance holds a lease and has spent from it (warm: no keeper call on its next miss).
    for (const i of [1, 2]) expect((await f.fetchVia(i, track(40 + i))).status).toBe(200);
    const before = upstream.count();
    const a = await f.fetchVia(0, track(50));
    expectProblem(a, 503, "upstream_rate_limited");
    expect(a.headers.get("Retry-After")).toBe(String(RETRY_AFTER));

    // From the moment A's viewer has its answer: the other instances, other cold keys, all at
    // once, are refused without asking BeatPass (A told the keeper and this data centre's
    // coordinator before answering; every load asks a coordinator first).
    const others = await Promise.all(Array.from({ length: 12 }, (_, k) => f.fetchVia(1 + (k % 2), track(k + 1))));
    for (const reply of others) {
      expectProblem(reply, 503, "upstream_rate_limited");
      expect(Number(reply.headers.get("Retry-After"))).toBe(RETRY_AFTER);
    }
    expect(upstream.count(), "only A's request, the one BeatPass answered 429").toBe(before + 1);
    const keeper = await f.keeper();
    const pausedUntil =
      Date.parse((await keeper.status(DOCUMENTED_UPSTREAM_BUDGET_PER_MINUTE)).paused_until ?? "") || 0;
    expect(pausedUntil).toBe(t + RETRY_AFTER * 1000);
    // A moment before the pause ends, still nothing.
    await f.setClock(pausedUntil - 1);
    expectProblem(await f.fetchVia(2, track(7)), 503, "upstream_rate_limited");
    expect(upstream.hits.map((h) => h.path)).toEqual([upstreamTrack(41), upstreamTrack(42), upstreamTrack(50)]);

    // Once Retry-After has passed, B's next cold request reaches BeatPass.
    await f.setClock(pausedUntil);
    const sentBefore = upstream.count();
    const b = await f.fetchVia(1, track(7));
    expect(b.status).toBe(200);
    expect(b.json().data).toMatchObject({ id: 7 });
    expect(upstream.count(upstreamTrack(7))).toBe(1);
    expect(upstream.count()).toBe(sentBefore + 1);
  });
});

describe("12 signed purges at once, across the instances", () => {
  const SECRET = "fleet-purge-secret-0123456789abcdef0123456789";
  const IDS = Array.from({ length: 12 }, (_, k) => k + 1);
  const CACHED_ON = 2;

  function signedPurge(resources: string[]): RequestInit {
    const body = JSON.stringify({ resources });
    const t = Math.floor(Date.now() / 1000);
    const v1 = createHmac("sha256", SECRET).update(`${t}.${body}`).digest("hex");
    return {
      method: "POST",
      headers: { "Content-Type": "application/json", "BeatPass-Edge-Signature": `t=${t},v1=${v1}` },
      body,
    };
  }

  it("records all 12, and an instance that cached the tracks fetches each again", async () => {
    fleet = await startFleet({ upstream, vars: { PURGE_WEBHOOK_SECRET: SECRET } });
    const f = fleet;
    // The tracks are cached on one instance (its memory tier too).
    for (const id of IDS) expect((await f.fetchVia(CACHED_ON, track(id))).status).toBe(200);
    for (const id of IDS) await storedCopy(f, trackKey(id));
    for (const id of IDS)
      expect((await f.fetchVia(CACHED_ON, track(id))).headers.get("Cache-Status")).toMatch(/; hit;/);
    expect(upstream.count()).toBe(IDS.length);

    const purges = await Promise.all(
      IDS.map((id) => f.fetchVia(id % f.size, "/hooks/purge", signedPurge([`track:${id}`]))),
    );
    for (const [k, r] of purges.entries()) {
      expect(r.status, r.text).toBe(200);
      expect(r.json()).toMatchObject({ purged: [`track:${IDS[k]}`], collections: true });
      expect(r.headers.get("Cache-Control")).toBe("no-store");
    }
    // Applied one at a time by the keeper: each got its own moment.
    expect(new Set(purges.map((r) => r.json().purged_at)).size).toBe(IDS.length);

    // The keeper's record names every one of them, and so does its KV mirror, which the
    // isolates read. KV takes one write per second to a key, so purges within a second of the
    // keeper's last mirror write reach the mirror together, a second later.
    const names = IDS.map((id) => `track:${id}`);
    const record = await (await f.keeper()).purgesSince(0);
    expect(Object.keys(record).sort()).toEqual(["*", ...names].sort());
    const kv = await f.kv();
    const entries = (r: unknown) => JSON.stringify(Object.entries(r ?? {}).sort());
    await until(
      "the KV mirror holds the keeper's record",
      async () => entries(await kv.get("v1:meta:purges", "json")) === entries(record),
    );

    // The instance holding the copies learns of the purges from the keeper's answer to its next
    // miss (or from the KV mirror within seconds): ask until each track has been fetched again,
    // then once more. Each is fetched exactly once more, whichever way the news arrived.
    expect((await f.fetchVia(CACHED_ON, track(13))).status).toBe(200);
    await until(
      "every purged track fetched again",
      async () => {
        for (const id of IDS) {
          if (upstream.count(upstreamTrack(id)) >= 2) continue;
          expect((await f.fetchVia(CACHED_ON, track(id))).status).toBe(200);
        }
        return IDS.every((id) => upstream.count(upstreamTrack(id)) >= 2);
      },
      { everyMs: 200 },
    );
    for (const id of IDS) expect((await f.fetchVia(CACHED_ON, track(id))).status).toBe(200);
    for (const id of IDS) expect(upstream.count(upstreamTrack(id)), `upstream requests for track ${id}`).toBe(2);
  });
});
