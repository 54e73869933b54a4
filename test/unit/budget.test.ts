import { describe, expect, it } from "vitest";
import { LeaseTable } from "../../src/budget/leases";
import { decide, emptyWindow, headroom, pauseUntil, spend } from "../../src/budget/window";

const MIN = 60_000;
/** A permit stays spent for BeatPass's minute plus 2 s for the request to get there. */
const HELD = MIN + 2_000;

/** Spends permits for `cls` until refused; returns how many were granted. */
function drain(
  w: ReturnType<typeof emptyWindow>,
  cls: "viewer" | "refresh" | "scheduled",
  now: number,
  perMinute: number,
) {
  let n = 0;
  while (decide(w, cls, now, perMinute).ok) {
    spend(w, now);
    n++;
    if (n > 10_000) throw new Error("never refused");
  }
  return n;
}

describe("the budget window", () => {
  it("grants at most perMinute in any 60-second window, however the requests are spread", () => {
    const w = emptyWindow();
    const granted: number[] = [];
    // One ask every 100 ms for three minutes.
    for (let t = 0; t < 3 * MIN; t += 100) {
      if (decide(w, "viewer", t, 30).ok) {
        spend(w, t);
        granted.push(t);
      }
    }
    for (const start of granted) {
      expect(granted.filter((t) => t >= start && t < start + MIN).length).toBeLessThanOrEqual(30);
    }
    // ... and does not starve: 30 a minute for three minutes.
    expect(granted.length).toBe(90);
  });

  it("gives a permit back one window plus the transit allowance after it was spent, and says when", () => {
    const w = emptyWindow();
    expect(drain(w, "viewer", 1000, 3)).toBe(3);
    const refused = decide(w, "viewer", 20_000, 3);
    expect(refused).toEqual({ ok: false, reason: "budget", retryAfterMs: 1000 + HELD - 20_000 });
    expect(decide(w, "viewer", 1000 + HELD - 1, 3).ok).toBe(false);
    expect(decide(w, "viewer", 1000 + HELD, 3).ok).toBe(true);
  });

  it("keeps a reserve from refreshes (a quarter) and refresh-ahead (half) for viewers' misses", () => {
    const w = emptyWindow();
    expect(drain(w, "scheduled", 0, 100)).toBe(50);
    expect(drain(w, "refresh", 0, 100)).toBe(25);
    expect(drain(w, "viewer", 0, 100)).toBe(25);
    expect(headroom(w, "viewer", 100)).toBe(0);
  });

  it("lets viewers through while background classes are refused near empty", () => {
    const w = emptyWindow();
    for (let i = 0; i < 80; i++) spend(w, 0);
    expect(decide(w, "scheduled", 1, 100).ok).toBe(false);
    expect(decide(w, "refresh", 1, 100).ok).toBe(false);
    expect(decide(w, "viewer", 1, 100).ok).toBe(true);
    const refresh = decide(w, "refresh", 1, 100);
    // The refresh class needs 6 grants to age out: the 6th oldest was spent at 0.
    expect(refresh.ok === false && refresh.retryAfterMs).toBe(HELD - 1);
  });

  it("tells a refused class when enough grants will have aged out, not when the oldest does", () => {
    const w = emptyWindow();
    for (let i = 0; i < 5; i++) spend(w, 0);
    for (let i = 0; i < 75; i++) spend(w, 30_000);
    // A refresh may use 75 of 100: 6 grants must age out, and the 6th oldest was spent at 30 s.
    expect(decide(w, "refresh", 31_000, 100)).toEqual({
      ok: false,
      reason: "budget",
      retryAfterMs: 30_000 + HELD - 31_000,
    });
    // A viewer may use all 100: it gets one now.
    expect(decide(w, "viewer", 31_000, 100).ok).toBe(true);
  });

  it("refuses every class while paused, then resumes without waiting for the window", () => {
    const w = emptyWindow();
    expect(pauseUntil(w, 30_000)).toBe(true);
    expect(pauseUntil(w, 10_000)).toBe(false); // an earlier pause changes nothing
    for (const cls of ["viewer", "refresh", "scheduled"] as const) {
      expect(decide(w, cls, 29_999, 100)).toEqual({ ok: false, reason: "paused", retryAfterMs: 1 });
    }
    expect(decide(w, "scheduled", 30_000, 100).ok).toBe(true);
  });
});

describe("the lease table", () => {
  it("holds a key until its holder completes, and hands the outcome to every waiter", async () => {
    const t = new LeaseTable();
    expect(t.held("k", 0)).toBe(false);
    t.take("k", 0, 5000);
    expect(t.held("k", 10)).toBe(true);
    const waiters = [t.wait("k", 10), t.wait("k", 20)];
    t.complete("k", { kind: "data", body: "{}", etag: '"e"', fetchedAt: 30 }, 30);
    for (const w of await Promise.all(waiters)) expect(w).toMatchObject({ kind: "data", body: "{}", fetchedAt: 30 });
    expect(t.held("k", 31)).toBe(false);
    expect(t.size).toBe(0);
  });

  it("frees a key whose holder never came back, telling its waiters", async () => {
    const t = new LeaseTable();
    t.take("k", Date.now(), 20);
    const waiting = t.wait("k", Date.now());
    expect(await waiting).toEqual({ kind: "expired" });
    expect(t.held("k", Date.now() + 21)).toBe(false);
  });

  it("frees a key once its lease has run out, even with nobody waiting on it", () => {
    const t = new LeaseTable();
    t.take("k", 0, 1000);
    expect(t.held("k", 999)).toBe(true);
    expect(t.held("k", 1000)).toBe(false);
    expect(t.size).toBe(0);
  });

  it("relays a loaded body for a minute (KV's propagation), then only its fetch time and ETag", () => {
    const t = new LeaseTable();
    t.take("k", 0, 1000);
    t.complete("k", { kind: "data", body: '{"data":1}', etag: '"e"', fetchedAt: 400 }, 500);
    expect(t.relay("k", 500 + MIN - 1)).toMatchObject({ body: '{"data":1}', fetchedAt: 400 });
    expect(t.relay("k", 500 + MIN)).toBeUndefined();
    expect(t.loadedAfter("k", 0)).toEqual({ fetchedAt: 400, etag: '"e"' });
    t.take("j", 0, 1000);
    t.complete("j", { kind: "failed" }, 600);
    expect(t.relay("j", 600)).toBeUndefined();
  });

  it("remembers loads, so a refresh for an older copy can be skipped", () => {
    const t = new LeaseTable();
    t.take("k", 0, 1000);
    // The holder's completion arrives later than its load's fetch time: the fetch time counts.
    t.complete("k", { kind: "data", body: "", etag: '"e"', fetchedAt: 500 }, 700);
    expect(t.loadedAfter("k", 100)).toEqual({ fetchedAt: 500, etag: '"e"' });
    expect(t.loadedAfter("k", 500), "the holder's own copy is not older than its load").toBeUndefined();
    t.take("j", 0, 1000);
    t.complete("j", { kind: "failed" }, 600);
    expect(t.loadedAfter("j", 0)).toBeUndefined(); // a failure is not a newer copy
  });
});
