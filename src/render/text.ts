import { ADVANCES, CODE_POINTS, UNITS_PER_EM } from "./fonts/metrics";

/**
 * Text widths for the SVG and PNG cards, from the advance widths of the font they embed
 * (Inter, render/fonts/). SVG cannot wrap or ellipsize by itself, so every line is measured
 * here and shortened only when it does not fit. The font has no kerning or ligatures, so a
 * width is the sum of its characters' advances: what browsers and resvg draw, to a fraction
 * of a pixel. A character the font lacks (CJK, Arabic, emoji) is drawn by a fallback font
 * or not at all; it is counted generously (1 em, emoji 1.25 em) so it never overflows.
 */

export type Weight = 400 | 600;

const INDEX = new Map(CODE_POINTS.map((cp, i) => [cp, i]));
const ELLIPSIS = "…";

function advance(cp: number, weight: Weight): number {
  const i = INDEX.get(cp);
  if (i !== undefined) return ADVANCES[weight][i] ?? UNITS_PER_EM;
  // Combining marks add no width; emoji and pictographs are wide.
  if (cp >= 0x300 && cp <= 0x36f) return 0;
  return cp >= 0x1f000 ? 1.25 * UNITS_PER_EM : UNITS_PER_EM;
}

/** Width in px of `text` at `px` size and `weight`. */
export function textWidth(text: string, px: number, weight: Weight): number {
  let units = 0;
  for (const ch of text) units += advance(ch.codePointAt(0) ?? 0, weight);
  return (units * px) / UNITS_PER_EM;
}

/**
 * `text` if it fits in `max` px, else its longest prefix (whole code points) that fits with
 * "…" after it; "" when not even the ellipsis fits.
 */
export function fitText(text: string, max: number, px: number, weight: Weight): string {
  if (textWidth(text, px, weight) <= max) return text;
  const room = max - textWidth(ELLIPSIS, px, weight);
  if (room < 0) return "";
  let used = 0;
  let out = "";
  for (const ch of text) {
    const w = (advance(ch.codePointAt(0) ?? 0, weight) * px) / UNITS_PER_EM;
    if (used + w > room) break;
    used += w;
    out += ch;
  }
  return `${out.trimEnd()}${ELLIPSIS}`;
}

/**
 * `text` broken at spaces into at most `lines` lines of `max` px; the last one ellipsized if
 * the text goes on.
 */
export function wrapText(text: string, max: number, px: number, weight: Weight, lines: number): string[] {
  const out: string[] = [];
  let rest = text.trim();
  while (rest && out.length < lines - 1) {
    const words = rest.split(" ");
    let line = "";
    while (words.length && textWidth(line ? `${line} ${words[0]}` : (words[0] ?? ""), px, weight) <= max)
      line = line ? `${line} ${words.shift()}` : (words.shift() ?? "");
    // A single word wider than the line is cut rather than looped on.
    if (!line) break;
    out.push(line);
    rest = words.join(" ");
  }
  if (rest) out.push(fitText(rest, max, px, weight));
  return out;
}
