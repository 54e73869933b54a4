import { describe, expect, it } from "vitest";
import { SimKv } from "../../sim/kv.mjs";
import { EventQueue } from "../../sim/queue.mjs";

// Small, distinct numbers so every expectation below can be read off the model's definition.
const P = { kvHotReadMs: 2, kvColdReadMs: 50, kvReadCacheS: 60, kvWriteMs: 20, kvWritePropagationS: 1 };

function world() {
  const queue = new EventQueue();
  // Every write takes the longest propagation the model draws (kvWritePropagationS).
  const kv = new SimKv(queue, P, () => 1);
  return { queue, kv, value: (dc: string, key: string) => kv.read(dc, key).version?.value };
}

describe("the simulated KV: per-data-centre read caching and write propagation", () => {
  it("lets the writing data centre read its own write at once", () => {
    const { kv, value } = world();
    kv.write("ams", "k", "v1");
    expect(value("ams", "k")).toBe("v1");
  });

  it("shows a write to a data centre that never read the key once the write has propagated, not before", async () => {
    const { queue, kv, value } = world();
    kv.write("ams", "k", "v1");
    await queue.runUntil(999);
    expect(value("sin", "k")).toBeUndefined();
    // That read cached "not found" in sin: a third data centre is needed for the propagation alone.
    await queue.runUntil(1000);
    expect(value("gru", "k")).toBe("v1");
  });

  it("keeps serving a data centre what it read (even 'not found') until its read cache expires", async () => {
    const { queue, kv, value } = world();
    expect(value("sin", "k")).toBeUndefined();
    kv.write("ams", "k", "v1");
    await queue.runUntil(59_999);
    expect(value("sin", "k")).toBeUndefined();
    await queue.runUntil(60_000);
    expect(value("sin", "k")).toBe("v1");
    kv.write("ams", "k", "v2");
    await queue.runUntil(61_000);
    // sin re-read at 60 s and keeps v1 for another minute; ams sees its own write.
    expect(value("sin", "k")).toBe("v1");
    expect(value("ams", "k")).toBe("v2");
    await queue.runUntil(120_000);
    expect(value("sin", "k")).toBe("v2");
  });

  it("answers a cached read fast and an uncached one slowly, and counts every read", () => {
    const { kv } = world();
    expect(kv.read("ams", "k").ms).toBe(P.kvColdReadMs);
    expect(kv.read("ams", "k").ms).toBe(P.kvHotReadMs);
    expect(kv.read("sin", "k").ms).toBe(P.kvColdReadMs);
    expect(kv.reads).toBe(3);
  });

  it("refuses a second write to a key within a second, as KV does, and counts only the writes made", async () => {
    const { queue, kv, value } = world();
    kv.write("ams", "k", "v1");
    await queue.runUntil(999);
    expect(() => kv.write("sin", "k", "v2")).toThrow(/429/);
    kv.write("sin", "other", "x");
    await queue.runUntil(1000);
    kv.write("sin", "k", "v2");
    expect(kv.writes).toBe(3);
    expect(kv.rejectedWrites).toBe(1);
    expect(value("sin", "k")).toBe("v2");
  });

  it("expires a value at its expirationTtl, cached or not", async () => {
    const { queue, kv, value } = world();
    kv.write("ams", "k", "v1", { expirationTtl: 90 });
    await queue.runUntil(89_999);
    expect(value("ams", "k")).toBe("v1");
    await queue.runUntil(90_000);
    expect(value("ams", "k")).toBeUndefined();
    expect(kv.central("k")).toBeUndefined();
  });

  it("serves the binding's get, getWithMetadata and put after their latencies, in simulated time", async () => {
    const { queue, kv } = world();
    const deliver = <T>(ms: number, fn: () => T) =>
      new Promise<T>((resolve, reject) =>
        queue.after(ms, () => {
          try {
            resolve(fn());
          } catch (err) {
            reject(err);
          }
        }),
      );
    const b = kv.binding("ams", deliver);
    const put = b.put("k", '{"a":1}', { metadata: { etag: "e" } });
    let putAt = -1;
    put.then(() => {
      putAt = queue.now;
    });
    await queue.runUntil(100);
    expect(putAt).toBe(P.kvWriteMs);
    const got: unknown[] = [];
    b.getWithMetadata("k", "text").then((r: unknown) => got.push([queue.now, r]));
    b.get("k", "json").then((r: unknown) => got.push([queue.now, r]));
    await queue.runUntil(200);
    expect(got).toEqual([
      [100 + P.kvHotReadMs, { value: '{"a":1}', metadata: { etag: "e" } }],
      [100 + P.kvHotReadMs, { a: 1 }],
    ]);
  });
});
