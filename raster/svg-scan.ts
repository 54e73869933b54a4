/**
 * What shrink.ts reads of a card's SVG, with no XML parser: the root's size and viewBox, the
 * <image> tags that are its children, and the clip paths they may use. Anything it cannot read
 * for certain (a comment, CDATA, a doctype, malformed attributes) makes the whole SVG unread,
 * and then every cover is drawn as it came.
 */

// A start or end tag (attribute values may hold ">"), or the start of a comment, CDATA,
// doctype or processing instruction, which could hide or redefine anything: then nothing is shrunk.
const TAG = /<(\/?)([A-Za-z][\w.:-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>|<[!?]/g;
const ATTRIBUTE = /\s+([A-Za-z][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Shapes a clip path may hold, with nothing but their geometry (no class, style or transform). */
const CLIP_SHAPES = new Set(["rect", "circle", "ellipse", "path", "polygon"]);
const SHAPE_ATTRIBUTES = new Set(["x", "y", "width", "height", "rx", "ry", "cx", "cy", "r", "d", "points"]);
/** Root children that draw nothing themselves. */
const UNDRAWN = new Set(["clipPath", "title", "desc"]);

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

export const number = (text: string | undefined, unit = ""): number | undefined => {
  const bare = unit && text?.endsWith(unit) ? text.slice(0, -unit.length) : text;
  return bare !== undefined && NUMBER.test(bare) ? Number(bare) : undefined;
};

/** How the root's viewBox maps to device pixels (the default xMidYMid meet), or undefined. */
export function canvas(root: Map<string, string>, maxSide: number) {
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

export type Canvas = NonNullable<ReturnType<typeof canvas>>;

/** A self-closing <image> child of the root, where it is in the SVG's text. */
export interface ImageTag {
  start: number;
  end: number;
  attrs: Map<string, string>;
}

/**
 * The root's attributes; its child <image> tags (self-closing) that nothing drawn follows,
 * but other such images (only those can be drawn over the finished render and look as if
 * resvg drew them); and its child clip paths of plain shapes, each its markup by its id.
 * Undefined when any of the SVG cannot be read.
 */
export function scan(svg: string) {
  let root: Map<string, string> | undefined;
  let images: ImageTag[] = [];
  const clips = new Map<string, string>();
  let clip: { id: string; start: number; plain: boolean } | undefined;
  // A clip path is named by its id alone: one that any other element shares is not read.
  const ids = new Map<string, number>();
  let depth = 0;
  for (const m of svg.matchAll(TAG)) {
    const [name, body = ""] = [m[2], m[3]];
    if (name === undefined) return undefined;
    if (m[1]) {
      depth--;
      if (depth === 1 && clip && name === "clipPath") {
        if (clip.plain) clips.set(clip.id, svg.slice(clip.start, m.index + m[0].length));
        clip = undefined;
      }
      continue;
    }
    const selfClosing = body.endsWith("/");
    const attrs = attributes(selfClosing ? body.slice(0, -1) : body);
    const id = attrs?.get("id");
    if (id !== undefined) ids.set(id, (ids.get(id) ?? 0) + 1);
    if (!root) {
      root = name === "svg" ? attrs : undefined;
      if (!root) return undefined;
    } else if (depth === 1) {
      // A child of the root that draws ends the run of images drawn last.
      if (name === "image" && selfClosing && attrs) images.push({ start: m.index, end: m.index + m[0].length, attrs });
      else if (!UNDRAWN.has(name)) images = [];
      if (name === "clipPath" && !selfClosing && id && attrs?.size === 1) clip = { id, start: m.index, plain: true };
    } else if (clip) {
      const shape =
        CLIP_SHAPES.has(name) && selfClosing && attrs && [...attrs.keys()].every((k) => SHAPE_ATTRIBUTES.has(k));
      if (!shape) clip.plain = false;
    }
    if (!selfClosing) depth++;
  }
  for (const id of clips.keys()) if (ids.get(id) !== 1) clips.delete(id);
  return root && { root, images, clips };
}
