import { esc } from "./escape";
import { CARD_HEIGHTS } from "./sizes";
import type { EntityKind } from "./urls";

/**
 * The demo page at "/": every widget in light and dark, with the three snippets a site
 * owner copies (iframe, <img> SVG, oEmbed URL). Static markup around URLs built from the
 * request's own origin; the ids are ones the local fake BeatPass has.
 */
export const DEMO_CSS = `body{margin:0;font:15px/1.5 system-ui,sans-serif;background:#f8fafc;color:#0f172a}
main{max-width:1040px;margin:0 auto;padding:24px}h1{margin:0 0 4px}h2{margin:32px 0 8px;font-size:18px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:16px}
.pane{padding:12px;border-radius:12px;background:#fff;border:1px solid #e2e8f0}.pane.dark{background:#0b1120;border-color:#1e293b}
iframe{width:100%;border:0;display:block}img{max-width:100%;display:block}
pre{background:#0f172a;color:#e2e8f0;padding:10px;border-radius:8px;overflow:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}
.muted{color:#64748b}code{font-size:13px}.gap{height:12px}`;

interface DemoItem {
  kind: EntityKind;
  id: number;
  label: string;
  svg: boolean;
}

const ITEMS: DemoItem[] = [
  { kind: "track", id: 1, label: "Track", svg: true },
  { kind: "artist", id: 3, label: "Artist", svg: true },
  { kind: "album", id: 1, label: "Album", svg: true },
  { kind: "playlist", id: 1, label: "Playlist", svg: false },
];

export function demoPage(origin: string): string {
  const sections = ITEMS.map((it) => {
    const widget = `${origin}/widget/${it.kind}/${it.id}`;
    const height = CARD_HEIGHTS[it.kind].standard;
    const page = `https://beatpass.ca/${it.kind}/${it.id}`;
    const iframe = `<iframe src="${widget}" width="480" height="${height}" style="border:0;max-width:100%" loading="lazy" title="BeatPass ${it.kind}"></iframe>`;
    const img = `<img src="${widget}.svg" alt="BeatPass ${it.kind}">`;
    const oembed = `${origin}/oembed?url=${encodeURIComponent(page)}&format=json`;
    const panes = (["light", "dark"] as const)
      .map((theme) => {
        const svg = it.svg
          ? `<img src="${esc(`${widget}.svg?theme=${theme}`)}" alt="${esc(`${it.label} card, ${theme}`)}" loading="lazy">`
          : "";
        return `<div class="pane ${theme}"><iframe src="${esc(`${widget}?theme=${theme}`)}" height="${height}" loading="lazy" title="${esc(`${it.label} widget, ${theme}`)}"></iframe>${svg ? `<div class="gap"></div>${svg}` : ""}</div>`;
      })
      .join("");
    const snippets = [
      `<p class="muted">iframe</p><pre><code>${esc(iframe)}</code></pre>`,
      it.svg
        ? `<p class="muted">&lt;img&gt; (SVG, works in GitHub READMEs)</p><pre><code>${esc(img)}</code></pre>`
        : "",
      `<p class="muted">oEmbed</p><pre><code>${esc(oembed)}</code></pre>`,
    ].join("");
    return `<section><h2>${esc(it.label)}</h2><div class="grid">${panes}</div>${snippets}</section>`;
  }).join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>beatpass-edge widgets</title><link rel="icon" href="data:,"><style>${DEMO_CSS}</style></head><body><main><h1>beatpass-edge</h1><p class="muted">BeatPass cards for any website. Options: <code>theme=light|dark|auto</code>, <code>size=compact|standard</code>, <code>accent=7c3aed</code>, <code>hide=price,waveform,…</code>. JSON API under <code>/v1</code>; health at <code>/healthz</code>.</p>${sections}</main></body></html>`;
}
