import { describe, expect, it } from "vitest";
import { Doorkeeper, SecondRequestLru } from "../../src/lib/doorkeeper";

const keys = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}:${i}:${"x".repeat(i % 50)}`);

describe("Doorkeeper", () => {
  it("says no the first time a key is seen and yes the second", () => {
    const d = new Doorkeeper(65_536, 4096);
    expect(d.seenBefore("track|1|aabbcc")).toBe(false);
    expect(d.seenBefore("track|1|aabbcc")).toBe(true);
    expect(d.seenBefore("track|1|aabbcd")).toBe(false);
  });

  it("remembers a key for at least its capacity of other keys (across a generation's turn), then forgets it", () => {
    const d = new Doorkeeper(65_536, 100);
    d.seenBefore("hot");
    // 150 other keys: the generation holding "hot" turned over, and is now the previous one.
    for (const k of keys("flood", 150)) d.seenBefore(k);
    expect(d.seenBefore("hot")).toBe(true);
    const e = new Doorkeeper(65_536, 100);
    e.seenBefore("cold");
    // Two whole generations of other keys.
    for (const k of keys("flood", 250)) e.seenBefore(k);
    expect(e.seenBefore("cold")).toBe(false);
  });

  it("holds fixed memory however many keys it sees", () => {
    const d = new Doorkeeper(65_536, 4096);
    expect(d.bytes).toBe(16 * 1024);
    for (const k of keys("flood", 10_000)) d.seenBefore(k);
    expect(d.bytes).toBe(16 * 1024);
  });

  it("mistakes under 2% of keys it never saw for seen ones, at any point of a long flood", () => {
    const d = new Doorkeeper(65_536, 4096);
    for (const k of keys("seen", 20_000)) d.seenBefore(k);
    const wrong = keys("never", 10_000).filter((k) => d.seenBefore(k)).length;
    expect(wrong / 10_000).toBeLessThan(0.02);
  });
});

describe("SecondRequestLru", () => {
  const lru = () =>
    new SecondRequestLru<string>({
      maxBytes: 64 * 1024 + 2 * 1024,
      probationBytes: 16 * 1024,
      doorkeeperBits: 8192,
      doorkeeperCapacity: 512,
      sizeOf: (v) => v.length * 2,
    });
  const body = "b".repeat(1000);

  it("stays within its bytes, the doorkeeper's bits included", () => {
    const m = lru();
    for (const k of keys("k", 500)) {
      m.set(k, body);
      m.get(k);
    }
    expect(m.bytes).toBeLessThanOrEqual(64 * 1024 + 2 * 1024);
  });

  it("keeps entries asked for twice through a flood of keys asked for once", () => {
    const m = lru();
    // A third of main; probation holds a few entries only, so each is asked for again at once.
    const hot = keys("hot", 8);
    for (const k of hot) {
      m.set(k, body);
      expect(m.get(k)).toBe(body);
    }
    for (const k of keys("flood", 500)) m.set(k, body);
    for (const k of hot) expect(m.get(k), k).toBe(body);
  });

  it("admits a key to main on its second store when the flood pushed its first out of probation", () => {
    const m = lru();
    m.set("site", body);
    for (const k of keys("flood-a", 40)) m.set(k, body);
    expect(m.get("site")).toBeUndefined();
    m.set("site", body);
    for (const k of keys("flood-b", 500)) m.set(k, body);
    expect(m.get("site")).toBe(body);
  });
});
