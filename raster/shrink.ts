import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { Resvg } from "@resvg/resvg-wasm";
import { ByteLru, stringBytes } from "../src/lib/byte-lru";
import { encodePng } from "./encode";

/**
 * Covers drawn once at the pixels they cover. A cover reaches the rasteriser as a data: URI
 * (up to 96 KiB: a 600 x 600 JPEG), drawn 104 px square on a card and about 232 px on a link
 * preview, and resvg decodes the whole image and resamples it bicubically on every render: most
 * of a photo preview's CPU (docs/performance.md), a third of a small cover's (enlarged). So the
 * first render of a cover at a given place and scale draws the cover alone onto exactly the
 * device pixels its box touches, at the same sub-pixel offset, and keeps those pixels as a
 * PNG. Later renders (another accent or theme) place that PNG on the same pixels, drawn 1:1
 * by nearest sampling, which copies them: the pixels of a render from the original, within a
 * level of rounding, for a fraction of the work.
 *
 * Only what can be placed exactly is shrunk: an <image> child of the root <svg> (no group
 * transform between them) with a data: URI and nothing but a position, a size and
 * preserveAspectRatio; anything else in the SVG, or any failure, leaves it as it came.
 */

/** The most device pixels a shrunk cover may have: 4.8 times a link preview's 233 x 234. */
export const MAX_SHRUNK_PIXELS = 512 * 512;
/**
 * The memo's budget as ByteLru counts it (2 bytes per character of base64; V8 keeps these in
 * one): about 64 photo covers on link previews or 300 on cards (the fake's photos; 42 and 210
 * with unfiltered rows). The rasteriser's isolate has 128 MB of its own, beside resvg's few
 * MB per render.
 */
export const SHRUNK_MEMO_BYTES = 16 * 1024 * 1024;
/**
 * zlib's fastest level, rows filtered "up" (encode.ts): a shrunk photo cover packs to 120 KB
 * as a data: URI against 178 unfiltered at the same level, in less time (3.4 ms against 8.4
 * once per cover, Node 24, sampled), and every render that draws it parses that much less
 * (about 1 ms). More covers fit the memo too. Level 6 would save 8 KB more for 8 ms more.
 */
export const SHRUNK_DEFLATE_LEVEL = 1;

/** The element each cover is drawn with, by the cover's hash and its box; "" keeps the original. */
const memo = new ByteLru<string>({ maxBytes: SHRUNK_MEMO_BYTES, sizeOf: (value) => stringBytes(value) });

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

