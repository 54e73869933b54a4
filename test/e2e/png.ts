import { crc32, inflateSync } from "node:zlib";
import { expect } from "vitest";

/** A decoded PNG (8-bit, non-interlaced, as Chromium and the rasteriser write them): size and what it shows. */
export interface Shot {
  width: number;
  height: number;
  /** Distinct RGB colours: a blank or failed render has one or two. */
  colours: number;
  /** Mean luminance, 0 (black) to 255 (white). */
  luminance: number;
}

/** The pixels of a PNG (8-bit, non-interlaced): `channels` bytes each, rows top to bottom. */
export interface Pixels {
  width: number;
  height: number;
  channels: number;
  px: Uint8Array;
  /** The row filter types the file uses (0 none, 1 sub, 2 up, 3 average, 4 Paeth), ascending. */
  filters: number[];
}

export function decodePixels(file: Buffer): Pixels {
  expect(file.subarray(0, 8).toString("hex"), "PNG signature").toBe("89504e470d0a1a0a");
  let [width, height, depth, colourType, interlace] = [0, 0, 0, 0, 0];
  const idat: Buffer[] = [];
  for (let pos = 8; pos + 8 <= file.length; ) {
    const length = file.readUInt32BE(pos);
    const type = file.toString("latin1", pos + 4, pos + 8);
    const data = file.subarray(pos + 8, pos + 8 + length);
    expect(file.readUInt32BE(pos + 8 + length), `${type} CRC`).toBe(crc32(file.subarray(pos + 4, pos + 8 + length)));
    if (type === "IHDR") {
      [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
      [depth, colourType, interlace] = [data[8]!, data[9]!, data[12]!];
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    pos += 12 + length;
  }
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colourType];
  expect([depth, interlace, channels !== undefined]).toEqual([8, 0, true]);
  const n = channels!;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * n;
  expect(raw.length).toBe(height * (stride + 1));
  const px = new Uint8Array(height * stride);
  const filters = new Set<number>();
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    filters.add(filter);
    expect(filter, "PNG filter type").toBeLessThanOrEqual(4);
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= n ? px[y * stride + x - n]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + x]! : 0;
      const c = x >= n && y > 0 ? px[(y - 1) * stride + x - n]! : 0;
      const p = a + b - c;
      const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter]!;
      px[y * stride + x] = (v + predictor) & 0xff;
    }
  }
  return { width, height, channels: n, px, filters: [...filters].sort() };
}

export function decodePng(file: Buffer): Shot {
  const { width, height, channels: n, px } = decodePixels(file);
  const colours = new Set<number>();
  let sum = 0;
  for (let i = 0; i < px.length; i += n) {
    const [r, g, b] = n >= 3 ? [px[i]!, px[i + 1]!, px[i + 2]!] : [px[i]!, px[i]!, px[i]!];
    colours.add((r << 16) | (g << 8) | b);
    sum += 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  return { width, height, colours: colours.size, luminance: sum / (width * height) };
}
