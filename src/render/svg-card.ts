import type { Album, Artist, Playlist, Track, Wave } from "../schemas/entities";
import type { WidgetOptions } from "../schemas/widget";
import { esc } from "./escape";
import { INTER_400, INTER_600 } from "./fonts/inter";
import { artistNames, dateLabel, durationLabel, keyLabel, licenceLabel, priceLabel, trackCount } from "./format";
import { fitText, textWidth, wrapText } from "./text";
import { colours, PALETTES, type Palette } from "./theme";
import { waveformPath } from "./waveform";

/**
 * SVG cards for <img> tags and READMEs, and the source of the PNG cards: no script, no
 * external resource (artwork arrives as a data: URI built by upstream/images.ts, or not at
 * all), text escaped for XML. The font travels inside the SVG (Inter, ~29 KB) so every viewer
 * sees the text at the width render/text.ts measured; a line is shortened with "…" only when
 * it does not fit.
 */

export const SVG_SIZES = {
  standard: { w: 480, h: 136, art: 104 },
  compact: { w: 400, h: 88, art: 64 },
} as const;

const TYPE = {
  title: { px: 17, weight: 600 },
  sub: { px: 13, weight: 400 },
  facts: { px: 12, weight: 400 },
  price: { px: 12, weight: 600 },
} as const;

const RIGHT = 16;
const BADGE = 14;

export interface SvgCardInput {
  title: string;
  subtitle: string;
  facts: string[];
  price?: string;
  verified?: boolean;
  /** A second muted line under the subtitle, instead of facts (error cards). */
  detail?: string;
  artDataUri?: string;
  peaks?: readonly number[];
}

export interface SvgRender {
  /** Embed the font (SVG for browsers); resvg is given the font directly and needs none. */
  fonts: boolean;
  /** Draw the card centred on a canvas of this size (link previews), instead of alone. */
  canvas?: { width: number; height: number };
}

const FONT_FACES = `@font-face{font-family:Inter;font-weight:400;src:url(data:font/woff2;base64,${INTER_400}) format("woff2")}@font-face{font-family:Inter;font-weight:600;src:url(data:font/woff2;base64,${INTER_600}) format("woff2")}`;

function style(o: WidgetOptions, fonts: boolean): string {
  const rules = (p: Palette) => {
    const c = colours(p, o.accent);
    return `.bg{fill:${c.bg};stroke:${c.border}}.page{fill:${c.chip}}.t{fill:${c.fg}}.m{fill:${c.muted}}.a{fill:${c.accent}}.pt{fill:${c.onAccent}}.v{fill:${c.accentText}}.vc{stroke:${c.bg}}`;
  };
  const base = `text{font-family:Inter,system-ui,sans-serif;font-kerning:none}.title{font-size:${TYPE.title.px}px;font-weight:600}.sub{font-size:${TYPE.sub.px}px}.f{font-size:${TYPE.facts.px}px}.pt{font-size:${TYPE.price.px}px;font-weight:600}`;
  const themed =
    o.theme === "auto"
      ? `${rules(PALETTES.light)}@media (prefers-color-scheme:dark){${rules(PALETTES.dark)}}`
      : rules(PALETTES[o.theme]);
  return `${fonts ? FONT_FACES : ""}${base}${themed}`;
}

/** The verified mark: a check in a disc, in the same colour as the HTML card's. */
const badge = (x: number, y: number) =>
  `<g transform="translate(${x.toFixed(1)} ${y})"><circle class="v" cx="7" cy="7" r="7"/><path class="vc" d="M3.8 7.2l2.2 2.2 4.3-4.5" fill="none" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></g>`;

/**
 * The artwork, rounded by a clip path, drawn last: the rasteriser draws the card without it
 * and places the cover's pixels over the result itself (raster/shrink.ts), which is exact only
 * for an image nothing is drawn over. A clip path costs resvg a mask layer the size of the
 * canvas, but the rasteriser clips the cover once, when it first draws it at a size.
 */
function artwork(href: string, at: number, side: number): string {
  const box = `x="${at}" y="${at}" width="${side}" height="${side}"`;
  return `<clipPath id="art"><rect ${box} rx="8"/></clipPath><image href="${esc(href)}" ${box} preserveAspectRatio="xMidYMid slice" clip-path="url(#art)"/>`;
}

