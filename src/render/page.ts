import { esc } from "./escape";
import type { Card } from "./html-card";
import type { EntityKind } from "./urls";

/**
 * The iframe document around a card: the card's stylesheet, link-preview tags (Open Graph and
 * a Twitter player card) so a card URL pasted into a chat unfurls, the oEmbed discovery link,
 * and one small fixed script that tells the embedding page the card's height.
 */

/** Open Graph type per kind (https://ogp.me/#types). */
const OG_TYPE: Record<EntityKind, string> = {
  track: "music.song",
  album: "music.album",
  playlist: "music.playlist",
  artist: "profile",
};

/** The message a card posts to its parent page: docs/widgets.md documents it. */
export const RESIZE_MESSAGE = "beatpass-embed:resize";

/**
 * Posts the card's height to the parent whenever it changes (ResizeObserver also fires once
 * at the start). Static text, allowed by its hash in the card's CSP: no data reaches it, and
 * the message carries nothing but the height, so any parent may read it.
 */
export const RESIZE_SCRIPT = `(function(){if(parent===window)return;var c=document.body.firstElementChild,last=0;if(!c||!window.ResizeObserver)return;new ResizeObserver(function(){var h=Math.ceil(c.getBoundingClientRect().height);if(h!==last){last=h;parent.postMessage({type:"${RESIZE_MESSAGE}",height:h},"*")}}).observe(c)})();`;

export interface PageLinks {
  kind: EntityKind;
  /** This card's own URL (og:url, twitter:player). */
  self: string;
  /** The oEmbed discovery URL, carrying the card's theme and size. */
  oembed: string;
  /** The PNG preview (og:image) and its size. */
  image: { url: string; width: number; height: number };
  /** The width the card is designed at, for twitter:player:width. */
  width: number;
  /** The matching feed (feeds/links.ts), without its extension, and what it follows. */
  feed?: { url: string; title: string };
}

/** Feed discovery (the RSS Advisory Board's autodiscovery, for Atom and JSON Feed alike). */
function feedLinks(feed: PageLinks["feed"]): string {
  if (!feed) return "";
  const link = (type: string, ext: string, what: string) =>
    `<link rel="alternate" type="${type}" href="${esc(`${feed.url}.${ext}`)}" title="${esc(`${feed.title} on BeatPass (${what})`)}">`;
  return link("application/atom+xml", "atom", "Atom") + link("application/feed+json", "json", "JSON Feed");
}

function previewTags(card: Card, links: PageLinks): string {
  const meta = (attr: "property" | "name", key: string, value: string | number) =>
    `<meta ${attr}="${key}" content="${esc(value)}">`;
  return [
    meta("name", "description", card.description),
    meta("property", "og:site_name", "BeatPass"),
    meta("property", "og:type", OG_TYPE[links.kind]),
    meta("property", "og:title", card.title),
    meta("property", "og:description", card.description),
    meta("property", "og:url", links.self),
    meta("property", "og:image", links.image.url),
    meta("property", "og:image:type", "image/png"),
    meta("property", "og:image:width", links.image.width),
    meta("property", "og:image:height", links.image.height),
    meta("property", "og:image:alt", `${card.title} on BeatPass`),
    meta("name", "twitter:card", "player"),
    meta("name", "twitter:title", card.title),
    meta("name", "twitter:description", card.description),
    meta("name", "twitter:image", links.image.url),
    meta("name", "twitter:player", links.self),
    meta("name", "twitter:player:width", links.width),
    meta("name", "twitter:player:height", card.height),
    `<link rel="alternate" type="application/json+oembed" href="${esc(links.oembed)}" title="${esc(card.title)}">`,
    feedLinks(links.feed),
  ].join("");
}

/**
 * The whole iframe document. `css` is hashed into the CSP by the caller, so it must be exact;
 * error cards pass no links (nothing to preview).
 */
export function htmlPage(card: Card, css: string, size: string, links?: PageLinks): string {
  // No color-scheme meta on purpose: a scheme different from the embedding page makes
  // browsers paint an opaque backdrop behind the iframe; the card paints its own colours.
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="strict-origin-when-cross-origin"><title>${esc(card.title)} · BeatPass</title>${links ? previewTags(card, links) : ""}<style>${css}</style></head><body class="${esc(size)}">${card.body}<script>${RESIZE_SCRIPT}</script></body></html>`;
}
