import { describe, expect, it } from "vitest";
import { readCapped } from "../../src/lib/read-capped";

function streamOf(chunks: number[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      const n = chunks[i++];
      if (n === undefined) controller.close();
      else controller.enqueue(new Uint8Array(n).fill(65));
    },
  });
}

describe("readCapped", () => {
  it("returns the whole body at or under the cap", async () => {
    const bytes = await readCapped(new Response(streamOf([4, 4, 2])), 10);
    expect(bytes?.byteLength).toBe(10);
  });

  it("refuses a stream that grows past the cap, without reading the rest", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(8));
      },
    });
    expect(await readCapped(new Response(body), 20)).toBeUndefined();
    expect(pulled).toBeLessThan(6);
  });

  it("refuses a declared Content-Length over the cap before reading", async () => {
    const res = new Response("x".repeat(50), { headers: { "Content-Length": "50" } });
    expect(await readCapped(res, 10)).toBeUndefined();
  });
});
