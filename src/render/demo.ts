import { esc } from "./escape";
import { DEFAULT_WIDTH } from "./layout";
import { pngSize } from "./png";
import type { EntityKind } from "./urls";

/**
 * The demo page at "/": every card in light and dark, with the snippets a site owner copies
 * (iframe, <img> SVG for READMEs, PNG for e-mail, oEmbed URL). Static markup around URLs built
 * from the request's own origin; the ids are ones the local fake BeatPass has. Heights come
 * from the cards as drawn (routes/demo.ts); the page also loads /embed.js, which sizes any
 * card whose height could not be known.
 */
export const DEMO_CSS = `body{margin:0;font:15px/1.5 system-ui,sans-serif;background:#f8fafc;color:#0f172a}
main{max-width:1040px;margin:0 auto;padding:24px}h1{margin:0 0 4px}h2{margin:32px 0 8px;font-size:18px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:16px}
.pane{padding:12px;border-radius:12px;background:#fff;border:1px solid #e2e8f0}.pane.dark{background:#0b1120;border-color:#1e293b}
iframe{width:100%;border:0;display:block}img{max-width:100%;height:auto;display:block}
pre{background:#0f172a;color:#e2e8f0;padding:10px;border-radius:8px;overflow:auto;font-size:12px;white-space:pre-wrap;word-break:break-all}
.muted{color:#475569}code{font-size:13px}.gap{height:12px}.follow a{color:#1d4ed8}`;

export interface DemoCard {
  kind: EntityKind;
  id: number;
  label: string;
  /** The card's exact height, when its data could be read. */
  height?: number;
  /** The feed that follows it (feeds/links.ts), when its data could be read. */
  feed?: { path: string; title: string };
}

const FEED_FORMATS = [
  ["atom", "Atom", "application/atom+xml"],
  ["rss", "RSS", "application/rss+xml"],
  ["json", "JSON Feed", "application/feed+json"],
] as const;

/** Discovery links for each distinct feed the page's cards follow (Atom and JSON Feed). */
function feedHead(cards: DemoCard[]): string {
  const paths = new Map(cards.flatMap((c) => (c.feed ? [[c.feed.path, c.feed.title] as const] : [])));
  return [...paths]
    .flatMap(([path, title]) =>
      FEED_FORMATS.filter(([ext]) => ext !== "rss").map(
        ([ext, label, type]) =>
          `<link rel="alternate" type="${type}" href="${esc(`${path}.${ext}`)}" title="${esc(`${title} on BeatPass (${label})`)}">`,
      ),
    )
    .join("");
}

/** "Follow Nova Keys: Atom · RSS · JSON Feed", each a link. */
function followLine(feed: DemoCard["feed"]): string {
  if (!feed) return "";
  const links = FEED_FORMATS.map(
    ([ext, label, type]) => `<a href="${esc(`${feed.path}.${ext}`)}" type="${type}">${label}</a>`,
  ).join(" · ");
  return `<p class="follow">Follow ${esc(feed.title)} in a feed reader: ${links}</p>`;
}

export const DEMO_ITEMS: DemoCard[] = [
  { kind: "track", id: 1, label: "Track" },
  { kind: "artist", id: 3, label: "Artist" },
  { kind: "album", id: 1, label: "Album" },
  { kind: "playlist", id: 6, label: "Playlist" },
];

/** Before embed.js has measured a card whose data could not be read. */
const UNKNOWN_HEIGHT = 150;

export function demoPage(origin: string, cards: DemoCard[]): string {
  const png = pngSize("card", "standard");
  const sections = cards
    .map((it) => {
      const widget = `${origin}/widget/${it.kind}/${it.id}`;
      const height = it.height ?? UNKNOWN_HEIGHT;
      const page = `https://beatpass.ca/${it.kind}/${it.id}`;
      const iframe = `<iframe src="${widget}" width="${DEFAULT_WIDTH}" height="${height}" style="border:0;max-width:100%" loading="lazy" title="BeatPass ${it.kind}" data-beatpass-embed></iframe>\n<script async src="${origin}/embed.js"></script>`;
      const img = `<img src="${widget}.svg" alt="BeatPass ${it.kind}">`;
      const mail = `<a href="${page}"><img src="${widget}.png?layout=card" width="${png.width}" height="${png.height}" alt="BeatPass ${it.kind}"></a>`;
      const oembed = `${origin}/oembed?url=${encodeURIComponent(page)}&format=json`;
      const panes = (["light", "dark"] as const)
        .map((theme) => {
          const svg = `<img src="${esc(`${widget}.svg?theme=${theme}`)}" alt="${esc(`${it.label} card, ${theme}`)}" loading="lazy">`;
          return `<div class="pane ${theme}"><iframe src="${esc(`${widget}?theme=${theme}`)}" height="${height}" loading="lazy" title="${esc(`${it.label} widget, ${theme}`)}" data-beatpass-embed></iframe><div class="gap"></div>${svg}</div>`;
        })
        .join("");
      const snippets = [
        `<p class="muted">iframe (embed.js is optional: it keeps the frame at the card's height)</p><pre><code>${esc(iframe)}</code></pre>`,
        `<p class="muted">&lt;img&gt; (SVG, works in GitHub READMEs)</p><pre><code>${esc(img)}</code></pre>`,
        `<p class="muted">E-mail (PNG: mail clients show no SVG)</p><pre><code>${esc(mail)}</code></pre>`,
        `<p class="muted">oEmbed</p><pre><code>${esc(oembed)}</code></pre>`,
      ].join("");
      return `<section><h2>${esc(it.label)}</h2>${followLine(it.feed)}<div class="grid">${panes}</div>${snippets}</section>`;
    })
    .join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>beatpass-edge widgets</title><link rel="icon" href="data:,">${feedHead(cards)}<style>${DEMO_CSS}</style><script async src="/embed.js"></script></head><body><main><h1>beatpass-edge</h1><p class="muted">BeatPass cards for any website. Options: <code>theme=light|dark|auto</code>, <code>size=compact|standard</code>, <code>accent=7c3aed</code>, <code>hide=price,waveform,…</code>. JSON API under <code>/v1</code>; health at <code>/healthz</code>.</p>${sections}</main></body></html>`;
}
