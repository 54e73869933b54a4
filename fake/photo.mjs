/**
 * The fake's photographic covers. Real BeatPass covers are photographs, mostly JPEG, and a
 * photo costs a card what the flat gradients of png.mjs do not: a JPEG to decode and
 * resample, and pixels that compress badly in the PNG drawn from it. Drawn here from a seed
 * (soft light blobs over a gradient, a ripple, film grain), so the bytes are the same on
 * every run and machine without a binary fixture, and encoded by jpeg-js (pure JS: Node and
 * workerd alike).
 */
import jpeg from "jpeg-js";

/**
 * 600 x 600 at quality 80: twice the 300 x 300 BeatPass documents as usual, 68-73 KiB, so
 * near the Worker's 96 KiB artwork cap (src/upstream/images.ts): about the heaviest cover a
 * card draws. A 1000 x 1000 one drawn the same way is 186 KiB (300 x 300: 19 KiB).
 */
export const PHOTO_SIZE = 600;
export const PHOTO_QUALITY = 80;

/** mulberry32: a small seeded PRNG, so the grain is the same everywhere. */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(text) {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

/** RGB pixels (floats, 3 per pixel) of the photo for `seed`. */
function draw(seed, size) {
  const r = prng(seedOf(seed));
  const colour = () => [r() * 255, r() * 255, r() * 255];
  const [from, to] = [colour(), colour()];
  const angle = r() * Math.PI;
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  const px = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = ((x * cos + y * sin) / size + 1) / 2.5;
      for (let c = 0; c < 3; c++) px[(y * size + x) * 3 + c] = from[c] * (1 - t) + to[c] * t;
    }
  }
  // Out-of-focus lights: each blends its colour in with a Gaussian falloff, within its box.
  for (let b = 0; b < 14; b++) {
    const [bx, by, radius, tint, alpha] = [
      r() * size,
      r() * size,
      (0.05 + r() * 0.3) * size,
      colour(),
      0.3 + r() * 0.6,
    ];
    const reach = radius * 1.4;
    for (let y = Math.max(0, Math.floor(by - reach)); y < Math.min(size, by + reach); y++) {
      for (let x = Math.max(0, Math.floor(bx - reach)); x < Math.min(size, bx + reach); x++) {
        const d2 = ((x - bx) ** 2 + (y - by) ** 2) / radius ** 2;
        const w = alpha * Math.exp(-2 * d2);
        for (let c = 0; c < 3; c++) {
          const i = (y * size + x) * 3 + c;
          px[i] = px[i] * (1 - w) + tint[c] * w;
        }
      }
    }
  }
  // A ripple (texture at several scales) and grain: what makes a photo's JPEG heavy.
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const ripple = 12 * Math.sin(x * 0.11 + Math.sin(y * 0.05) * 3) * Math.sin(y * 0.07);
      const grain = (r() - 0.5) * 24;
      for (let c = 0; c < 3; c++) px[(y * size + x) * 3 + c] += ripple + grain;
    }
  }
  return px;
}

/** A deterministic photo-like JPEG for `seed` (e.g. the image path). */
export function photoJpeg(seed, size = PHOTO_SIZE, quality = PHOTO_QUALITY) {
  const rgb = draw(seed, size);
  const rgba = new Uint8Array(size * size * 4);
  for (let p = 0; p < size * size; p++) {
    // Uint8Array assignment would wrap; clamp first. Alpha is ignored by the encoder.
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = Math.max(0, Math.min(255, Math.round(rgb[p * 3 + c])));
    rgba[p * 4 + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ data: rgba, width: size, height: size }, quality).data);
}

// A photo takes 150-250 ms to draw; each path is drawn once. Any path ending -photo.jpg is
// served, so the memo is bounded (the catalogue names ten).
const drawn = new Map();

/** The photo for an image path, drawn on first request. */
export function photoFor(path) {
  let bytes = drawn.get(path);
  if (!bytes) {
    if (drawn.size >= 32) drawn.clear();
    bytes = photoJpeg(path);
    drawn.set(path, bytes);
  }
  return bytes;
}
