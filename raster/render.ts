import { Resvg } from "@resvg/resvg-wasm";
import { INTER_400, INTER_600 } from "../src/render/fonts/inter";
import { drawOver, type Placed } from "./composite";
import { encodePng } from "./encode";
import { type CoverCounts, shrinkImages } from "./shrink";

/**
 * An SVG card drawn to PNG bytes by resvg, once its WebAssembly is initialised (index.ts in
 * the Worker; the raster tests in Node), apart from the HTTP handler so Node can run it whole.
 */

/** Larger than any card or link preview: a guard against a runaway canvas. */
export const MAX_SIDE = 2400;

let fonts: Uint8Array[] | undefined;

/** `svg` drawn by resvg, `pastes` placed over it in order, as a PNG. */
function draw(svg: string, pastes: Placed[] = []): Promise<Uint8Array> {
  fonts ??= [INTER_400, INTER_600].map((b64) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)));
  const resvg = new Resvg(svg, {
    fitTo: { mode: "original" },
    font: { fontBuffers: fonts, loadSystemFonts: false, defaultFontFamily: "Inter" },
  });
  try {
    if (resvg.width > MAX_SIDE || resvg.height > MAX_SIDE) throw new RangeError("canvas too large");
    const image = resvg.render();
    try {
      const { pixels, width, height } = image;
      for (const copy of pastes) drawOver(pixels, width, height, copy);
      return encodePng(pixels, width, height);
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}

/**
 * The PNG of `svg`, its covers placed from their shrunk copies (shrink.ts), and what was done
 * for its covers. Throws what resvg throws for `svg` itself (RangeError for a canvas over
 * MAX_SIDE): should the SVG without its covers fail for any reason, the original is drawn, so
 * an error reads as it did without shrinking.
 */
export async function renderPng(svg: string): Promise<{ png: Uint8Array; covers: CoverCounts }> {
  const shrunk = shrinkImages(svg, MAX_SIDE);
  if (shrunk.svg !== svg) {
    try {
      return { png: await draw(shrunk.svg, shrunk.pastes), covers: shrunk.covers };
    } catch {
      // Drawn again from the original below.
    }
  }
  return { png: await draw(svg), covers: shrunk.covers };
}
