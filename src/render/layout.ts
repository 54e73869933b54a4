/**
 * The card's geometry, in CSS pixels, in one place: the stylesheet (theme.ts) is built from
 * these numbers and every advertised frame height (oEmbed, the demo's snippets) is summed from
 * them. Every row has a fixed height whatever its text, font or the frame's width (titles
 * ellipsize, facts that do not fit on one line are hidden, list rows are one line each), so a
 * card's height is a function of which rows it drew and nothing else, and a frame of that
 * height neither clips it nor leaves a gap.
 */

export type CardSize = "standard" | "compact";

interface Metrics {
  /** Padding inside the 1 px border. */
  pad: number;
  /** Artwork square, and a narrower one in frames under NARROW_BELOW px. */
  art: number;
  narrowArt: number;
  /** Between artwork and text. */
  gap: number;
  narrowGap: number;
  title: number;
  sub: number;
  /** One row of fact chips, and the space above it. */
  chip: number;
  chipGap: number;
  wave: number;
  waveGap: number;
  /** A list row (1 px rule, padding and one line) and the space above the list. */
  row: number;
  listGap: number;
  /** The "N more on BeatPass" line and the space above it. */
  more: number;
  moreGap: number;
  /** Track rows a list shows at most. */
  items: number;
}

export const METRICS: Record<CardSize, Metrics> = {
  standard: {
    pad: 12,
    art: 96,
    narrowArt: 56,
    gap: 12,
    narrowGap: 8,
    title: 22,
    sub: 20,
    chip: 22,
    chipGap: 8,
    wave: 36,
    waveGap: 8,
    row: 25,
    listGap: 8,
    more: 18,
    moreGap: 6,
    items: 8,
  },
  compact: {
    pad: 8,
    art: 64,
    narrowArt: 48,
    gap: 10,
    narrowGap: 8,
    title: 22,
    sub: 20,
    chip: 22,
    chipGap: 6,
    wave: 24,
    waveGap: 6,
    row: 25,
    listGap: 6,
    more: 18,
    moreGap: 4,
    items: 3,
  },
};

export const BORDER = 1;
/** Frames narrower than this get the narrow artwork (the card's own media query). */
export const NARROW_BELOW = 360;
/** The narrowest frame a card is laid out for (oEmbed refuses a smaller maxwidth). */
export const MIN_WIDTH = 200;
/** The width cards are designed at; wider frames get this width. */
export const DEFAULT_WIDTH = 480;
/** An error card's message: two lines at most. */
export const MESSAGE_LINES = 2;
export const LINE = 20;

/** Which rows a card drew. */
export interface Rows {
  art: boolean;
  sub: boolean;
  facts: boolean;
  wave: boolean;
  /** Track rows in the list (0: no list). */
  items: number;
  more: boolean;
  /** An error card's two-line message. */
  message: boolean;
}

export const NO_ROWS: Rows = {
  art: false,
  sub: false,
  facts: false,
  wave: false,
  items: 0,
  more: false,
  message: false,
};

/** The card's height in px: the frame height that fits it exactly, at any width from MIN_WIDTH. */
export function cardHeight(size: CardSize, rows: Rows): number {
  const m = METRICS[size];
  const text =
    m.title +
    (rows.sub ? m.sub : 0) +
    (rows.message ? MESSAGE_LINES * LINE : 0) +
    (rows.facts ? m.chipGap + m.chip : 0) +
    (rows.wave ? m.waveGap + m.wave : 0) +
    (rows.items > 0 ? m.listGap + rows.items * m.row : 0) +
    (rows.more ? m.moreGap + m.more : 0);
  // With artwork the text column is at least as tall as the wide artwork, also in a narrow
  // frame where the artwork shrinks, so that the height does not depend on the width.
  const inner = rows.art ? Math.max(m.art, text) : text;
  return 2 * BORDER + 2 * m.pad + inner;
}
