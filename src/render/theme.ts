import type { WidgetOptions } from "../schemas/widget";
import { BORDER, LINE, MESSAGE_LINES, METRICS, NARROW_BELOW } from "./layout";

/**
 * Colours and the card's CSS. The accent is a validated 6-digit hex (schemas/widget.ts);
 * no other request or upstream value ever reaches CSS. Whatever accent a site picks, text
 * stays readable (WCAG AA, 4.5:1): the price's text is black or white, whichever contrasts
 * more with the accent, and text drawn in the accent (links, the verified mark) uses the
 * accent darkened or lightened until it contrasts enough with the card's background.
 */
export const DEFAULT_ACCENT = "7c3aed";

export const PALETTES = {
  light: { bg: "#ffffff", fg: "#111827", muted: "#6b7280", border: "#e5e7eb", chip: "#f3f4f6" },
  dark: { bg: "#111827", fg: "#f9fafb", muted: "#9ca3af", border: "#374151", chip: "#1f2937" },
} as const;
export type Palette = (typeof PALETTES)[keyof typeof PALETTES];

const AA = 4.5;

type Rgb = [number, number, number];
const rgbOf = (hex: string): Rgb => {
  const n = Number.parseInt(hex.replace("#", ""), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
};
const hexOf = (rgb: Rgb) => `#${rgb.map((v) => Math.round(v).toString(16).padStart(2, "0")).join("")}`;

/** WCAG 2.x relative luminance. */
function luminance([r, g, b]: Rgb): number {
  const lin = (v: number) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG contrast ratio of two #rrggbb colours (1 to 21). */
export function contrast(a: string, b: string): number {
  const [la, lb] = [luminance(rgbOf(a)), luminance(rgbOf(b))];
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** Text colour on an accent-coloured chip: white or near-black, whichever reads better. */
export function onAccent(accent: string): string {
  return contrast(accent, "#ffffff") >= contrast(accent, "#111827") ? "#ffffff" : "#111827";
}

/**
 * The accent as a text colour on `bg`: the accent itself if it contrasts enough, else mixed
 * step by step towards black (light backgrounds) or white (dark ones) until it does.
 */
export function accentText(accent: string, bg: string): string {
  const target: Rgb = luminance(rgbOf(bg)) > 0.5 ? [0, 0, 0] : [255, 255, 255];
  const from = rgbOf(accent);
  for (let t = 0; t <= 1; t += 0.05) {
    const mixed = hexOf(from.map((v, i) => v + ((target[i] ?? v) - v) * t) as Rgb);
    if (contrast(mixed, bg) >= AA) return mixed;
  }
  return hexOf(target);
}

/** The colours a card draws with, for one palette and accent. */
export function colours(p: Palette, accentHex: string | undefined) {
  const accent = `#${accentHex ?? DEFAULT_ACCENT}`;
  return { ...p, accent, onAccent: onAccent(accent), accentText: accentText(accent, p.bg) };
}

const vars = (p: Palette, accent: string | undefined) => {
  const c = colours(p, accent);
  return `--bg:${c.bg};--fg:${c.fg};--muted:${c.muted};--border:${c.border};--chip:${c.chip};--accent:${c.accent};--on-accent:${c.onAccent};--accent-text:${c.accentText};`;
};

/** Palette variables for a theme; "auto" follows prefers-color-scheme. */
export function themeCss(o: WidgetOptions): string {
  if (o.theme === "auto") {
    return `:root{${vars(PALETTES.light, o.accent)}}@media (prefers-color-scheme:dark){:root{${vars(PALETTES.dark, o.accent)}}}`;
  }
  return `:root{${vars(PALETTES[o.theme], o.accent)}}`;
}

const S = METRICS.standard;
const C = METRICS.compact;

// Fixed row heights (render/layout.ts): text never wraps except an error's two-line message.
export const CARD_CSS = `*{box-sizing:border-box}html,body{margin:0;padding:0;background:transparent}
body{font:14px/${LINE}px system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Arabic",sans-serif;color:var(--fg)}
.card{display:flex;gap:${S.gap}px;align-items:flex-start;padding:${S.pad}px;background:var(--bg);border:${BORDER}px solid var(--border);border-radius:12px;overflow:hidden}
.art{flex:none;width:${S.art}px;height:${S.art}px;border-radius:8px;object-fit:cover;background:var(--chip)}
.meta{flex:1;min-width:0}.has-art .meta{min-height:${S.art}px}
.title,.sub,.facts li,.list li,.more{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.title{margin:0;height:${S.title}px;font-size:16px;line-height:${S.title}px;font-weight:650}
.title a{color:inherit;text-decoration:none}.title a:hover{text-decoration:underline}
.sub{margin:0;height:${S.sub}px;line-height:${S.sub}px;color:var(--muted)}
.badge{color:var(--accent-text);font-size:13px;margin-left:4px}
.facts{display:flex;flex-wrap:wrap;gap:0 6px;height:${S.chipGap + S.chip}px;margin:0;padding:${S.chipGap}px 0 0;list-style:none;overflow:hidden}
.facts li{height:${S.chip}px;max-width:100%;background:var(--chip);border-radius:999px;padding:2px 8px;font-size:12px;line-height:${S.chip - 4}px}
.facts .price{background:var(--accent);color:var(--on-accent);font-weight:600}
.wave{display:block;width:100%;height:${S.wave}px;margin-top:${S.waveGap}px;fill:var(--accent)}
.list{margin:${S.listGap}px 0 0;padding:0;list-style:none;counter-reset:n}
.list li{display:flex;gap:8px;height:${S.row}px;padding:3px 0;border-top:1px solid var(--border);font-size:13px;line-height:${S.row - 7}px}
.list li::before{counter-increment:n;content:counter(n);color:var(--muted);min-width:1.5em}
.list .name{flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis}
.list .dur{color:var(--muted)}
.more{margin:${S.moreGap}px 0 0;height:${S.more}px;font-size:12px;line-height:${S.more}px}.more a{color:var(--accent-text)}
.msg{margin:0;height:${MESSAGE_LINES * LINE}px;overflow:hidden;display:-webkit-box;-webkit-line-clamp:${MESSAGE_LINES};-webkit-box-orient:vertical;color:var(--muted)}
.compact .card{padding:${C.pad}px;gap:${C.gap}px}.compact .art{width:${C.art}px;height:${C.art}px}.compact .has-art .meta{min-height:${C.art}px}
.compact .facts{height:${C.chipGap + C.chip}px;padding-top:${C.chipGap}px}.compact .wave{height:${C.wave}px;margin-top:${C.waveGap}px}
.compact .list{margin-top:${C.listGap}px}.compact .more{margin-top:${C.moreGap}px}
@media (max-width:${NARROW_BELOW - 0.02}px){.card{gap:${S.narrowGap}px}.art{width:${S.narrowArt}px;height:${S.narrowArt}px}.compact .card{gap:${C.narrowGap}px}.compact .art{width:${C.narrowArt}px;height:${C.narrowArt}px}}`;
