import { Resvg } from "@resvg/resvg-wasm";
import jpeg from "jpeg-js";
import { beforeAll, describe, expect, it } from "vitest";
import { PHOTO_SIZE, photoJpeg } from "../../fake/photo.mjs";
import { artworkPng } from "../../fake/png.mjs";
import { DEFLATE_LEVEL, encodePng } from "../../raster/encode";
import type { CardSize } from "../../src/render/layout";
import { type PngLayout, svgForPng } from "../../src/render/png";
import { trackSvg } from "../../src/render/svg-card";
import { MAX_IMAGE_BYTES } from "../../src/upstream/images";
import { decodePixels } from "./png";
import { fonts, initResvg, photoUri, sampleTrack } from "./raster-fixtures";

/**
 * The rasteriser's own PNG encoder (raster/encode.ts) judged by resvg's: the same render,
 * encoded by both, decoded (with every chunk's CRC checked by Node's zlib), pixel for pixel.
 * Runs in Node with the same resvg WebAssembly the rasteriser Worker loads.
 */

beforeAll(initResvg);

const track = sampleTrack({ id: 1, name: "Midnight Run — a title long enough to be cut short by the card" });

const flatCover = async () =>
  `data:image/png;base64,${Buffer.from(await artworkPng("cover-1", 64)).toString("base64")}`;

