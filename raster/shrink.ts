import { createHash } from "node:crypto";
import { Resvg } from "@resvg/resvg-wasm";
import { ByteLru, SMALL_OBJECT_BYTES } from "../src/lib/byte-lru";
import type { Placed } from "./composite";
import { type Canvas, canvas, type ImageTag, number, scan } from "./svg-scan";

/**
 * Covers drawn once at the pixels they cover. A cover reaches the rasteriser as a data: URI
 * (up to 96 KiB: a 600 x 600 JPEG), drawn 104 px square on a card and about 232 px on a link
 * preview, and resvg decodes the whole image and resamples it bicubically on every render: most
 * of a photo preview's CPU (docs/performance.md), a third of a small cover's (enlarged). So the
 * first render of a cover at a given place and scale draws the cover alone (clipped as the card
 * clips it) onto exactly the device pixels its box touches, at the same sub-pixel offset, and
 * keeps those pixels. Every render (another accent or theme) draws the card without the cover
 * and places the kept pixels over it (composite.ts): the pixels of a render from the original,
 * within a level of rounding, for a fraction of the work. Even a copy drawn by resvg, 1:1 by
 * nearest sampling, cost a photo preview 5 to 7 ms a render (decoding it, then resvg's pattern
 * pipeline over every pixel); placing it costs a fraction of a millisecond.
 *
 * Only what can be placed exactly is shrunk: an <image> child of the root <svg> (no group
 * transform between them) that nothing drawn follows (svg-scan.ts), with a data: URI and
 * nothing but a position, a size, preserveAspectRatio and a clip path of plain shapes;
 * anything else in the SVG, or any failure, leaves it as it came.
 */

/** The most device pixels a shrunk cover may have: 4.8 times a link preview's 233 x 234. */
export const MAX_SHRUNK_PIXELS = 512 * 512;
/**
 * The memo's budget: about 76 covers on link previews (218 KB of pixels each) or 380 on cards
 * (43 KB). The rasteriser's isolate has 128 MB of its own, beside resvg's few MB per render.
 */
export const SHRUNK_MEMO_BYTES = 16 * 1024 * 1024;

const IMAGE_ATTRIBUTES = new Set([
  "href",
  "xlink:href",
  "x",
  "y",
  "width",
  "height",
  "preserveAspectRatio",
  "clip-path",
]);

/** Each cover's pixels where they go, by the cover's hash and its box; null keeps the original. */
const memo = new ByteLru<Placed | null>({
  maxBytes: SHRUNK_MEMO_BYTES,
  sizeOf: (copy) => (copy ? SMALL_OBJECT_BYTES + copy.pixels.byteLength : 0),
});

/**
 * Covers drawn from the memo, drawn at their pixels now (`shrunk`, though a small cover is
 * enlarged to them), and drawn as they came (already at their drawn size, or unreadable).
 */
export interface CoverCounts {
  hits: number;
  shrunk: number;
  kept: number;
}
const newCounts = (): CoverCounts => ({ hits: 0, shrunk: 0, kept: 0 });
const totals = newCounts();

/** What the memo did since the isolate started (or the last reset), and what it holds. */
export function shrinkStats() {
  return { ...totals, entries: memo.size, bytes: memo.bytes };
}

/** Forgets every shrunk cover (tests). */
export function resetShrunk(): void {
  memo.clear();
  Object.assign(totals, newCounts());
}

/** The image's own size in pixels, as resvg reads it (its header only), or undefined. */
function intrinsicSize(href: string) {
  const resvg = new Resvg(`<svg xmlns="http://www.w3.org/2000/svg"><image href="${href}"/></svg>`, {
    font: { loadSystemFonts: false },
  });
  try {
    const box = resvg.getBBox();
    if (!box) return undefined;
    try {
      return { width: box.width, height: box.height };
    } finally {
      box.free();
    }
  } finally {
    resvg.free();
  }
}

