import type { WidgetOptions } from "../schemas/widget";

/**
 * Colours and the card's CSS. The accent is a validated 6-digit hex (schemas/widget.ts);
 * no other request or upstream value ever reaches CSS.
 */
export const DEFAULT_ACCENT = "7c3aed";

export const PALETTES = {
  light: { bg: "#ffffff", fg: "#111827", muted: "#6b7280", border: "#e5e7eb", chip: "#f3f4f6" },
  dark: { bg: "#111827", fg: "#f9fafb", muted: "#9ca3af", border: "#374151", chip: "#1f2937" },
} as const;

const vars = (p: (typeof PALETTES)[keyof typeof PALETTES]) =>
  `--bg:${p.bg};--fg:${p.fg};--muted:${p.muted};--border:${p.border};--chip:${p.chip};`;

/** Palette variables for a theme; "auto" follows prefers-color-scheme. */
export function themeCss(o: WidgetOptions): string {
  const accent = `--accent:#${o.accent ?? DEFAULT_ACCENT};`;
  if (o.theme === "auto") {
    return `:root{${vars(PALETTES.light)}${accent}}@media (prefers-color-scheme:dark){:root{${vars(PALETTES.dark)}}}`;
  }
  return `:root{${vars(PALETTES[o.theme])}${accent}}`;
}

export const CARD_CSS = `*{box-sizing:border-box}html,body{margin:0;padding:0;background:transparent}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Arabic",sans-serif;color:var(--fg)}
.card{display:flex;gap:12px;align-items:flex-start;padding:12px;background:var(--bg);border:1px solid var(--border);border-radius:12px;min-width:0;overflow:hidden}
.art{flex:none;width:96px;height:96px;border-radius:8px;object-fit:cover;background:var(--chip)}
.meta{flex:1;min-width:0}
.title{margin:0;font-size:16px;font-weight:650;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.title a{color:inherit;text-decoration:none}.title a:hover{text-decoration:underline}
.sub{margin:2px 0 0;color:var(--muted);white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.badge{color:var(--accent);font-size:13px;margin-left:4px}
.facts{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0 0;padding:0;list-style:none}
.facts li{background:var(--chip);border-radius:999px;padding:2px 8px;font-size:12px}
.facts .price{background:var(--accent);color:#fff}
.wave{display:block;width:100%;height:36px;margin-top:8px;fill:var(--accent);opacity:.85}
.list{margin:8px 0 0;padding:0;list-style:none;counter-reset:n}
.list li{display:flex;gap:8px;padding:3px 0;border-top:1px solid var(--border);font-size:13px}
.list li::before{counter-increment:n;content:counter(n);color:var(--muted);min-width:1.5em}
.list .name{flex:1;min-width:0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.list .dur{color:var(--muted)}
.more{margin:6px 0 0;font-size:12px}.more a{color:var(--accent)}
.compact .art{width:64px;height:64px}.compact .card{padding:8px}.compact .wave{height:24px}
.error .code{font-family:ui-monospace,monospace;color:var(--muted);font-size:12px}
@media (max-width:360px){.art{width:56px;height:56px}.card{gap:8px;padding:8px}}`;
