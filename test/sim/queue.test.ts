import { describe, expect, it } from "vitest";
import { EventQueue } from "../../sim/queue.mjs";

describe("the simulation's event queue", () => {
  it("runs events in time order, and events at the same time in the order they were scheduled", async () => {
    const q = new EventQueue();
    const seen: string[] = [];
    q.at(30, () => seen.push("c@30"));
    q.at(10, () => seen.push("a@10"));
    q.at(20, () => seen.push("b1@20"));
    q.at(20, () => seen.push("b2@20"));
    q.at(10, () => seen.push("a2@10"));
    await q.runUntil(100);
    expect(seen).toEqual(["a@10", "a2@10", "b1@20", "b2@20", "c@30"]);
  });

  it("moves the clock to each event as it runs, and to the end of the run after the last", async () => {
    const q = new EventQueue();
    const times: number[] = [];
    for (const t of [5, 1, 3]) q.at(t, () => times.push(q.now));
    await q.runUntil(50);
    expect(times).toEqual([1, 3, 5]);
    expect(q.now).toBe(50);
    expect(q.size).toBe(0);
  });

  it("runs an event scheduled in the past at the current time, never before it", async () => {
    const q = new EventQueue();
    const times: number[] = [];
    q.at(10, () => q.at(2, () => times.push(q.now)));
    await q.runUntil(20);
    expect(times).toEqual([10]);
  });

  it("drops a cancelled event", async () => {
    const q = new EventQueue();
    const seen: number[] = [];
    const ev = q.at(5, () => seen.push(5));
    q.at(6, () => seen.push(6));
    q.cancel(ev);
    await q.runUntil(10);
    expect(seen).toEqual([6]);
  });

  it("lets promise continuations of an event run (and schedule) before time moves on", async () => {
    const q = new EventQueue();
    const log: string[] = [];
    const sleep = (ms: number) => new Promise<void>((resolve) => q.after(ms, resolve));
    (async () => {
      await sleep(10);
      log.push(`woke at ${q.now}`);
      await sleep(5);
      log.push(`woke again at ${q.now}`);
    })();
    q.at(12, () => log.push("event at 12"));
    q.at(20, () => log.push("event at 20"));
    await q.runUntil(30);
    expect(log).toEqual(["woke at 10", "event at 12", "woke again at 15", "event at 20"]);
  });

  it("keeps order across many random insertions (a heap, not a sorted list by luck)", async () => {
    const q = new EventQueue();
    const times: number[] = [];
    let x = 12345;
    for (let i = 0; i < 2000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      q.at(x % 1000, () => times.push(q.now));
    }
    await q.runUntil(1000);
    expect(times).toHaveLength(2000);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1] as number);
  });
});