async function svg(layout: PngLayout, size: CardSize, theme: "light" | "dark", art?: string): Promise<string> {
  art ??= await flatCover();
  const peaks = Array.from({ length: 120 }, (_, i) => Math.abs(Math.sin(i / 7)));
  const options: Parameters<typeof trackSvg>[3] = { theme, size, accent: "7c3aed", hide: new Set() };
  // The fields a card shows, as BeatPass sends them.
  return trackSvg(track, { peaks }, art, options, svgForPng(layout, size));
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

/** RGB from RGBA, checking that every pixel is opaque. */
function withoutAlpha(rgba: Uint8Array): Uint8Array {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  let translucent = 0;
  for (let p = 0; p < rgba.length / 4; p++) {
    rgb.set(rgba.subarray(p * 4, p * 4 + 3), p * 3);
    if (rgba[p * 4 + 3] !== 255) translucent++;
  }
  expect(translucent, "pixels not opaque").toBe(0);
  return rgb;
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
    expect(theirs.channels).toBe(4);
    // A link preview's canvas is opaque: written as RGB, so resvg's must be opaque too. A
    // card's rounded corners are transparent: RGBA.
    const opaque = layout === "og";
    expect([mine.width, mine.height, mine.channels]).toEqual([theirs.width, theirs.height, opaque ? 3 : 4]);
    const expected = opaque ? withoutAlpha(theirs.px) : theirs.px;
    // Byte-for-byte equal pixels; toEqual on 3 MB arrays would print them all on failure.
    const firstDiff = mine.px.findIndex((v, i) => v !== expected[i]);
    expect(firstDiff, `first differing byte (pixel ${Math.floor(firstDiff / 4)})`).toBe(-1);
    expect(ours.length).toBeLessThan(reference.length);
    if (layout === "card") {
      // The rounded corners' rim is partly transparent: the demultiplied pixels were compared.
      let partial = 0;
      for (let i = 3; i < mine.px.length; i += 4) if (mine.px[i]! > 0 && mine.px[i]! < 255) partial++;
      expect(partial).toBeGreaterThan(20);
    }
  });

  it("a link preview with a photo cover: the same pixels as resvg's own encoder, under 300 KB", async () => {
    const { reference, pixels, width, height } = render(await svg("og", "standard", "dark", photoUri()));
    const ours = Buffer.from(await encodePng(pixels, width, height));
    const mine = decodePixels(ours);
    const expected = withoutAlpha(decodePixels(reference).px);
    expect(mine.px.findIndex((v, i) => v !== expected[i])).toBe(-1);
    // Not fewer bytes than resvg's here: its filters pack a photo's rows tighter (144 KB
    // against about 160 at deflate level 3), at a CPU cost the link preview cannot afford
    // (raster/encode.ts).
    expect(ours.length).toBeLessThan(300 * 1024);
  });

  it("writes each PNG from its own pixels, one after another in any shape (the scanline buffer is reused)", async () => {
    // RGBA rows, then RGB rows over the same buffer at other offsets, then a narrow RGBA card:
    // each row's filter byte must be written anew, whatever the last PNG left there.
    for (const [layout, size, art] of [
      ["card", "standard", undefined],
      ["og", "standard", photoUri()],
      ["card", "compact", photoUri()],
      ["og", "compact", undefined],
    ] as const) {
      const { reference, pixels, width, height } = render(await svg(layout, size, "dark", art));
      const mine = decodePixels(Buffer.from(await encodePng(pixels, width, height)));
      const theirs = decodePixels(reference).px;
      const expected = layout === "og" ? withoutAlpha(theirs) : theirs;
      expect(mine.filters, `${layout} ${size}: every row unfiltered`).toEqual([0]);
      expect(
        mine.px.findIndex((v, i) => v !== expected[i]),
        `${layout} ${size}: first differing byte`,
      ).toBe(-1);
    }
  });

  it("deflates at zlib's fast level 3 (its zlib header says so), link previews inside their size targets", async () => {
    expect(DEFLATE_LEVEL).toBe(3);
    for (const [art, targetKB] of [
      [await flatCover(), 100],
      [photoUri(), 300],
    ] as const) {
      const { pixels, width, height } = render(await svg("og", "standard", "dark", art));
      const file = Buffer.from(await encodePng(pixels, width, height));
      // The first chunk after IHDR (8 + 25 bytes in) is the one IDAT: length, type, data.
      expect(file.toString("latin1", 37, 41)).toBe("IDAT");
      const [cmf = 0, flg = 0] = file.subarray(41, 43);
      // CMF 0x78: deflate, 32 KiB window. FLEVEL (FLG's top two bits) is 1 for zlib's levels
      // 2-5 (0: level 1, 2: the default 6, which CompressionStream always used).
      expect([cmf, flg >> 6]).toEqual([0x78, 1]);
      expect(file.length).toBeLessThan(targetKB * 1000);
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

describe("the fake BeatPass's photo cover", () => {
  const cover = photoJpeg("/images/tracks/21-photo.jpg");

  it("is a JPEG of a photo: decodes to its size, in many colours, and draws the same every time", () => {
    expect(Buffer.from(cover.subarray(0, 3)).toString("hex"), "JPEG SOI marker").toBe("ffd8ff");
    const image = jpeg.decode(cover, { useTArray: true });
    expect([image.width, image.height]).toEqual([PHOTO_SIZE, PHOTO_SIZE]);
    const colours = new Set<number>();
    for (let i = 0; i < image.data.length; i += 4)
      colours.add((image.data[i]! << 16) | (image.data[i + 1]! << 8) | image.data[i + 2]!);
    // A flat gradient has hundreds; grain and soft light give a photo tens of thousands.
    expect(colours.size).toBeGreaterThan(20_000);
    expect(Buffer.from(photoJpeg("/images/tracks/21-photo.jpg")).equals(Buffer.from(cover))).toBe(true);
    expect(Buffer.from(photoJpeg("/images/tracks/22-photo.jpg")).equals(Buffer.from(cover))).toBe(false);
  });

  it("is small enough for the Worker to draw it, as heavy as a photo gets under that cap", () => {
    expect(cover.length).toBeLessThanOrEqual(MAX_IMAGE_BYTES);
    expect(cover.length).toBeGreaterThan(MAX_IMAGE_BYTES / 2);
  });

  it("is drawn by resvg into the card's artwork square", async () => {
    const { pixels, width } = render(await svg("card", "standard", "light", photoUri()));
    const colours = new Set<number>();
    // Inside the 104 px artwork at (16, 16), clear of the rounded corners.
    for (let y = 30; y < 106; y++)
      for (let x = 30; x < 106; x++) {
        const i = (y * width + x) * 4;
        colours.add((pixels[i]! << 16) | (pixels[i + 1]! << 8) | pixels[i + 2]!);
      }
    expect(colours.size).toBeGreaterThan(1000);
  });
});
