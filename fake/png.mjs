/**
 * The fake's artwork: a 64×64 two-colour gradient per path, so cards show distinct,
 * deterministic images without shipping binary fixtures. Encoded by the rasteriser's own PNG
 * writer (Web APIs only: CompressionStream), so it runs in Node and in workerd alike.
 */
import { pngFile } from "../raster/encode.ts";

function hueFor(text) {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return h;
}

function hsl(h, s, l) {
  const f = (n) => {
    const k = (n + h / 30) % 12;
    const a = s * Math.min(l, 1 - l);
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** A deterministic PNG for `seed` (e.g. the image path). */
export async function artworkPng(seed, size = 64) {
  const hue = hueFor(seed);
  const [a, b] = [hsl(hue, 0.65, 0.55), hsl((hue + 60) % 360, 0.7, 0.3)];
  const raw = new Uint8Array(size * (size * 3 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 3 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const t = (x + y) / (2 * size - 2);
      for (let ch = 0; ch < 3; ch++) raw[y * (size * 3 + 1) + 1 + x * 3 + ch] = Math.round(a[ch] * (1 - t) + b[ch] * t);
    }
  }
  return pngFile(size, size, 2, raw);
}