/** Renders one SVG card from already-formatted text. */
export function svgCard(input: SvgCardInput, o: WidgetOptions, r: SvgRender): string {
  const { w, h, art } = SVG_SIZES[o.size];
  const pad = (h - art) / 2;
  const hasArt = Boolean(input.artDataUri) && !o.hide.has("artwork");
  const x = hasArt ? pad + art + 14 : 16;
  const room = w - x - RIGHT;
  const titleRoom = input.verified ? room - BADGE - 6 : room;
  const title = fitText(input.title, titleRoom, TYPE.title.px, TYPE.title.weight);
  const parts = [
    `<rect class="bg" x="0.5" y="0.5" width="${w - 1}" height="${h - 1}" rx="12"/>`,
    `<text class="t title" x="${x}" y="${pad + 18}">${esc(title)}</text>`,
    input.verified ? badge(x + textWidth(title, TYPE.title.px, TYPE.title.weight) + 6, pad + 5) : "",
    input.subtitle
      ? `<text class="m sub" x="${x}" y="${pad + 37}">${esc(fitText(input.subtitle, room, TYPE.sub.px, TYPE.sub.weight))}</text>`
      : "",
  ];
  if (input.detail) {
    parts.push(`<text class="m sub" x="${x}" y="${pad + 55}">${esc(input.detail)}</text>`);
  } else if (o.size === "standard" || !input.subtitle) {
    const y = o.size === "standard" ? pad + 58 : pad + 37;
    let factsRoom = room;
    if (input.price) {
      const pw = Math.ceil(textWidth(input.price, TYPE.price.px, TYPE.price.weight)) + 20;
      factsRoom -= pw + 8;
      parts.push(
        `<rect class="a" x="${w - RIGHT - pw}" y="${y - 14}" width="${pw}" height="20" rx="10"/><text class="pt" x="${w - RIGHT - pw / 2}" y="${y}" text-anchor="middle">${esc(input.price)}</text>`,
      );
    }
    const line = fitText(input.facts.join(" · "), factsRoom, TYPE.facts.px, TYPE.facts.weight);
    if (line) parts.push(`<text class="t f" x="${x}" y="${y}">${esc(line)}</text>`);
  }
  if (input.peaks?.length && !o.hide.has("waveform")) {
    const waveH = o.size === "standard" ? 28 : 20;
    const d = waveformPath(input.peaks, Math.floor(room / 5), room, waveH);
    parts.push(`<path class="a" transform="translate(${x} ${h - pad - waveH})" d="${d}"/>`);
  }
  if (hasArt && input.artDataUri) parts.push(artwork(input.artDataUri, pad, art));
  const label = esc(
    [input.title, input.verified ? "verified" : "", input.subtitle].filter(Boolean).join(input.verified ? ", " : " — "),
  );
  return document(w, h, r, label, style(o, r.fonts), parts.join(""));
}

/**
 * The root element: the card alone, or centred on a canvas (a link preview's 1200 x 630) by
 * widening the viewBox, so nothing is drawn twice and text keeps its measured widths.
 */
function document(w: number, h: number, r: SvgRender, label: string, css: string, body: string): string {
  let root = `width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"`;
  let page = "";
  if (r.canvas) {
    const aspect = r.canvas.width / r.canvas.height;
    const vw = Math.max(w * 1.12, (h * 1.5 * aspect) | 0);
    const vh = vw / aspect;
    const [vx, vy] = [(w - vw) / 2, (h - vh) / 2];
    root = `width="${r.canvas.width}" height="${r.canvas.height}" viewBox="${vx} ${vy} ${vw} ${vh}"`;
    page = `<rect class="page" x="${vx}" y="${vy}" width="${vw}" height="${vh}"/>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" ${root} role="img" aria-label="${label}"><title>${label}</title><style>${css}</style>${page}${body}</svg>`;
}

export function trackSvg(
  track: Track,
  wave: Wave | undefined,
  artDataUri: string | undefined,
  o: WidgetOptions,
  r: SvgRender,
): string {
  const hd = o.hide;
  const facts = [
    !hd.has("bpm") && track.bpm ? `${Math.round(track.bpm)} BPM` : undefined,
    !hd.has("key") ? keyLabel(track.key, track.scale) : undefined,
    !hd.has("duration") ? durationLabel(track) : undefined,
    !hd.has("license") ? licenceLabel(track) : undefined,
  ].filter((f): f is string => Boolean(f));
  return svgCard(
    {
      title: track.name,
      subtitle: hd.has("artists") ? "" : artistNames(track),
      facts,
      price: hd.has("price") ? undefined : priceLabel(track.price, track.currency),
      artDataUri,
      peaks: wave?.peaks,
    },
    o,
    r,
  );
}

export function artistSvg(artist: Artist, artDataUri: string | undefined, o: WidgetOptions, r: SvgRender): string {
  const top = o.hide.has("tracks")
    ? undefined
    : artist.top_tracks
        ?.slice(0, 3)
        .map((t) => t.name)
        .join(", ");
  const genres = (artist.genres ?? []).map((g) => g.display_name ?? g.name).join(" · ");
  return svgCard(
    {
      title: artist.name,
      subtitle: genres,
      verified: Boolean(artist.verified) && !o.hide.has("badge"),
      facts: top ? [`Top: ${top}`] : [],
      artDataUri,
    },
    o,
    r,
  );
}

export function collectionSvg(
  kind: "album" | "playlist",
  item: Album | Playlist,
  artDataUri: string | undefined,
  o: WidgetOptions,
  r: SvgRender,
): string {
  const by = "artists" in item && !o.hide.has("artists") ? (item.artists ?? []).map((a) => a.name).join(", ") : "";
  const when = "release_date" in item ? dateLabel(item.release_date) : undefined;
  const facts = [kind === "playlist" ? "Playlist" : undefined, trackCount(item), when].filter((f): f is string =>
    Boolean(f),
  );
  return svgCard({ title: item.name, subtitle: by, facts, artDataUri }, o, r);
}

/** A failure as an image: readable where an error status would show a broken image. */
export function errorSvg(heading: string, message: string, o: WidgetOptions, r: SvgRender): string {
  const room = SVG_SIZES[o.size].w - 16 - RIGHT;
  const [first = "", second] = wrapText(message, room, TYPE.sub.px, TYPE.sub.weight, 2);
  return svgCard({ title: heading, subtitle: first, detail: second, facts: [] }, o, r);
}
