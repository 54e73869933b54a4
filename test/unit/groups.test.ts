import { describe, expect, it } from "vitest";
import { GroupSpends, groupCap, groupOf } from "../../src/budget/groups";
import { ipLimitKey } from "../../src/clients/ip";

// docs/caching.md, "Fair shares": a network (IPv4 /24, IPv6 /48) may hold a tenth of the
// budget's minute, a standard key a quarter, a partner key half; spends count for 62 s.
const HELD = 62_000;

describe("network groups", () => {
  it("groups anonymous clients by /24 and /48, keyed clients by key", () => {
    const g = (ip: string) => groupOf(ipLimitKey(ip), "anon");
    expect(g("203.0.113.7")).toBe(g("203.0.113.250"));
    expect(g("203.0.113.7")).not.toBe(g("203.0.114.7"));
    expect(g("2001:db8:1:2::1")).toBe(g("2001:db8:1:ffff::9"));
    expect(g("2001:db8:1:2::1")).not.toBe(g("2001:db8:2:2::1"));
    expect(g("::ffff:203.0.113.9"), "an IPv4-mapped address is its IPv4 network").toBe(g("203.0.113.7"));
    expect(groupOf("key:abc", "standard")).not.toBe(groupOf("key:abd", "standard"));
  });

  it("a network may hold a tenth of the budget, a standard key a quarter, a partner half (at least one)", () => {
    expect(groupCap(groupOf(ipLimitKey("203.0.113.7"), "anon"), 240)).toBe(24);
    expect(groupCap(groupOf("key:a", "standard"), 240)).toBe(60);
    expect(groupCap(groupOf("key:a", "partner"), 240)).toBe(120);
    expect(groupCap(groupOf(ipLimitKey("203.0.113.7"), "anon"), 5)).toBe(1);
  });

  it("names the groups at their cap, with when they fall below it, and forgets spends past HELD", () => {
    const net = groupOf(ipLimitKey("198.51.100.1"), "anon");
    const s = new GroupSpends();
    for (let i = 0; i < 11; i++) s.add(net, 1_000 + i);
    expect(s.capped(2_000, 120)).toEqual({});
    s.add(net, 1_500);
    // 12 of 120: capped until its oldest spend leaves the window.
    expect(s.capped(2_000, 120)).toEqual({ [net]: 1_000 + HELD });
    expect(s.count(net, 1_000 + HELD)).toBe(11);
    expect(s.capped(1_000 + HELD, 120)).toEqual({});
    expect(s.count(net, 2_000 + HELD)).toBe(0);
    s.capped(2_000 + HELD, 120);
    expect(s.size, "an empty group is dropped").toBe(0);
  });
});
