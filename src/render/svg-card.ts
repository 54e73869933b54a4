import type { Album, Artist, Track, Wave } from "../schemas/entities";
import type { WidgetOptions } from "../schemas/widget";
import { esc, truncate } from "./escape";
import { artistNames, durationLabel, keyLabel, licenceLabel, priceLabel } from "./format";
import { DEFAULT_ACCENT, PALETTES } from "./theme";
import { waveformPath } from "./waveform";

/**
 * SVG cards for <img> tags and READMEs: no script, no external resource (artwork arrives
 * as a data: URI built by upstream/images.ts, or not at all), text escaped for XML and
 * truncated by code points, since an SVG cannot wrap or ellipsize text by itself.
 */

const SIZES = { standard: { w: 480, h: 136, art: 104 }, compact: { w: 400, h: 88, art: 64 } } as const;

export interface SvgCardInput {
  title: string;
  subtitle: string;
  facts: string[];
  price?: string;
  artDataUri?: string;
  peaks?: readonly number[];
}

function style(o: WidgetOptions): string {
  const accent = `#${o.accent ?? DEFAULT_ACCENT}`;
  const rules = (p: (typeof PALETTES)[keyof typeof PALETTES]) =>
    `.bg{fill:${p.bg};stroke:${p.border}}.t{fill:${p.fg}}.m{fill:${p.muted}}.chip{fill:${p.chip}}`;
  const base = `text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}.title{font-size:17px;font-weight:650}.sub{font-size:13px}.f{font-size:12px}.a{fill:${accent}}.pt{fill:#fff;font-size:12px;font-weight:600}`;
  if (o.theme === "auto")
    return `${base}${rules(PALETTES.light)}@media (prefers-color-scheme:dark){${rules(PALETTES.dark)}}`;
  return `${base}${rules(PALETTES[o.theme])}`;
}

/** Renders one SVG card from already-formatted text. */
export function svgCard(input: SvgCardInput, o: WidgetOptions): string {
  const { w, h, art } = SIZES[o.size];
  const pad = (h - art) / 2;
  const hasArt = Boolean(input.artDataUri) && !o.hide.has("artwork");
  const x = hasArt ? pad + art + 14 : 16;
  const textWidth = w - x - 14;
  const maxChars = Math.floor(textWidth / 9);
  const title = truncate(input.title, maxChars);
  const parts = [
    `<rect class="bg" x="0.5" y="0.5" width="${w - 1}" height="${h - 1}" rx="12"/>`,
    hasArt
      ? `<clipPath id="c"><rect x="${pad}" y="${pad}" width="${art}" height="${art}" rx="8"/></clipPath><image href="${esc(input.artDataUri)}" x="${pad}" y="${pad}" width="${art}" height="${art}" clip-path="url(#c)" preserveAspectRatio="xMidYMid slice"/>`
      : "",
    `<text class="t title" x="${x}" y="${pad + 18}">${esc(title)}</text>`,
    input.subtitle
      ? `<text class="m sub" x="${x}" y="${pad + 37}">${esc(truncate(input.subtitle, Math.floor(textWidth / 7.5)))}</text>`
      : "",
  ];
  if (o.size === "standard" || !input.subtitle) {
    const line = truncate(input.facts.join("  ·  "), Math.floor((textWidth - (input.price ? 80 : 0)) / 6.6));
    if (line) parts.push(`<text class="t f" x="${x}" y="${pad + 58}">${esc(line)}</text>`);
    if (input.price) {
      const pw = Math.max(56, [...input.price].length * 7.5 + 16);
      parts.push(
        `<rect class="a" x="${w - 14 - pw}" y="${pad + 45}" width="${pw}" height="20" rx="10"/><text class="pt" x="${w - 14 - pw / 2}" y="${pad + 59}" text-anchor="middle">${esc(input.price)}</text>`,
      );
    }
  }
  if (input.peaks?.length && !o.hide.has("waveform")) {
    const waveH = o.size === "standard" ? 28 : 20;
    const bars = Math.floor(textWidth / 5);
    const d = waveformPath(input.peaks, bars, textWidth, waveH);
    parts.push(`<path class="a" transform="translate(${x} ${h - pad - waveH})" d="${d}"/>`);
  }
  const label = esc([input.title, input.subtitle].filter(Boolean).join(" — "));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${label}"><title>${label}</title><style>${style(o)}</style>${parts.join("")}</svg>`;
}

export function trackSvg(
  track: Track,
  wave: Wave | undefined,
  artDataUri: string | undefined,
  o: WidgetOptions,
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
  );
}

export function artistSvg(artist: Artist, artDataUri: string | undefined, o: WidgetOptions): string {
  const verified = artist.verified && !o.hide.has("badge") ? "✔ verified" : undefined;
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
      subtitle: [verified, genres].filter(Boolean).join("  ·  "),
      facts: top ? [`Top: ${top}`] : [],
      artDataUri,
    },
    o,
  );
}

export function albumSvg(album: Album, artDataUri: string | undefined, o: WidgetOptions): string {
  const by = o.hide.has("artists") ? "" : (album.artists ?? []).map((a) => a.name).join(", ");
  const n = album.tracks?.length;
  const facts = [n ? `${n} track${n === 1 ? "" : "s"}` : undefined, album.release_date ?? undefined].filter(
    (f): f is string => Boolean(f),
  );
  return svgCard({ title: album.name, subtitle: by, facts, artDataUri }, o);
}

/** A failure as an image: readable where an error status would show a broken image. */
export function errorSvg(code: string, message: string, o: WidgetOptions): string {
  return svgCard({ title: "BeatPass card unavailable", subtitle: message, facts: [code] }, o);
}
