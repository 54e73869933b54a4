import { Resvg } from "@resvg/resvg-wasm";
import jpeg from "jpeg-js";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { photoJpeg } from "../../fake/photo.mjs";
import { artworkPng } from "../../fake/png.mjs";
import { encodePng, pngFile } from "../../raster/encode";
import { MAX_SIDE, renderPng } from "../../raster/render";
import {
  type CoverCounts,
  MAX_SHRUNK_PIXELS,
  resetShrunk,
  SHRUNK_MEMO_BYTES,
  shrinkImages,
  shrinkStats,
} from "../../raster/shrink";
import type { CardSize } from "../../src/render/layout";
import { type PngLayout, svgForPng } from "../../src/render/png";
import { trackSvg } from "../../src/render/svg-card";
import { decodePixels, type Pixels } from "./png";
import { dataUri, fonts, initResvg, photoUri, sampleTrack } from "./raster-fixtures";

/**
 * Covers shrunk once to their drawn pixels (raster/shrink.ts), judged against what the
 * rasteriser drew before it shrank anything: resvg drawing the card's SVG as it came.
 * Runs in Node with the same resvg WebAssembly the rasteriser Worker loads.
 */

beforeAll(initResvg);
beforeEach(() => resetShrunk());

const track = sampleTrack({ id: 21, name: "Midnight Run" });

/** A JPEG of three upright bands, red | green | blue, the green one half the width. */
function bandsJpeg(width: number, height: number): string {
  const data = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const x = p % width;
    const band = x < width / 4 ? 0 : x < (width * 3) / 4 ? 1 : 2;
    data.set(band === 0 ? [220, 30, 30, 255] : band === 1 ? [30, 200, 60, 255] : [30, 60, 220, 255], p * 4);
  }
  return dataUri("image/jpeg", jpeg.encode({ data, width, height }, 90).data);
}

interface Card {
  layout?: PngLayout;
  size?: CardSize;
  accent?: string;
  theme?: "light" | "dark";
  width?: number;
}

function cardSvg(
  art: string,
  { layout = "og", size = "standard", accent = "7c3aed", theme = "dark", width }: Card = {},
) {
  const peaks = Array.from({ length: 120 }, (_, i) => Math.abs(Math.sin(i / 7)));
  const options: Parameters<typeof trackSvg>[3] = { theme, size, accent, hide: new Set() };
  return trackSvg(track, { peaks }, art, options, svgForPng(layout, size, width));
}

