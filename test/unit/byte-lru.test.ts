import { describe, expect, it } from "vitest";
import { ByteLru } from "../../src/lib/byte-lru";

// Sizes are compared between entries of one LRU, never against src/'s constants: an entry's
// cost is learnt by storing it alone.
const strings = (maxBytes: number, maxEntries?: number) =>
  new ByteLru<string>({ maxBytes, maxEntries, sizeOf: (v) => v.length * 2 });

function costOf(key: string, value: string): number {
  const probe = strings(1 << 30);
  probe.set(key, value);
  return probe.bytes;
}

describe("ByteLru", () => {
  it("counts strings at 2 bytes per UTF-16 unit, key and value, plus a fixed overhead per entry", () => {
    const base = costOf("k", "");
    expect(base).toBeGreaterThan(2);
    expect(costOf("k", "x".repeat(100))).toBe(base + 200);
    expect(costOf("k".repeat(11), "")).toBe(base + 20);
    // Astral characters are two UTF-16 units each.
    expect(costOf("k", "🎵")).toBe(base + 4);
  });

  it("evicts the least recently used entries first, a read counting as a use", () => {
    const one = costOf("a", "x".repeat(10));
    const m = strings(one * 3);
    m.set("a", "x".repeat(10));
    m.set("b", "y".repeat(10));
    m.set("c", "z".repeat(10));
    expect(m.get("a")).toBe("x".repeat(10));
    m.set("d", "w".repeat(10));
    expect(m.has("b")).toBe(false);
    expect([...m.entries()].map(([k]) => k).sort()).toEqual(["a", "c", "d"]);
    m.set("e", "v".repeat(10));
    expect(m.has("c")).toBe(false);
    // Reads only mark (second chance): an entry read again keeps surviving while unread ones go.
    expect(m.get("a")).toBe("x".repeat(10));
    m.set("f", "u".repeat(10));
    m.set("g", "t".repeat(10));
    expect(m.has("a")).toBe(true);
    expect(m.has("d")).toBe(false);
    expect(m.size).toBe(3);
    expect(m.bytes).toBe(one * 3);
  });

  it("gives a read entry one more pass, then evicts it in its turn before newer entries", () => {
    const one = costOf("a", "x");
    const m = strings(one * 3);
    for (const k of "abc") m.set(k, "x");
    m.get("a");
    // a is read: it is kept and goes behind d; b goes.
    m.set("d", "x");
    expect([...m.entries()].map(([k]) => k)).toEqual(["c", "d", "a"]);
    // Not read since, a is now older than e and f, and goes before them.
    m.set("e", "x");
    m.set("f", "x");
    expect([...m.entries()].map(([k]) => k)).toEqual(["a", "e", "f"]);
    m.set("g", "x");
    expect([...m.entries()].map(([k]) => k)).toEqual(["e", "f", "g"]);
  });

  it("keeps evicting in order over many passes of a memo under churn", () => {
    const one = costOf("k0000", "x");
    const m = strings(one * 50);
    for (let i = 0; i < 5000; i++) {
      const key = `k${String(i).padStart(4, "0")}`;
      m.set(key, "x");
      // One key in ten is read right away: it outlives the next pass.
      if (i % 10 === 0) m.get(key);
      expect(m.bytes).toBeLessThanOrEqual(one * 50);
    }
    const kept = [...m.entries()].map(([k]) => k);
    expect(kept).toHaveLength(50);
    expect(kept.at(-1)).toBe("k4999");
    // What is left is the newest keys and read ones from the pass before, nothing from long ago.
    expect(kept.every((k) => Number(k.slice(1)) >= 4900)).toBe(true);
  });

  it("evicts as many old entries as a large newcomer needs", () => {
    const small = costOf("a", "x");
    const m = strings(small * 10);
    for (const k of "abcdefghij") m.set(k, "x");
    expect(m.size).toBe(10);
    const big = "x".repeat(small * 2);
    m.set("big", big);
    const evicted = Math.ceil(costOf("big", big) / small);
    expect([...m.entries()].map(([k]) => k)).toEqual([..."abcdefghij".slice(evicted), "big"]);
    expect(m.bytes).toBe(small * (10 - evicted) + costOf("big", big));
  });

  it("accounts bytes exactly on replace, delete and clear", () => {
    const m = strings(1 << 20);
    m.set("a", "x".repeat(10));
    const afterA = m.bytes;
    m.set("b", "y".repeat(50));
    const afterB = m.bytes;
    m.set("a", "x".repeat(1000));
    expect(m.bytes).toBe(afterB + 1980);
    expect(m.size).toBe(2);
    m.set("a", "x".repeat(10));
    expect(m.bytes).toBe(afterB);
    expect(m.delete("b")).toBe(true);
    expect(m.bytes).toBe(afterA);
    expect(m.delete("b")).toBe(false);
    expect(m.bytes).toBe(afterA);
    m.clear();
    expect(m.bytes).toBe(0);
    expect(m.size).toBe(0);
    expect(m.get("a")).toBeUndefined();
  });

  it("re-measures a value that grew when it is set again", () => {
    const m = new ByteLru<{ body?: string }>({ maxBytes: 1 << 20, sizeOf: (v) => (v.body?.length ?? 0) * 2 });
    const value: { body?: string } = {};
    m.set("k", value);
    const before = m.bytes;
    value.body = "x".repeat(100);
    m.set("k", value);
    expect(m.bytes).toBe(before + 200);
    expect(m.size).toBe(1);
  });

  it("does not store an entry larger than the whole budget, and drops the value it would replace", () => {
    const m = strings(1000);
    expect(m.set("fits", "x".repeat(100))).toBe(true);
    const kept = m.bytes;
    expect(m.set("huge", "x".repeat(600))).toBe(false);
    expect(m.has("huge")).toBe(false);
    expect(m.get("fits")).toBeDefined();
    expect(m.bytes).toBe(kept);
    expect(m.set("fits", "x".repeat(600))).toBe(false);
    expect(m.has("fits")).toBe(false);
    expect(m.bytes).toBe(0);
  });

  it("stores an entry of exactly the budget, alone", () => {
    const exact = costOf("a", "x".repeat(40));
    const m = strings(exact);
    m.set("b", "");
    expect(m.set("a", "x".repeat(40))).toBe(true);
    expect(m.has("b")).toBe(false);
    expect(m.bytes).toBe(exact);
  });

  it("keeps to its entry cap, however small the entries", () => {
    const m = strings(1 << 20, 3);
    for (const k of ["a", "b", "c", "d", "e"]) m.set(k, "");
    expect([...m.entries()].map(([k]) => k)).toEqual(["c", "d", "e"]);
    expect(m.bytes).toBe(costOf("c", "") * 3);
    expect(strings(1 << 20, 0).set("a", "")).toBe(false);
  });

  it("never exceeds its budget under a stream of varied entries", () => {
    const m = strings(10_000, 50);
    for (let i = 0; i < 2000; i++) {
      m.set(`k${i % 300}`, "x".repeat((i * 37) % 900));
      expect(m.bytes).toBeLessThanOrEqual(10_000);
      expect(m.size).toBeLessThanOrEqual(50);
    }
    let sum = 0;
    for (const [k, v] of m.entries()) sum += costOf(k, v);
    expect(m.bytes).toBe(sum);
  });
});