// A start or end tag (attribute values may hold ">"), or the start of a comment, CDATA,
// doctype or processing instruction, which could hide or redefine anything: then nothing is shrunk.
const TAG = /<(\/?)([A-Za-z][\w.:-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>|<[!?]/g;
const ATTRIBUTE = /\s+([A-Za-z][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const IMAGE_ATTRIBUTES = new Set(["href", "xlink:href", "x", "y", "width", "height", "preserveAspectRatio"]);

/** A tag's attributes, or undefined when its text is anything but well-formed attributes. */
function attributes(text: string): Map<string, string> | undefined {
  if (text.replace(ATTRIBUTE, "").trim() !== "") return undefined;
  const found = new Map<string, string>();
  for (const m of text.matchAll(ATTRIBUTE)) {
    if (!m[1] || found.has(m[1])) return undefined;
    found.set(m[1], m[2] ?? m[3] ?? "");
  }
  return found;
}

const number = (text: string | undefined, unit = ""): number | undefined => {
  const bare = unit && text?.endsWith(unit) ? text.slice(0, -unit.length) : text;
  return bare !== undefined && NUMBER.test(bare) ? Number(bare) : undefined;
};

/** How the root's viewBox maps to device pixels (the default xMidYMid meet), or undefined. */
function canvas(root: Map<string, string>, maxSide: number) {
  const [width, height] = [number(root.get("width"), "px"), number(root.get("height"), "px")];
  if (!width || !height || width > maxSide || height > maxSide || root.has("preserveAspectRatio")) return undefined;
  const box = (root.get("viewBox") ?? `0 0 ${width} ${height}`)
    .trim()
    .split(/[\s,]+/)
    .map((v) => number(v));
  const [vx, vy, vw, vh] = box;
  if (box.length !== 4 || vx === undefined || vy === undefined || !vw || !vh || vw < 0 || vh < 0) return undefined;
  const scale = Math.min(width / vw, height / vh);
  return { scale, tx: (width - vw * scale) / 2 - vx * scale, ty: (height - vh * scale) / 2 - vy * scale };
}

/** The root's attributes and its child <image> tags (self-closing), or undefined. */
function scan(svg: string) {
  let root: Map<string, string> | undefined;
  const images: { start: number; end: number; attrs: Map<string, string> }[] = [];
  let depth = 0;
  for (const m of svg.matchAll(TAG)) {
    if (m[2] === undefined) return undefined;
    if (m[1]) {
      depth--;
      continue;
    }
    const body = m[3] ?? "";
    const selfClosing = body.endsWith("/");
    if (!root) {
      root = m[2] === "svg" ? attributes(body) : undefined;
      if (!root) return undefined;
    } else if (m[2] === "image" && depth === 1 && selfClosing) {
      const attrs = attributes(body.slice(0, -1));
      if (attrs) images.push({ start: m.index, end: m.index + m[0].length, attrs });
    }
    if (!selfClosing) depth++;
  }
  return root && { root, images };
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

/** The pixels of `svg` (a cover alone) as a PNG data: URI, if resvg draws it `width` x `height`. */
async function drawAlone(svg: string, width: number, height: number): Promise<string | undefined> {
  const resvg = new Resvg(svg, { fitTo: { mode: "original" }, font: { loadSystemFonts: false } });
  try {
    if (resvg.width !== width || resvg.height !== height) return undefined;
    const image = resvg.render();
    try {
      const png = await encodePng(image.pixels, width, height, SHRUNK_DEFLATE_LEVEL, "up");
      return `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
    } finally {
      image.free();
    }
  } finally {
    resvg.free();
  }
}

type Canvas = NonNullable<ReturnType<typeof canvas>>;

/**
 * The element to draw `attrs`'s image with and how it was had, or undefined where the image
 * is not a cover this module can place exactly. The element "" keeps the original.
 */
async function shrinkImage(
  attrs: Map<string, string>,
  c: Canvas,
): Promise<[element: string, how: keyof CoverCounts] | undefined> {
  const href = attrs.get("href") ?? attrs.get("xlink:href");
  const [x, y] = [number(attrs.get("x") ?? "0"), number(attrs.get("y") ?? "0")];
  const [w, h] = [number(attrs.get("width")), number(attrs.get("height"))];
  const fit = attrs.get("preserveAspectRatio") ?? "xMidYMid meet";
  const plain =
    [...attrs.keys()].every((k) => IMAGE_ATTRIBUTES.has(k)) && !(attrs.has("href") && attrs.has("xlink:href"));
  if (!plain || !href?.startsWith("data:") || href.includes('"') || !/^[\w ]*$/.test(fit)) return undefined;
  if (x === undefined || y === undefined || !w || !h || w < 0 || h < 0) return undefined;
  // The device pixels the box touches, whole: drawn there at scale 1, nearest sampling is exact.
  const left = Math.floor(x * c.scale + c.tx);
  const top = Math.floor(y * c.scale + c.ty);
  const width = Math.ceil((x + w) * c.scale + c.tx) - left;
  const height = Math.ceil((y + h) * c.scale + c.ty) - top;
  if (width < 1 || height < 1 || width * height > MAX_SHRUNK_PIXELS) return undefined;
  const [ux, uy, uw, uh] = [(left - c.tx) / c.scale, (top - c.ty) / c.scale, width / c.scale, height / c.scale];
  // The cover alone on a canvas of those pixels, in the same place in user units: the render
  // places it at the same sub-pixel offset and scale as in the card.
  const frame = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="${ux} ${uy} ${uw} ${uh}" preserveAspectRatio="none"><image x="${x}" y="${y}" width="${w}" height="${h}" preserveAspectRatio="${fit}" href="`;
  const key = `${createHash("sha256").update(href).digest("base64")} ${frame}`;
  const known = memo.get(key);
  if (known !== undefined) return [known, "hits"];
  let element = "";
  const source = intrinsicSize(href);
  const [kx, ky] = source ? [(w * c.scale) / source.width, (h * c.scale) / source.height] : [1, 1];
  // A cover drawn larger than it is (a small cover, or a strip cropped square) is drawn once at
  // its pixels too: resvg otherwise resamples it bicubically onto every one of them on every
  // render, 10 ms of a link preview's 33 with a 64 px cover (bench/HISTORY.md, run 30). The
  // copy holds no more pixels than a shrunk photo's. Only a cover already at its drawn size
  // (or one resvg cannot read) is drawn as it came.
  const drawnScale = /\bslice\b|^\s*(?:defer\s+)?none\b/.test(fit) ? Math.max(kx, ky) : Math.min(kx, ky);
  const uri = drawnScale !== 1 ? await drawAlone(`${frame}${href}"/></svg>`, width, height) : undefined;
  if (uri)
    element = `<image href="${uri}" x="${ux}" y="${uy}" width="${uw}" height="${uh}" preserveAspectRatio="none" image-rendering="optimizeSpeed"/>`;
  memo.set(key, element);
  return [element, element ? "shrunk" : "kept"];
}

/**
 * `svg` with each cover it can place exactly replaced by the cover shrunk to its drawn pixels
 * (kept in memory for the next render), or `svg` itself, and what was done for its covers. A
 * canvas over `maxSide` is left to the render to refuse. Never throws: a cover that cannot be
 * shrunk is drawn as it came.
 */
export async function shrinkImages(svg: string, maxSide: number): Promise<{ svg: string; covers: CoverCounts }> {
  const covers = newCounts();
  const found = svg.includes("<image") ? scan(svg) : undefined;
  const c = found && canvas(found.root, maxSide);
  if (!found || !c) return { svg, covers };
  let out = "";
  let at = 0;
  for (const image of found.images) {
    let done: Awaited<ReturnType<typeof shrinkImage>>;
    try {
      done = await shrinkImage(image.attrs, c);
    } catch {
      // resvg refused the cover alone: the render draws (or refuses) it as before.
    }
    if (!done) continue;
    const [element, how] = done;
    covers[how]++;
    totals[how]++;
    if (!element) continue;
    out += svg.slice(at, image.start) + element;
    at = image.end;
  }
  return { svg: at === 0 ? svg : out + svg.slice(at), covers };
}
