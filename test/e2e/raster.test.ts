import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { artworkPng } from "../../fake/png.mjs";
import { encodePng } from "../../raster/encode";
import { INTER_400, INTER_600 } from "../../src/render/fonts/inter";
import type { CardSize } from "../../src/render/layout";
import { type PngLayout, svgForPng } from "../../src/render/png";
import { trackSvg } from "../../src/render/svg-card";
import { decodePixels } from "./png";

/**
 * The rasteriser's own PNG encoder (raster/encode.ts) judged by resvg's: the same render,
 * encoded by both, decoded (with every chunk's CRC checked by Node's zlib), pixel for pixel.
 * Runs in Node with the same resvg WebAssembly the rasteriser Worker loads.
 */

const fonts = [INTER_400, INTER_600].map((b64) => Buffer.from(b64, "base64"));

beforeAll(async () => {
  await initWasm(readFileSync(createRequire(import.meta.url).resolve("@resvg/resvg-wasm/index_bg.wasm")));
});

const track = {
  id: 1,
  name: "Midnight Run — a title long enough to be cut short by the card",
  artists: [{ id: 1, name: "Juno Drift" }],
  bpm: 92,
  key: "A",
  scale: "minor",
  duration: 187_000,
  price: 29.99,
  currency: "USD",
};

async function svg(layout: PngLayout, size: CardSize, theme: "light" | "dark"): Promise<string> {
  const art = `data:image/png;base64,${Buffer.from(await artworkPng("cover-1", 64)).toString("base64")}`;
  const peaks = Array.from({ length: 120 }, (_, i) => Math.abs(Math.sin(i / 7)));
  const options: Parameters<typeof trackSvg>[3] = { theme, size, accent: "7c3aed", hide: new Set() };
  // The fields a card shows, as BeatPass sends them.
  return trackSvg(track as unknown as Parameters<typeof trackSvg>[0], { peaks }, art, options, svgForPng(layout, size));
}

function render(markup: string) {
  const resvg = new Resvg(markup, {
    fitTo: { mode: "original" },
    font: { fontBuffers: fonts, loadSystemFonts: false, defaultFontFamily: "Inter" },
  });
  const image = resvg.render();
  try {
    return { reference: Buffer.from(image.asPng()), pixels: image.pixels, width: image.width, height: image.height };
  } finally {
    image.free();
    resvg.free();
  }
}

describe("the rasteriser's PNG encoder", () => {
  it.each([
    ["og", "standard", "light"],
    ["og", "compact", "dark"],
    ["card", "standard", "light"],
    ["card", "compact", "dark"],
  ] as const)("%s %s %s: the same pixels as resvg's own encoder, in fewer bytes", async (layout, size, theme) => {
    const { reference, pixels, width, height } = render(await svg(layout, size, theme));
    const ours = Buffer.from(await encodePng(pixels, width, height));
    const theirs = decodePixels(reference);
    const mine = decodePixels(ours);
    expect([mine.width, mine.height, mine.channels]).toEqual([theirs.width, theirs.height, 4]);
    expect(theirs.channels).toBe(4);
    // Byte-for-byte equal pixels; toEqual on 3 MB arrays would print them all on failure.
    const firstDiff = mine.px.findIndex((v, i) => v !== theirs.px[i]);
    expect(firstDiff, `first differing byte (pixel ${Math.floor(firstDiff / 4)})`).toBe(-1);
    expect(ours.length).toBeLessThan(reference.length);
    if (layout === "card") {
      // The rounded corners' rim is partly transparent: the demultiplied pixels were compared.
      let partial = 0;
      for (let i = 3; i < mine.px.length; i += 4) if (mine.px[i]! > 0 && mine.px[i]! < 255) partial++;
      expect(partial).toBeGreaterThan(20);
    }
  });

  it("refuses pixels that do not match the stated size", async () => {
    await expect(encodePng(new Uint8Array(4 * 6), 2, 2)).rejects.toThrow(RangeError);
    await expect(encodePng(new Uint8Array(0), 0, 0)).rejects.toThrow(RangeError);
  });
});

describe("the artwork as resvg draws it", () => {
  it("has rounded corners in the card's colour and no ring around it", async () => {
    const { reference } = render(await svg("card", "standard", "light"));
    const { width, px } = decodePixels(reference);
    const at = (x: number, y: number) => [...px.subarray((y * width + x) * 4, (y * width + x) * 4 + 3)];
    const white = [255, 255, 255];
    // The artwork is 104 px square at (16, 16) on the 480 x 136 card.
    expect(at(16, 16), "a corner, cut round").toEqual(white);
    expect(at(119, 119), "the opposite corner").toEqual(white);
    expect(at(68, 68), "the artwork itself").not.toEqual(white);
    for (const [x, y] of [
      [15, 68],
      [120, 68],
      [68, 15],
      [68, 120],
    ] as const) {
      expect(at(x, y), `just outside the artwork at ${x},${y}`).toEqual(white);
    }
    expect(at(17, 68), "just inside its left edge").not.toEqual(white);
  });
});
