import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { maybeFlushHotKeys, recordHit, resetHotKeys } from "../../src/cache/hot";
import worker from "../../src/index";
import { keeper } from "../helpers/budget";
import { useClock } from "../helpers/clock";
import { createKey } from "../helpers/keys";
import { call } from "../helpers/request";
import { upstreamPaths } from "../helpers/upstream";

/**
 * The hot list that refresh-ahead spends upstream requests on (src/cache/hot.ts): a key counts
 * only once enough distinct clients asked for it, so no one client can steer the refresh.
 * `call()` gives every request a new client IP unless the test sets CF-Connecting-IP.
 */

// docs/caching.md, "The hot list cannot be steered": a key counts once this many distinct
// clients asked for it, per isolate and 5-minute interval (after which the isolate folds its
// counts into the shared record).
const HOT_MIN_CLIENTS = 3;
const HOT_INTERVAL_MS = 5 * 60_000;
// docs/caching.md, the windows table: an entity (one track) is fresh for 300 s.
const ENTITY_SOFT_SECONDS = 300;
const S = 1000;
const JUNK = 100;

async function runScheduled(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "* * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** What one scheduled run sent upstream. */
async function refreshedByNextRun(): Promise<string[]> {
  const before = upstreamPaths().length;
  await runScheduled();
  return upstreamPaths().slice(before);
}

/** One client (one API key, whatever its IP) asks for JUNK searches twice each. */
async function junkFromOneClient(): Promise<void> {
  const key = await createKey({ tier: "standard" });
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < JUNK; i++) {
      const res = await call(`/v1/search?query=junk${i}`, { headers: { "X-Api-Key": key } });
      expect(res.status).toBe(200);
    }
  }
}

/** `n` distinct clients (IPv4 addresses) ask for `path` once each. */
async function fromClients(path: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await call(path)).status).toBe(200);
}

describe("hot list (refresh ahead)", () => {
  it(`one client asking for ${JUNK} junk searches twice steers no refresh; a key ${HOT_MIN_CLIENTS} clients asked for is refreshed`, async () => {
    const clock = useClock();
    await junkFromOneClient();
    await fromClients("/v1/tracks/7", HOT_MIN_CLIENTS);
    // Every one of those copies is now within a minute of its soft TTL or past it.
    clock.advance(ENTITY_SOFT_SECONDS * S - 30 * S);
    expect(await refreshedByNextRun()).toEqual(["/tracks/7"]);
  });

  it("after the isolate has folded its counts into the shared record, the junk is still not refreshed", async () => {
    const clock = useClock();
    await junkFromOneClient();
    await fromClients("/v1/tracks/7", HOT_MIN_CLIENTS);
    // An isolate's first interval ends 2.5 to 7.5 minutes after it started (docs/caching.md).
    clock.advance(1.5 * HOT_INTERVAL_MS);
    await call("/v1/genres"); // the first request after the interval folds the counts into the keeper
    // The deployment's list (src/cache/hot.ts, kept by the keeper) names the track and none of the junk.
    await vi.waitFor(async () => expect(await keeper().hotKeys(200)).toEqual(["v1:track:id=7"]));
    expect(await refreshedByNextRun()).toEqual(["/tracks/7"]);
  });

  it(`a key counts after ${HOT_MIN_CLIENTS} distinct clients, however often fewer ask; addresses of one IPv6 /64 are one client`, async () => {
    const clock = useClock();
    // Three clients, once each: one IPv4 address, another, and an IPv6 /64.
    for (const ip of ["198.51.100.1", "198.51.100.2", "2001:db8:5:1::1"])
      await call("/v1/tracks/1", { headers: { "CF-Connecting-IP": ip } });
    // Six requests from three addresses of one /64: one client.
    for (const ip of ["2001:db8:5:2::1", "2001:db8:5:2::2", "2001:DB8:5:2:0:0:0:3"])
      for (let i = 0; i < 2; i++) await call("/v1/tracks/2", { headers: { "CF-Connecting-IP": ip } });
    // Ten requests from two clients.
    for (const ip of ["198.51.100.3", "198.51.100.4"])
      for (let i = 0; i < 5; i++) await call("/v1/tracks/3", { headers: { "CF-Connecting-IP": ip } });
    expect(upstreamPaths()).toEqual(["/tracks/1", "/tracks/2", "/tracks/3"]);

    clock.advance(ENTITY_SOFT_SECONDS * S - 30 * S); // within the last minute of freshness
    expect(await refreshedByNextRun()).toEqual(["/tracks/1"]);
  });
});

describe("folding the hot counts into the keeper", () => {
  /** A keeper that only counts folds. */
  const counting = () => {
    let folds = 0;
    const ns = {
      idFromName: () => "keeper",
      get: () => ({
        foldHot: async () => {
          folds++;
        },
      }),
    } as unknown as Parameters<typeof maybeFlushHotKeys>[0];
    return { ns, folds: () => folds };
  };
  /** When an isolate started at 0 with a hot key folds first, probing every 10 s. */
  const firstFold = (): number => {
    resetHotKeys(0);
    for (const client of ["a", "b", "c"]) recordHit("v1:track:id=1", client);
    const keeper = counting();
    for (let t = 0; t <= 2 * HOT_INTERVAL_MS; t += 10 * S) {
      maybeFlushHotKeys(keeper.ns, () => undefined, t);
      if (keeper.folds() > 0) return t;
    }
    throw new Error("never folded");
  };

  it("isolates started together fold first at moments spread from half an interval to one and a half, then every interval", () => {
    // Sixty isolates whose draws are spread evenly (Math.random is each isolate's own draw).
    let draw = 0;
    vi.spyOn(Math, "random").mockImplementation(() => (draw++ + 0.5) / 60);
    const firsts = Array.from({ length: 60 }, firstFold);
    vi.restoreAllMocks();
    expect(Math.min(...firsts)).toBeGreaterThanOrEqual(HOT_INTERVAL_MS / 2);
    expect(Math.max(...firsts)).toBeLessThanOrEqual(1.5 * HOT_INTERVAL_MS + 10 * S);
    expect(new Set(firsts).size, "spread, not one moment").toBeGreaterThan(20);
    expect(firsts.filter((t) => t < HOT_INTERVAL_MS).length).toBeGreaterThan(10);
    expect(firsts.filter((t) => t > HOT_INTERVAL_MS).length).toBeGreaterThan(10);

    const first = firstFold();
    const keeper = counting();
    for (const client of ["a", "b", "c"]) recordHit("v1:track:id=2", client);
    maybeFlushHotKeys(keeper.ns, () => undefined, first + HOT_INTERVAL_MS - 1);
    expect(keeper.folds(), "not before an interval has passed").toBe(0);
    maybeFlushHotKeys(keeper.ns, () => undefined, first + HOT_INTERVAL_MS);
    expect(keeper.folds()).toBe(1);
  });
});
