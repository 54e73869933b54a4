import { describe, expect, it } from "vitest";
import { HotScores } from "../../src/budget/hot-scores";

// docs/caching.md, "Fair shares": the keeper's hot-key scores halve every 5 minutes.
const HALF_LIFE = 5 * 60_000;

describe("the keeper's hot keys", () => {
  it("adds each isolate's counts, and old counts halve every 5 minutes", () => {
    const hot = new HotScores({}, 0);
    hot.fold([["a", 10]], 0);
    hot.fold([["b", 6]], HALF_LIFE);
    // a is 5 now, b 6: b first; another half-life later, a new fold of 4 for a puts it back on top.
    expect(hot.top(2, HALF_LIFE)).toEqual(["b", "a"]);
    hot.fold([["a", 4]], 2 * HALF_LIFE);
    expect(hot.top(2, 2 * HALF_LIFE)).toEqual(["a", "b"]);
    expect(hot.scores.a).toBeCloseTo(6.5, 5);
    expect(hot.scores.b).toBeCloseTo(3, 5);
  });

  it("keeps the top 1,000 keys, so junk cannot grow it", () => {
    const hot = new HotScores({}, 0);
    hot.fold(
      Array.from({ length: 1500 }, (_, i): [string, number] => [`k${i}`, i]),
      0,
    );
    expect(Object.keys(hot.scores)).toHaveLength(1000);
    expect(hot.top(1, 0)).toEqual(["k1499"]);
    expect(hot.scores.k0).toBeUndefined();
  });
});