/** What the rasteriser answered before covers were shrunk: resvg drawing `svg` as it is. */
async function unshrunk(svg: string): Promise<Buffer> {
  const resvg = new Resvg(svg, {
    fitTo: { mode: "original" },
    font: { fontBuffers: fonts, loadSystemFonts: false, defaultFontFamily: "Inter" },
  });
  try {
    if (resvg.width > MAX_SIDE || resvg.height > MAX_SIDE) throw new RangeError("canvas too large");
    const image = resvg.render();
    try {
      return Buffer.from(await encodePng(image.pixels, image.width, image.height));
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}

/** The largest difference of any channel of any pixel, and how many pixels differ by more than 1. */
function difference(a: Pixels, b: Pixels): { max: number; over1: number } {
  expect([a.width, a.height, a.channels]).toEqual([b.width, b.height, b.channels]);
  let [max, over1] = [0, 0];
  for (let p = 0; p < a.px.length; p += a.channels) {
    let worst = 0;
    for (let c = 0; c < a.channels; c++) worst = Math.max(worst, Math.abs(a.px[p + c]! - b.px[p + c]!));
    max = Math.max(max, worst);
    if (worst > 1) over1++;
  }
  return { max, over1 };
}

/**
 * Renders `svg` as the rasteriser does and expects the pixels of the unshrunk render (±1
 * level). Returns them, and what the render did with its covers.
 */
async function expectLooksUnshrunk(svg: string): Promise<Pixels & { covers: CoverCounts }> {
  const { png, covers } = await renderPng(svg);
  const ours = decodePixels(Buffer.from(png));
  const theirs = decodePixels(await unshrunk(svg));
  expect(difference(ours, theirs)).toEqual({ max: expect.any(Number), over1: 0 });
  expect(difference(ours, theirs).max).toBeLessThanOrEqual(1);
  return { ...ours, covers };
}

/** The SVG resvg is given for `svg`. */
const shrunkSvg = (svg: string) => shrinkImages(svg, MAX_SIDE).svg;

/** The covers placed over the render of `svg`, in order. */
const pastes = (svg: string) => shrinkImages(svg, MAX_SIDE).pastes;

describe("covers shrunk to their drawn size", () => {
  it("a photo cover on a link preview is shrunk on first sight and drawn shrunk after, the same pixels as unshrunk", async () => {
    const first = await expectLooksUnshrunk(cardSvg(photoUri(), { accent: "7c3aed" }));
    expect(first.covers).toEqual({ shrunk: 1, hits: 0, kept: 0 });
    expect(shrinkStats()).toMatchObject({ shrunk: 1, hits: 0, kept: 0, entries: 1 });

    // Another accent and theme: the same cover at the same place, drawn from the memo.
    const other = cardSvg(photoUri(), { accent: "0e7490", theme: "light" });
    expect((await expectLooksUnshrunk(other)).covers).toEqual({ shrunk: 0, hits: 1, kept: 0 });
    expect(shrinkStats()).toMatchObject({ shrunk: 1, hits: 1, kept: 0, entries: 1 });

    // What resvg is given: the card without its cover, which is placed over the render as the
    // pixels the 104-unit box covers at 1200 / 537.6.
    expect(await shrunkSvg(other)).not.toContain("<image");
    const [shrunk, ...more] = pastes(other);
    expect(more).toEqual([]);
    const side = (104 * 1200) / 537.6;
    for (const n of [shrunk!.width, shrunk!.height]) {
      expect(n).toBeGreaterThanOrEqual(Math.ceil(side));
      expect(n).toBeLessThanOrEqual(Math.ceil(side) + 1);
    }
    expect(shrunk!.pixels.length).toBe(shrunk!.width * shrunk!.height * 4);
  });

  it.each([
    ["a card", { layout: "card" }],
    ["a compact card", { layout: "card", size: "compact" }],
    ["a compact link preview", { size: "compact" }],
    ["a 600 px link preview", { width: 600 }],
    ["a 200 px link preview", { width: 200 }],
  ] as const)("%s: shrunk, and the same pixels as unshrunk", async (_, card) => {
    await expectLooksUnshrunk(cardSvg(photoUri(), card));
    expect(shrinkStats()).toMatchObject({ shrunk: 1, kept: 0 });
    await expectLooksUnshrunk(cardSvg(photoUri(), { ...card, accent: "be123c" }));
    expect(shrinkStats()).toMatchObject({ shrunk: 1, hits: 1 });
  });

  it("keeps a shrunk cover per drawn size: a link preview, its 600 px width and a card each shrink it once", async () => {
    for (const card of [{}, { width: 600 }, { layout: "card" }, {}, { width: 600 }, { layout: "card" }] as const)
      await shrunkSvg(cardSvg(photoUri(), card));
    expect(shrinkStats()).toMatchObject({ shrunk: 3, hits: 3, entries: 3 });
  });

  it("keeps covers apart: two covers at the same place each draw as themselves", async () => {
    const a = await expectLooksUnshrunk(cardSvg(photoUri("/images/tracks/21-photo.jpg")));
    const b = await expectLooksUnshrunk(cardSvg(photoUri("/images/tracks/22-photo.jpg")));
    expect(shrinkStats()).toMatchObject({ shrunk: 2, hits: 0 });
    expect(difference(a, b).over1).toBeGreaterThan(10_000);
    // Again, from the memo, each still itself.
    await expectLooksUnshrunk(cardSvg(photoUri("/images/tracks/21-photo.jpg"), { accent: "0e7490" }));
    await expectLooksUnshrunk(cardSvg(photoUri("/images/tracks/22-photo.jpg"), { accent: "0e7490" }));
    expect(shrinkStats()).toMatchObject({ shrunk: 2, hits: 2 });
  });

  it("a wide cover keeps its crop: the card shows its middle, square (slice), as unshrunk", async () => {
    const bands = bandsJpeg(600, 300);
    const { width, px, channels } = await expectLooksUnshrunk(cardSvg(bands, { layout: "card" }));
    expect(shrinkStats()).toMatchObject({ shrunk: 1 });
    // The artwork is 104 px square at (16, 16): the middle half of the 600 x 300 cover, green
    // from edge to edge (slice: the red and blue quarters are cut off).
    for (const [x, y] of [
      [20, 68],
      [68, 68],
      [115, 68],
      [68, 20],
      [68, 115],
    ] as const) {
      const [r = 0, g = 0, b = 0] = px.subarray((y * width + x) * channels, (y * width + x) * channels + 3);
      expect(g > 150 && r < 90 && b < 110, `green at ${x},${y}: ${[r, g, b]}`).toBe(true);
    }
  });

  it("an image fitted whole (meet) keeps its margins, on a canvas of another shape than its viewBox, as unshrunk", async () => {
    // The 150 x 100 viewBox drawn 2x, centred on a 300 x 261 canvas (30.5 px above and below).
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="261" viewBox="0 0 150 100"><rect width="150" height="100" fill="#fc0"/><image href="${bandsJpeg(600, 300)}" x="10.3" y="7.7" width="100" height="80" preserveAspectRatio="xMidYMid meet"/></svg>`;
    const { width, px, channels } = await expectLooksUnshrunk(svg);
    expect(shrinkStats()).toMatchObject({ shrunk: 1 });
    // 100 x 50 of cover in the middle of the 100 x 80 box; the 15 units above it show the page.
    const at = (x: number, y: number) => [...px.subarray((y * width + x) * channels, (y * width + x) * channels + 3)];
    expect(at(120, 60)).toEqual([255, 204, 0]);
    expect(at(120, 130)).not.toEqual([255, 204, 0]);
  });

  it("a strip cropped square (slice) is drawn larger than it is: drawn once at its pixels, as from the original", async () => {
    const svg = cardSvg(bandsJpeg(1000, 60), { layout: "card" });
    await expectLooksUnshrunk(svg);
    expect(shrinkStats()).toMatchObject({ shrunk: 1, kept: 0 });
  });

  it("a cover drawn larger than it is (the fake's 64 px flat covers) is enlarged once to its drawn pixels, as from the original", async () => {
    const flat = dataUri("image/png", await artworkPng("cover-1", 64));
    for (const card of [{}, { layout: "card" }] as const) {
      const svg = cardSvg(flat, card);
      // The drawn pixels are placed, not the 64 px cover: a 104-unit box, 232 px on a preview.
      const [drawn] = pastes(svg);
      expect(drawn!.width).toBeGreaterThan(64);
      await expectLooksUnshrunk(cardSvg(flat, { ...card, accent: "be123c" }));
    }
    // Drawn once per size, then from the memo.
    expect(shrinkStats()).toMatchObject({ shrunk: 2, kept: 0, hits: 2 });
  });

  it("a cover already at its drawn size is drawn as it came", async () => {
    const art = dataUri("image/png", await artworkPng("cover-1", 64));
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><image href="${art}" x="18" y="18" width="64" height="64"/></svg>`;
    expect(await shrunkSvg(svg)).toBe(svg);
    expect(Buffer.from((await renderPng(svg)).png).equals(await unshrunk(svg))).toBe(true);
    expect(shrinkStats()).toMatchObject({ shrunk: 0, kept: 1, hits: 1 });
  });

  it("a flat cover larger than its box is shrunk like a photo", async () => {
    await expectLooksUnshrunk(cardSvg(dataUri("image/png", await artworkPng("cover-1", 600))));
    expect(shrinkStats()).toMatchObject({ shrunk: 1, kept: 0 });
  });

  it("holds the memo to its byte budget, the least recently used covers going first", async () => {
    // Incompressible covers, each shrunk to 512 x 512 pixels: 1 MiB each, so the budget holds
    // only some of them.
    const side = 512;
    expect(side * side).toBeLessThanOrEqual(MAX_SHRUNK_PIXELS);
    const noise = async (seed: number) => {
      const raw = new Uint8Array(520 * (520 * 3 + 1));
      let s = seed;
      for (let i = 0; i < raw.length; i++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        raw[i] = i % (520 * 3 + 1) === 0 ? 0 : s >>> 24;
      }
      return dataUri("image/png", await pngFile(520, 520, 2, raw, 0));
    };
    const svgOf = (art: string) =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}"><image href="${art}" width="${side}" height="${side}"/></svg>`;
    const covers = await Promise.all(Array.from({ length: 20 }, (_, i) => noise(i + 1)));
    for (const art of covers) {
      expect(await shrunkSvg(svgOf(art))).not.toContain(art);
      expect(shrinkStats().bytes).toBeLessThanOrEqual(SHRUNK_MEMO_BYTES);
    }
    const { entries, shrunk } = shrinkStats();
    expect(shrunk).toBe(20);
    expect(entries).toBeGreaterThan(2);
    expect(entries).toBeLessThan(20);
    // The newest is still there; the oldest was let go and is shrunk again.
    await shrunkSvg(svgOf(covers[19]!));
    expect(shrinkStats()).toMatchObject({ hits: 1, shrunk: 20 });
    await shrunkSvg(svgOf(covers[0]!));
    expect(shrinkStats()).toMatchObject({ hits: 1, shrunk: 21 });
  }, 60_000);
});

describe("covers placed over the render", () => {
  const page = (inner: string) =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200" viewBox="0 0 150 100"><rect width="150" height="100" fill="#0a6"/>${inner}</svg>`;

  it("two covers drawn last are placed in their order, the second over the first where they overlap", async () => {
    const svg = page(
      `<image href="${photoUri("/images/tracks/21-photo.jpg")}" x="10.3" y="10.3" width="60" height="60"/><image href="${photoUri("/images/tracks/22-photo.jpg")}" x="40.6" y="30.2" width="60" height="60"/>`,
    );
    expect(pastes(svg)).toHaveLength(2);
    expect(shrunkSvg(svg)).not.toContain("<image");
    await expectLooksUnshrunk(svg);
    expect(shrinkStats()).toMatchObject({ shrunk: 2 });
  });

  it("a cover drawn as it came ends the run: the covers before it are drawn as they came too", async () => {
    const flat = dataUri("image/png", await artworkPng("cover-1", 64));
    // The photo would be shrunk; the flat cover after it is at its drawn size (64 px at 2x).
    const svg = page(
      `<image href="${photoUri()}" x="10" y="10" width="60" height="60"/><image href="${flat}" x="40" y="30" width="32" height="32"/>`,
    );
    expect(pastes(svg)).toEqual([]);
    expect(shrunkSvg(svg)).toBe(svg);
    expect(Buffer.from((await renderPng(svg)).png).equals(await unshrunk(svg))).toBe(true);
  });

  it("a cover partly off the canvas is cut at its edge, as a render cuts it", async () => {
    const svg = page(
      `<image href="${photoUri()}" x="-20.5" y="60.25" width="60" height="60" preserveAspectRatio="xMidYMid slice"/>`,
    );
    const [copy] = pastes(svg);
    expect(copy!.left).toBeLessThan(0);
    expect(copy!.top + copy!.height).toBeGreaterThan(200);
    await expectLooksUnshrunk(svg);
  });

  it("a card's cover keeps its rounded corners in the card's colour", async () => {
    const { width, px, channels } = await expectLooksUnshrunk(cardSvg(photoUri(), { layout: "card", theme: "light" }));
    expect(shrinkStats()).toMatchObject({ shrunk: 1 });
    const at = (x: number, y: number) => [...px.subarray((y * width + x) * channels, (y * width + x) * channels + 3)];
    // The artwork is 104 px square at (16, 16): its corners are cut round, the card white there.
    expect(at(16, 16)).toEqual([255, 255, 255]);
    expect(at(119, 119)).toEqual([255, 255, 255]);
    expect(at(68, 68)).not.toEqual([255, 255, 255]);
  });
});

describe("what is not shrunk, and errors", () => {
  const box = `x="16" y="16" width="104" height="104" preserveAspectRatio="xMidYMid slice"`;
  const page = (inner: string) =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="480" height="136" viewBox="0 0 480 136">${inner}</svg>`;
  const square = `x="16" y="16" width="104" height="104" rx="8"`;
  const clipped = (art: string, id: string) => `<image href="${art}" ${box} clip-path="url(#${id})"/>`;

  it.each([
    ["in a group with a transform", (art: string) => page(`<g transform="scale(2)"><image href="${art}" ${box}/></g>`)],
    ["with a transform of its own", (art: string) => page(`<image href="${art}" ${box} transform="rotate(5)"/>`)],
    ["with a class (CSS could scale it)", (art: string) => page(`<image class="art" href="${art}" ${box}/>`)],
    ["after a comment", (art: string) => page(`<!-- a comment --><image href="${art}" ${box}/>`)],
    [
      "on a root that sets its own fit",
      (art: string) =>
        page(`<image href="${art}" ${box}/>`).replace(`viewBox`, `preserveAspectRatio="xMinYMin slice" viewBox`),
    ],
    ["by URL, not inline", () => page(`<image href="https://example.com/a.jpg" ${box}/>`)],
    [
      "with something drawn after it",
      (art: string) => page(`<image href="${art}" ${box}/><rect width="20" height="20"/>`),
    ],
    [
      "clipped by a clip path with a class (CSS could move it)",
      (art: string) => page(`<clipPath id="r"><rect class="k" ${square}/></clipPath>${clipped(art, "r")}`),
    ],
    [
      "clipped by a clip path in units of its own",
      (art: string) =>
        page(`<clipPath id="r" clipPathUnits="objectBoundingBox"><rect ${square}/></clipPath>${clipped(art, "r")}`),
    ],
    [
      "clipped by an id two elements have",
      (art: string) =>
        page(`<rect id="r" width="1" height="1"/><clipPath id="r"><rect ${square}/></clipPath>${clipped(art, "r")}`),
    ],
    ["clipped by a clip path that is not there", (art: string) => page(clipped(art, "nowhere"))],
    [
      "with a size in units",
      (art: string) => page(`<image href="${art}" x="16" y="16" width="2.75cm" height="2.75cm"/>`),
    ],
    [
      "larger than the pixels kept",
      (art: string) =>
        page(`<image href="${art}" x="0" y="0" width="560" height="560"/>`).replace(
          `width="480" height="136" viewBox="0 0 480 136"`,
          `width="560" height="560"`,
        ),
    ],
  ])("an image %s is left as it came", async (_, make) => {
    const svg = make(photoUri());
    expect(await shrunkSvg(svg)).toBe(svg);
    expect(shrinkStats()).toMatchObject({ shrunk: 0, hits: 0 });
  });

  it("an image by xlink:href is shrunk, drawn as unshrunk", async () => {
    const svg = page(`<image xlink:href="${photoUri()}" ${box}/>`).replace(
      "<svg ",
      '<svg xmlns:xlink="http://www.w3.org/1999/xlink" ',
    );
    await expectLooksUnshrunk(svg);
    expect(shrinkStats()).toMatchObject({ shrunk: 1 });
  });

  it.each([
    ["not base64", "data:image/jpeg;base64,!!not*base64!!"],
    ["a JPEG cut short", () => dataUri("image/jpeg", photoJpeg("/images/tracks/21-photo.jpg").subarray(0, 4000))],
    [
      "a JPEG whose body is noise",
      () => {
        const bytes = photoJpeg("/images/tracks/21-photo.jpg");
        for (let i = 2000; i < bytes.length; i += 7) bytes[i] = (bytes[i]! * 31 + 7) & 0xff;
        return dataUri("image/jpeg", bytes);
      },
    ],
    ["not an image", "data:text/plain;base64,aGVsbG8gd29ybGQ="],
    ["empty", "data:,"],
  ])("a malformed cover (%s) is drawn, or refused, as it was before", async (_, make) => {
    const art = typeof make === "string" ? make : make();
    for (const card of [{}, { layout: "card" }] as const) {
      const svg = cardSvg(art, card);
      const before = await unshrunk(svg).then(
        (png) => ({ png: decodePixels(png) }),
        (err: Error) => ({ error: err.message }),
      );
      const after = await renderPng(svg).then(
        ({ png }) => ({ png: decodePixels(Buffer.from(png)) }),
        (err: Error) => ({ error: err.message }),
      );
      if ("error" in before) expect(after).toEqual(before);
      else {
        expect("png" in after && difference(after.png, before.png)).toEqual({ max: expect.any(Number), over1: 0 });
      }
    }
  });

  it("a canvas over the rasteriser's limit is refused as before, before any cover is shrunk", async () => {
    const svg = cardSvg(photoUri()).replace(/width="1200" height="630"/, `width="${MAX_SIDE + 1}" height="630"`);
    expect(svg).toContain(`width="${MAX_SIDE + 1}"`);
    await expect(renderPng(svg)).rejects.toThrow(new RangeError("canvas too large"));
    expect(shrinkStats()).toMatchObject({ shrunk: 0, kept: 0, hits: 0 });
  });

  it("an SVG resvg cannot parse is refused with resvg's own words, as before", async () => {
    // A shrinkable cover, then a description with an entity XML does not know: resvg names the
    // place it gave up at, which is further along with the cover than without it.
    const svg = cardSvg(photoUri()).replace("</svg>", "<desc>&unknown;</desc></svg>");
    const before = await unshrunk(svg).then(
      () => "drawn",
      (err: Error) => err.message,
    );
    expect(before).not.toBe("drawn");
    await expect(renderPng(svg)).rejects.toThrow(before);
    expect(shrinkStats()).toMatchObject({ shrunk: 1 });
  });
});
