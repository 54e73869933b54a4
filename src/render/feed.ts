import type { FeedEntry } from "../feeds/entries";
import { esc, plain } from "./escape";

/**
 * Atom 1.0 (RFC 4287) and RSS 2.0 from one feed model. Every string, upstream text and URLs
 * alike, goes through `x` (control characters removed, then escaped as XML text): no CDATA,
 * so a name holding "]]>" is just text. URLs reach here already checked (feeds/entries.ts:
 * BeatPass pages built from ids, artwork on IMAGE_HOSTS, this proxy's own card URLs).
 */

export type FeedFormat = "atom" | "rss" | "json";

export interface FeedDoc {
  /** Stable feed id: this proxy's URL of the feed without its extension. */
  id: string;
  title: string;
  description: string;
  /** The BeatPass page the feed follows. */
  link: string;
  /** The feed's URL in each format. */
  self: Record<FeedFormat, string>;
  icon?: string;
  /** The newest entry's date (or the data's fetch time when the feed is empty), ms. */
  updated: number;
  entries: FeedEntry[];
}

export const FEED_CONTENT_TYPES: Record<FeedFormat, string> = {
  atom: "application/atom+xml; charset=utf-8",
  rss: "application/rss+xml; charset=utf-8",
  json: "application/feed+json; charset=utf-8",
};

const GENERATOR = "beatpass-edge";
const PUBLISHER = { name: "BeatPass", url: "https://beatpass.ca/" };
const MEDIA_NS = "http://search.yahoo.com/mrss/";

const x = (v: string | number | null | undefined) => esc(plain(v));
const iso = (ms: number) => new Date(ms).toISOString();

function atomEntry(e: FeedEntry): string {
  const authors = e.authors.map((a) => `<author><name>${x(a.name)}</name><uri>${x(a.url)}</uri></author>`).join("");
  const thumb = e.image ? `<media:thumbnail url="${x(e.image)}"/>` : "";
  return `<entry><id>${x(e.id)}</id><title type="text">${x(e.title)}</title><link rel="alternate" type="text/html" href="${x(e.url)}"/><link rel="enclosure" type="image/png" href="${x(e.card)}"/><published>${iso(e.date)}</published><updated>${iso(e.date)}</updated>${authors}<summary type="text">${x(e.summary)}</summary>${thumb}</entry>`;
}

export function atomFeed(f: FeedDoc): string {
  const icon = f.icon ? `<icon>${x(f.icon)}</icon>` : "";
  return `<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="${MEDIA_NS}"><id>${x(f.id)}</id><title type="text">${x(f.title)}</title><subtitle type="text">${x(f.description)}</subtitle><updated>${iso(f.updated)}</updated><link rel="self" type="application/atom+xml" href="${x(f.self.atom)}"/><link rel="alternate" type="text/html" href="${x(f.link)}"/><link rel="alternate" type="application/feed+json" href="${x(f.self.json)}"/><author><name>${PUBLISHER.name}</name><uri>${PUBLISHER.url}</uri></author><generator>${GENERATOR}</generator>${icon}${f.entries.map(atomEntry).join("")}</feed>\n`;
}

// The guid is the page URL without its slug, kept as an opaque id (isPermaLink="false"): stable
// when a beat is renamed, and readers link to <link>, the page as BeatPass links it.
function rssItem(e: FeedEntry): string {
  const creator = e.authors.length ? `<dc:creator>${x(e.authors.map((a) => a.name).join(", "))}</dc:creator>` : "";
  const thumb = e.image ? `<media:thumbnail url="${x(e.image)}"/>` : "";
  // RSS asks for the enclosure's length; 0 is the customary "unknown" (the card is drawn on request).
  return `<item><title>${x(e.title)}</title><link>${x(e.url)}</link><guid isPermaLink="false">${x(e.id)}</guid><pubDate>${new Date(e.date).toUTCString()}</pubDate><description>${x(e.summary)}</description>${creator}<enclosure url="${x(e.card)}" type="image/png" length="0"/>${thumb}</item>`;
}

export function rssFeed(f: FeedDoc): string {
  const image = f.icon
    ? `<image><url>${x(f.icon)}</url><title>${x(f.title)}</title><link>${x(f.link)}</link></image>`
    : "";
  return `<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="${MEDIA_NS}"><channel><title>${x(f.title)}</title><link>${x(f.link)}</link><description>${x(f.description)}</description><atom:link rel="self" type="application/rss+xml" href="${x(f.self.rss)}"/><lastBuildDate>${new Date(f.updated).toUTCString()}</lastBuildDate><generator>${GENERATOR}</generator>${image}${f.entries.map(rssItem).join("")}</channel></rss>\n`;
}

/** JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/); JSON.stringify escapes, `plain` drops control characters. */
export function jsonFeed(f: FeedDoc): string {
  return JSON.stringify({
    version: "https://jsonfeed.org/version/1.1",
    title: plain(f.title),
    home_page_url: f.link,
    feed_url: f.self.json,
    description: plain(f.description),
    ...(f.icon ? { icon: f.icon } : {}),
    authors: [PUBLISHER],
    items: f.entries.map((e) => ({
      id: e.id,
      url: e.url,
      title: plain(e.title),
      content_text: plain(e.summary),
      summary: plain(e.summary),
      image: e.image ?? e.card,
      date_published: iso(e.date),
      ...(e.authors.length ? { authors: e.authors.map((a) => ({ name: plain(a.name), url: a.url })) } : {}),
      attachments: [{ url: e.card, mime_type: "image/png", title: plain(`${e.title} on BeatPass`) }],
    })),
  });
}

export const writeFeed: Record<FeedFormat, (f: FeedDoc) => string> = { atom: atomFeed, rss: rssFeed, json: jsonFeed };
