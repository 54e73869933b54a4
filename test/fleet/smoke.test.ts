import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOCUMENTED_UPSTREAM_BUDGET_PER_MINUTE } from "../helpers/documented";
import {
  EGRESS_REFUSED,
  expectProblem,
  FLEET_OPERATOR_KEY,
  type Fleet,
  startFleet,
  startUpstream,
  storedKey,
  type Upstream,
  until,
} from "./fleet";

// The harness itself: several instances of one bundle in one miniflare, one KV, one keeper,
// and no way out but to the fake. The instances of one miniflare share one Cache API (as
// isolates in one data centre do), so a copy found there would not show that KV is shared:
// this fleet keeps only its own memory in front of KV.
let upstream: Upstream;
let fleet: Fleet;
beforeAll(async () => {
  upstream = await startUpstream();
  fleet = await startFleet({ upstream, vars: { CACHE_FAST_TIERS: "memory" } });
});
afterAll(async () => {
  await fleet?.stop();
  await upstream?.close();
});

describe("fleet harness", () => {
  it("runs every instance of the one bundle", async () => {
    for (let i = 0; i < fleet.size; i++) {
      const res = await fleet.fetchVia(i, "/healthz", { headers: { "X-Operator-Key": FLEET_OPERATOR_KEY } });
      expect(res.status).toBe(200);
      expect(res.json().status).toBe("ok");
    }
  });

  it("shares KV and the keeper: a track loaded through edge-0 is served by edge-1 without BeatPass", async () => {
    const first = await fleet.fetchVia(0, "/v1/tracks/1");
    expect(first.status).toBe(200);
    const kv = await fleet.kv();
    // The store happens in waitUntil, after the answer.
    await until("the KV copy", async () => (await kv.get(storedKey(upstream, "v1:track:id=1"), "text")) !== null);
    const second = await fleet.fetchVia(1, "/v1/tracks/1");
    expect(second.status).toBe(200);
    // edge-1 never held the track in its memory: the hit it reports is the shared KV copy.
    expect(second.headers.get("Cache-Status")).toMatch(/; hit; .*detail=kv$/);
    expect(second.headers.get("Server-Timing")).toContain('desc="hit kv"');
    expect(second.text).toBe(first.text);
    expect(upstream.count("/tracks/1")).toBe(1);
    expect(upstream.count()).toBe(1);
    // The miss was spent from edge-0's lease, granted by the one keeper.
    const status = await (await fleet.keeper()).status(DOCUMENTED_UPSTREAM_BUDGET_PER_MINUTE);
    expect(status.active_leases).toBe(1);
    expect(status.in_use).toBeGreaterThanOrEqual(1);
  });

  it("moves every instance's clock and the keeper's, only when the test says so (entry.mjs)", async () => {
    // A fleet and a fake of its own: the shared ones' counts belong to the other tests.
    const own = await startUpstream();
    const timed = await startFleet({ upstream: own, size: 2 });
    try {
      const t = Date.now();
      await timed.setClock(t);
      expect((await timed.fetchVia(0, "/v1/tracks/1")).status).toBe(200);
      await timed.settled(); // the KV copy is written
      const keeper = await timed.keeper();
      const perMinute = DOCUMENTED_UPSTREAM_BUDGET_PER_MINUTE;
      expect((await keeper.status(perMinute)).in_use).toBeGreaterThan(0);
      // 100 s later on the fleet's clock, at once: the copy is that old on both instances
      // (README: an entity is fresh for 300 s), and the keeper has had its permits back
      // (docs/caching.md: a lease lasts 30 s; a permit counts for BeatPass's minute and 2 s).
      await timed.setClock(t + 100_000);
      for (const i of [0, 1]) {
        const res = await timed.fetchVia(i, "/v1/tracks/1");
        expect(res.headers.get("Cache-Status"), `instance ${i}`).toMatch(/; hit;/);
        expect(res.headers.get("Age"), `instance ${i}`).toBe("100");
      }
      expect((await keeper.status(perMinute)).in_use).toBe(0);
      expect(own.count()).toBe(1);
    } finally {
      await timed.stop();
      await own.close();
    }
  });

  it("lets no outbound request reach anything but the fake", async () => {
    let reached = 0;
    const elsewhere = createServer((_req, res) => {
      reached++;
      res.end("{}");
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, "127.0.0.1", resolve));
    const address = elsewhere.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const astray = await startFleet({
      upstream,
      size: 1,
      vars: { BEATPASS_API_BASE: `http://127.0.0.1:${port}/api/v1` },
    });
    try {
      const res = await astray.fetchVia(0, "/v1/tracks/2");
      expectProblem(res, 502, "upstream_unreachable");
      expect(reached).toBe(0);
      expect(astray.logs.some((l) => l.includes(EGRESS_REFUSED))).toBe(true);
    } finally {
      // This fleet was meant to go astray: its refusal lines are not a failure of stop().
      astray.logs.length = 0;
      await astray.stop();
      await new Promise((resolve) => elsewhere.close(resolve));
    }
  });
});
