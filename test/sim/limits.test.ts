import { describe, expect, it } from "vitest";
import { busiestWindow, SimBeatpass } from "../../sim/beatpass.mjs";
import { SimObjects } from "../../sim/keeper.mjs";
import { EventQueue } from "../../sim/queue.mjs";

// What the headline of bench/SIMULATION.md rests on: BeatPass's sliding minute, the other user
// of the token in it, and a Durable Object's one-call-at-a-time service and outage.

describe("the busiest minute at BeatPass", () => {
  it("is a sliding 60 s to the millisecond, not whole-second buckets", () => {
    // 0.5 s and 60.4 s are 59.9 s apart: one window holds both (seconds 0-59 buckets would not).
    expect(busiestWindow([500, 30_000, 60_400])).toBe(3);
    // 0 and 60,000 ms are a whole minute apart: never in one window [t, t + 60 s).
    expect(busiestWindow([0, 60_000])).toBe(1);
    expect(busiestWindow([])).toBe(0);
  });
});

describe("BeatPass's other user of the token", () => {
  // docs/beatpass-api/REFERENCE.md §2: 300 requests a minute per token, sliding window.
  const p = {
    upstreamLimitPerMinute: 300,
    upstreamRetryAfterS: 60,
    upstream5xxShare: 0,
    contentChangeShare: 0,
    // 1 ms each way: the deployment's requests arrive half a second before the other user's 61st.
    upstreamLatencyMedianMs: 2,
    upstreamLatencySigma: 0,
  };

  it("spends 60 a minute in the token's window, leaving the deployment 240 before a 429", async () => {
    const queue = new EventQueue();
    const bp = new SimBeatpass(queue, p, () => 0.5);
    bp.otherUser(0, 120_000, 1000);
    await queue.runUntil(59_499);
    expect(bp.otherArrivals.length).toBe(60);
    const deliver = (_ms: number, fn: () => unknown) => Promise.resolve(fn());
    const fetch = bp.fetchFor(deliver);
    const statuses: number[] = [];
    for (let i = 0; i < 241; i++)
      fetch("https://beatpass.sim/api/v1/tracks/1").then((r: { status: number }) => statuses.push(r.status));
    await queue.runUntil(59_600);
    expect(statuses.filter((s) => s === 200).length).toBe(240);
    expect(statuses.filter((s) => s === 429).length).toBe(1);
    // Arrivals, refused or not: 241 of ours, 301 with the other user's 60 in the same minute.
    expect(bp.busiestMinute()).toBe(241);
    expect(bp.busiestMinuteWithOther()).toBe(301);
  });
});

describe("a simulated Durable Object", () => {
  class Echo {
    async echo(x: number) {
      return x;
    }
  }
  const world = (rttMs: number) => {
    const queue = new EventQueue();
    // Cloudflare's ~1,000 simple requests a second per object: 1 ms each (sim/params.mjs).
    const objects = new SimObjects(queue, { objectServiceMs: 1 }, { Echo }, "Echo", {}, () => rttMs);
    const deliver = (ms: number, fn: () => unknown) =>
      new Promise((resolve, reject) =>
        queue.after(ms, () => {
          try {
            resolve(fn());
          } catch (err) {
            reject(err);
          }
        }),
      );
    return { queue, objects, stub: objects.binding("dc0", deliver).get("keeper") };
  };

  it("serves one call at a time: 1,000 calls at once take a second (Cloudflare's ~1,000 a second)", async () => {
    const { queue, objects, stub } = world(0);
    const answered: number[] = [];
    for (let i = 0; i < 1000; i++) stub.echo(i).then(() => answered.push(queue.now));
    await queue.runUntil(5_000);
    expect(answered.length).toBe(1000);
    expect(answered[0]).toBe(0);
    expect(answered[999]).toBe(999);
    expect(objects.maxQueueMs).toBe(999);
    expect(objects.busiest()[0]?.busiestSecond).toBe(1000);
  });

  it("during an outage, fails or never answers every call, and answers again after", async () => {
    const { queue, objects, stub } = world(10);
    objects.outage(0, 1000);
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++)
      stub.echo(i).then(
        () => outcomes.push("ok"),
        () => outcomes.push("failed"),
      );
    await queue.runUntil(2000);
    expect(outcomes).toEqual(["failed", "failed"]);
    expect(objects.failed + objects.hung).toBe(4);
    stub.echo(9).then(() => outcomes.push("ok"));
    await queue.runUntil(3000);
    expect(outcomes).toEqual(["failed", "failed", "ok"]);
  });
});
