import { describe, expect, it } from "vitest";
import { type ClientRef, ClientShares } from "../../src/budget/fairness";
import { emptyWindow, spend } from "../../src/budget/window";
import { DOCUMENTED_FAIR_SHARE } from "../helpers/documented";

const HELD = 62_000; // BeatPass's minute plus the 2 s transit allowance
const PER_MINUTE = 100;
const anon = (n: number): ClientRef => ({ key: `ip:192.0.2.${n}`, tier: "anon" });

/** A window with `n` permits spent at `at`. */
function windowWith(n: number, at = 0) {
  const w = emptyWindow();
  for (let i = 0; i < n; i++) spend(w, at);
  return w;
}

/** Takes permits for `client` from `w` until refused; returns how many it got. */
function takeUntilRefused(shares: ClientShares, w: ReturnType<typeof emptyWindow>, client: ClientRef, now: number) {
  let n = 0;
  while (shares.decide(w, client, now, PER_MINUTE).ok) {
    shares.record(client, now);
    spend(w, now);
    if (++n > 1000) throw new Error("never refused");
  }
  return n;
}

describe("fair shares of the budget window", () => {
  it("while less than half the window is spent, one client may take every permit up to that point", () => {
    const shares = new ClientShares();
    const w = windowWith(0);
    const got = takeUntilRefused(shares, w, anon(1), 1000);
    // It is stopped only once the window reaches the pressure mark.
    expect(got).toBe(DOCUMENTED_FAIR_SHARE.pressure * PER_MINUTE);
  });

  it("under pressure, a client holds at most its tier's share; others are still granted", () => {
    const capOf = (tier: "anon" | "standard" | "partner") => Math.floor(DOCUMENTED_FAIR_SHARE[tier] * PER_MINUTE);
    for (const tier of ["anon", "standard", "partner"] as const) {
      const shares = new ClientShares();
      const w = windowWith(PER_MINUTE / 2);
      const client: ClientRef = { key: `key:${tier}`, tier };
      expect(takeUntilRefused(shares, w, client, 1000), tier).toBe(capOf(tier));
      expect(shares.decide(w, anon(2), 1000, PER_MINUTE).ok, "another client").toBe(true);
    }
  });

  it("a refused client is told when its own oldest permit frees, and is granted from then on", () => {
    // A budget where an anonymous share is two permits.
    const perMinute = 2 / DOCUMENTED_FAIR_SHARE.anon;
    const shares = new ClientShares();
    const w = windowWith(perMinute / 2);
    const client = anon(3);
    shares.record(client, 1000);
    shares.record(client, 5000);
    const refused = shares.decide(w, client, 10_000, perMinute);
    expect(refused).toEqual({ ok: false, retryAfterMs: 1000 + HELD - 10_000 });
    expect(shares.decide(w, client, 1000 + HELD - 1, perMinute).ok).toBe(false);
    expect(shares.decide(w, client, 1000 + HELD, perMinute).ok).toBe(true);
  });

  it("every client keeps at least one permit, however small the budget", () => {
    const shares = new ClientShares();
    const w = windowWith(5);
    // 1% of 10 is 0.1 permits: rounded up to one.
    expect(shares.decide(w, anon(4), 0, 10).ok).toBe(true);
    shares.record(anon(4), 0);
    expect(shares.decide(w, anon(4), 0, 10).ok).toBe(false);
  });

  it("forgets clients whose permits have all aged out (memory stays bounded by the window)", () => {
    const shares = new ClientShares();
    for (let i = 0; i < 1000; i++) shares.record(anon(i), 0);
    shares.record({ key: "ip:later", tier: "anon" }, HELD + 1);
    for (let i = 0; i < 200; i++) shares.record({ key: `ip:late-${i}`, tier: "anon" }, HELD + 2);
    expect(shares.size).toBeLessThanOrEqual(201 + 64);
  });
});