/** The premultiplied pixels of `svg` (a cover alone), if resvg draws it `width` x `height`. */
function drawAlone(svg: string, width: number, height: number): Uint8Array | undefined {
  const resvg = new Resvg(svg, { fitTo: { mode: "original" }, font: { loadSystemFonts: false } });
  try {
    if (resvg.width !== width || resvg.height !== height) return undefined;
    const image = resvg.render();
    try {
      return image.pixels;
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}

/**
 * The pixels to place for `attrs`'s image and how they were had, or undefined where the image
 * is not a cover this module can place exactly. Pixels null keep the original.
 */
function shrinkImage(
  attrs: Map<string, string>,
  c: Canvas,
  clips: Map<string, string>,
): [copy: Placed | null, how: keyof CoverCounts] | undefined {
  const href = attrs.get("href") ?? attrs.get("xlink:href");
  const [x, y] = [number(attrs.get("x") ?? "0"), number(attrs.get("y") ?? "0")];
  const [w, h] = [number(attrs.get("width")), number(attrs.get("height"))];
  const fit = attrs.get("preserveAspectRatio") ?? "xMidYMid meet";
  const clipId = attrs.get("clip-path")?.match(/^url\(#([^)]+)\)$/)?.[1];
  const clip = clipId === undefined ? "" : clips.get(clipId);
  const plain =
    [...attrs.keys()].every((k) => IMAGE_ATTRIBUTES.has(k)) && !(attrs.has("href") && attrs.has("xlink:href"));
  if (!plain || clip === undefined || !href?.startsWith("data:") || href.includes('"') || !/^[\w ]*$/.test(fit))
    return undefined;
  if (x === undefined || y === undefined || !w || !h || w < 0 || h < 0) return undefined;
  // The device pixels the box touches, whole: drawn there at scale 1, they are the render's.
  const left = Math.floor(x * c.scale + c.tx);
  const top = Math.floor(y * c.scale + c.ty);
  const width = Math.ceil((x + w) * c.scale + c.tx) - left;
  const height = Math.ceil((y + h) * c.scale + c.ty) - top;
  if (width < 1 || height < 1 || width * height > MAX_SHRUNK_PIXELS) return undefined;
  const [ux, uy, uw, uh] = [(left - c.tx) / c.scale, (top - c.ty) / c.scale, width / c.scale, height / c.scale];
  // The cover alone (and its clip path) on a canvas of those pixels, in the same place in user
  // units: the render places it at the same sub-pixel offset and scale as in the card.
  const clipped = clip ? ` clip-path="url(#${clipId})"` : "";
  const frame = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="${ux} ${uy} ${uw} ${uh}" preserveAspectRatio="none">${clip}<image x="${x}" y="${y}" width="${w}" height="${h}" preserveAspectRatio="${fit}"${clipped} href="`;
  const key = `${createHash("sha256").update(href).digest("base64")} ${frame}`;
  const known = memo.get(key);
  if (known !== undefined) return [known, "hits"];
  const source = intrinsicSize(href);
  const [kx, ky] = source ? [(w * c.scale) / source.width, (h * c.scale) / source.height] : [1, 1];
  // A cover drawn larger than it is (a small cover, or a strip cropped square) is drawn once at
  // its pixels too: resvg otherwise resamples it bicubically onto every one of them on every
  // render, 10 ms of a link preview's 33 with a 64 px cover (bench/HISTORY.md, run 30). The
  // copy holds no more pixels than a shrunk photo's. Only a cover already at its drawn size
  // (or one resvg cannot read) is drawn as it came.
  const drawnScale = /\bslice\b|^\s*(?:defer\s+)?none\b/.test(fit) ? Math.max(kx, ky) : Math.min(kx, ky);
  const pixels = drawnScale !== 1 ? drawAlone(`${frame}${href}"/></svg>`, width, height) : undefined;
  const copy = pixels ? { left, top, width, height, pixels } : null;
  memo.set(key, copy);
  return [copy, copy ? "shrunk" : "kept"];
}

/**
 * `svg` without the covers drawn last that it can place exactly, and those covers' pixels, in
 * the order they go over the render (each kept in memory for the next render); or `svg`
 * itself. Also what was done for its covers. A canvas over `maxSide` is left to the render to
 * refuse. Never throws: a cover that cannot be placed is drawn as it came.
 */
export function shrinkImages(svg: string, maxSide: number): { svg: string; covers: CoverCounts; pastes: Placed[] } {
  const covers = newCounts();
  const found = svg.includes("<image") ? scan(svg) : undefined;
  const c = found && canvas(found.root, maxSide);
  if (!found || !c) return { svg, covers, pastes: [] };
  // From the last cover back: one drawn as it came ends the run placed over the render, so
  // nothing resvg draws lands over a cover placed after it.
  const placed: [ImageTag, Placed][] = [];
  for (const image of [...found.images].reverse()) {
    let done: ReturnType<typeof shrinkImage>;
    try {
      done = shrinkImage(image.attrs, c, found.clips);
    } catch {
      // resvg refused the cover alone: the render draws (or refuses) it as before.
    }
    if (done) {
      covers[done[1]]++;
      totals[done[1]]++;
    }
    if (!done?.[0]) break;
    placed.unshift([image, done[0]]);
  }
  if (placed.length === 0) return { svg, covers, pastes: [] };
  let out = "";
  let at = 0;
  for (const [image] of placed) {
    out += svg.slice(at, image.start);
    at = image.end;
  }
  return { svg: out + svg.slice(at), covers, pastes: placed.map(([, copy]) => copy) };
}
