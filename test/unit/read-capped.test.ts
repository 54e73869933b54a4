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

  it("refuses a declared Content-Length over the cap without pulling the body at all", async () => {
    let pulled = 0;
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulled++;
          controller.enqueue(new Uint8Array(5));
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    expect(await readCapped({ headers: new Headers({ "Content-Length": "11" }), body }, 10)).toBeUndefined();
    expect(pulled).toBe(0);
    expect(cancelled).toBe(true); // the sender is told to stop rather than left hanging
  });

  it("reads a body whose declared Content-Length is exactly the cap", async () => {
    const bytes = await readCapped(new Response("x".repeat(10), { headers: { "Content-Length": "10" } }), 10);
    expect(bytes?.byteLength).toBe(10);
  });

  it("refuses a stream one byte over the cap, in whatever chunks it comes", async () => {
    expect(await readCapped(new Response(streamOf([4, 4, 3])), 10)).toBeUndefined();
    expect(await readCapped(new Response(streamOf([11])), 10)).toBeUndefined();
  });

  it("returns an empty body for no body", async () => {
    expect((await readCapped({ headers: new Headers(), body: null }, 10))?.byteLength).toBe(0);
  });
});
