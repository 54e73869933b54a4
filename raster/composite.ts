/**
 * Pixels placed over a rendered canvas, as resvg would have drawn them there: "source over",
 * premultiplied RGBA on both sides (tiny-skia's pixels and resvg's own output). The rasteriser
 * draws a card without its cover and places the cover's pixels, kept from its first render,
 * this way (shrink.ts): 0.4 ms for a link preview's 55,000 cover pixels (Node 24, sampled),
 * where resvg decoded the cover and ran its pattern pipeline over them on every render.
 */

/** Premultiplied RGBA pixels whose top left corner is at (`left`, `top`) on a canvas. */
export interface Placed {
  left: number;
  top: number;
  width: number;
  height: number;
  pixels: Uint8Array;
}

/**
 * Draws `src` over `canvas` (`width` x `height`, premultiplied RGBA) in place. Whatever of
 * `src` lies off the canvas is cut off, as a render would cut it.
 */
export function drawOver(canvas: Uint8Array, width: number, height: number, src: Placed): void {
  const px = src.pixels;
  const x0 = Math.max(0, src.left);
  const x1 = Math.min(width, src.left + src.width);
  for (let y = Math.max(0, src.top), y1 = Math.min(height, src.top + src.height); y < y1; y++) {
    let s = ((y - src.top) * src.width + (x0 - src.left)) * 4;
    for (let d = (y * width + x0) * 4, end = (y * width + x1) * 4; d < end; d += 4, s += 4) {
      const a = px[s + 3] ?? 0;
      if (a === 0) continue;
      // Each channel: the source, plus the canvas scaled by what the source leaves, rounded
      // (nothing left of the canvas where the source is opaque: most of a cover).
      const left = 255 - a;
      for (let c = 0; c < 4; c++)
        canvas[d + c] = (px[s + c] ?? 0) + (left && Math.floor(((canvas[d + c] ?? 0) * left + 127) / 255));
    }
  }
}
