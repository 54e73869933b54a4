// The runtime's own CRC-32 (workerd's node:zlib, as Node's): 0.05 ms for a photo preview's
// 160 KB IDAT, against 0.4 ms for a table-driven loop in JS (Node 24, sampled).
import { crc32, deflateSync } from "node:zlib";

/**
 * PNG encoding of resvg's pixels, in place of resvg's own `asPng()`, which tries a filter per
 * row and deflates in WebAssembly: 40% of a link preview's CPU. Cards are mostly flat colour,
 * which zlib packs well with no filter at all, and the runtime's zlib is native code: half the
 * encoding time, and PNGs half the size (bench/RESULTS.md, "PNG cards").
 */

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * resvg (tiny-skia) keeps colour premultiplied by alpha; PNG stores it straight. Only the
 * anti-aliased rim of a card's rounded corners is partly transparent. The arithmetic is
 * tiny-skia's own, so the pixels match what `asPng()` wrote.
 */
export function demultiply(rgba: Uint8Array): void {
  for (let i = 3; i < rgba.length; i += 4) {
    const a = rgba[i] ?? 255;
    if (a === 255 || a === 0) continue;
    const scale = a / 255;
    for (let c = i - 3; c < i; c++) rgba[c] = Math.min(255, Math.floor((rgba[c] ?? 0) / scale + 0.5));
  }
}

/**
 * zlib's level 3, not its default 6 (all CompressionStream offers): levels 1-3 are zlib's
 * fast strategy, about half the time on a link preview's 2.3 MB of scanlines (flat: 6.5 to
 * 3 ms, photo cover: 8.5 to 5 ms, Node 24) for larger files that stay far inside the targets
 * (flat 24 to 42 KiB, photo 150 to 159 KiB). Level 3 packs tightest of the three at the same
 * speed. node:zlib is the runtime's own zlib (the rasteriser has nodejs_compat for it).
 */
export const DEFLATE_LEVEL = 3;

/**
 * An 8-bit PNG of `width` x `height` premultiplied RGBA pixels: RGB when every pixel is
 * opaque (a link preview's canvas), else RGBA (demultiplied in place; a card's corners).
 * Dropping the alpha channel gives deflate a quarter less to pack: 3 ms less CPU on a link
 * preview with a photo cover, and a smaller file. Rows are unfiltered: cards are mostly flat
 * colour, which deflate packs best as it is.
 */
export async function encodePng(rgba: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  const stride = width * 4;
  if (!(width > 0 && height > 0 && rgba.length === stride * height))
    throw new RangeError(`${rgba.length} bytes are not ${width} x ${height} RGBA pixels`);
  const rgb = opaqueScanlines(rgba, width, height);
  if (rgb) return pngFile(width, height, 2, rgb);
  demultiply(rgba);
  // Each row: its filter type (0, none), then the row as it is.
  const raw = scanlineBuffer(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0;
    raw.set(rgba.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  return pngFile(width, height, 6, raw);
}

/**
 * Scanlines are built in one buffer kept for the isolate, not a new one per PNG: a link
 * preview's 2.3 MB, allocated afresh each time, is memory to map and zero page by page and
 * external memory that starts V8's collections (in Node, a scavenge every five photo previews,
 * "external memory pressure"). Deflate reads it before encodePng returns, so two renders in
 * the isolate never share it. A canvas larger than a link preview gets a buffer of its own,
 * so a rare large one does not stay in memory.
 */
const KEPT_SCANLINE_BYTES = 4 * 1024 * 1024;
let kept: Uint8Array | undefined;

function scanlineBuffer(bytes: number): Uint8Array {
  if (bytes > KEPT_SCANLINE_BYTES) return new Uint8Array(bytes);
  if (!kept || kept.length < bytes) kept = new Uint8Array(KEPT_SCANLINE_BYTES);
  return kept.subarray(0, bytes);
}

/**
 * The scanlines of an image whose every pixel is opaque, as RGB (each row its filter type,
 * 0 for none, then the row), or undefined at the first pixel that is not. One pass where a
 * check of every alpha and then a copy took two (0.7 ms of a link preview's 2.6, sampled).
 */
function opaqueScanlines(rgba: Uint8Array, width: number, height: number): Uint8Array | undefined {
  const stride = width * 4;
  const rgbStride = width * 3;
  const raw = scanlineBuffer(height * (rgbStride + 1));
  for (let y = 0; y < height; y++) {
    raw[y * (rgbStride + 1)] = 0;
    for (let s = y * stride, d = y * (rgbStride + 1) + 1, end = s + stride; s < end; s += 4, d += 3) {
      if (rgba[s + 3] !== 255) return undefined;
      raw[d] = rgba[s] ?? 0;
      raw[d + 1] = rgba[s + 1] ?? 0;
      raw[d + 2] = rgba[s + 2] ?? 0;
    }
  }
  return raw;
}

/**
 * A PNG file from its scanlines (each row its filter type byte, then the row), 8 bits per
 * channel: colour type 2 (RGB) or 6 (RGBA). The fake BeatPass draws its artwork with it too.
 */
export async function pngFile(
  width: number,
  height: number,
  colourType: 2 | 6,
  scanlines: Uint8Array,
  level = DEFLATE_LEVEL,
) {
  const idat = deflateSync(scanlines, { level });
  // The file in one buffer, each chunk written in place: length, type, data, then the CRC of
  // type and data (a copy less of the IDAT, a photo preview's 170 KB, than chunk by chunk).
  const out = new Uint8Array(SIGNATURE.length + 3 * 12 + 13 + idat.length);
  const view = new DataView(out.buffer);
  out.set(SIGNATURE);
  let pos = SIGNATURE.length;
  const chunk = (type: string, length: number, write: (at: number) => void) => {
    view.setUint32(pos, length);
    for (let i = 0; i < 4; i++) out[pos + 4 + i] = type.charCodeAt(i);
    write(pos + 8);
    view.setUint32(pos + 8 + length, crc32(out.subarray(pos + 4, pos + 8 + length)));
    pos += 12 + length;
  };
  chunk("IHDR", 13, (at) => {
    view.setUint32(at, width);
    view.setUint32(at + 4, height);
    // Bit depth 8, the colour type; compression, filter method and interlace 0.
    out.set([8, colourType, 0, 0, 0], at + 8);
  });
  chunk("IDAT", idat.length, (at) => out.set(idat, at));
  chunk("IEND", 0, () => {});
  return out;
}
