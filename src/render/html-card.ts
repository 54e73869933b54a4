import type { Album, Artist, Playlist, Track, TrackSummary, Wave } from "../schemas/entities";
import type { WidgetOptions } from "../schemas/widget";
import { esc } from "./escape";
import { artistNames, durationLabel, keyLabel, licenceLabel, priceLabel, trackCount } from "./format";
import { cardHeight, METRICS, NO_ROWS, type Rows } from "./layout";
import { allowedUrl, beatpassPageUrl, type EntityKind } from "./urls";
import { waveformPath } from "./waveform";

/**
 * HTML cards for iframes: pure functions from domain data to markup. Every upstream string
 * goes through esc(); every URL through allowedUrl() (images) or beatpassPageUrl() (links we
 * build ourselves). Text elements carry dir="auto" so right-to-left names render correctly.
 * Each card reports the rows it drew, so its height (render/layout.ts) is known exactly
 * without a browser.
 */

export interface CardContext {
  options: WidgetOptions;
  imageHosts: readonly string[];
}

export interface Card {
  title: string;
  /** One sentence for link previews (Open Graph, oEmbed consumers). */
  description: string;
  body: string;
  /** The frame height (px) that fits the card exactly. */
  height: number;
}

function card(ctx: CardContext, rows: Rows, title: string, description: string, inner: string): Card {
  const cls = rows.art ? "card has-art" : "card";
  return {
    title,
    description,
    // <main>: the card is the whole document a frame shows (one landmark, as axe expects).
    body: `<main class="${cls}">${inner}</main>`,
    height: cardHeight(ctx.options.size, rows),
  };
}

function artwork(src: string | null | undefined, ctx: CardContext): string {
  if (ctx.options.hide.has("artwork")) return "";
  const url = allowedUrl(src, ctx.imageHosts);
  const side = METRICS[ctx.options.size].art;
  return url ? `<img class="art" src="${esc(url)}" alt="" width="${side}" height="${side}" loading="lazy">` : "";
}

function titleLink(kind: EntityKind, id: number, name: string, badge = ""): string {
  const href = beatpassPageUrl(kind, id, name);
  return `<h1 class="title" dir="auto"><a href="${esc(href)}" target="_blank" rel="noopener noreferrer">${esc(name)}</a>${badge}</h1>`;
}

const sub = (text: string | undefined) => (text ? `<p class="sub" dir="auto">${esc(text)}</p>` : "");

/** Fact chips on one line; the price comes first so a narrow frame never hides it. */
function facts(items: (string | false | undefined)[], priceItem?: string): string {
  const lis = items.filter((x): x is string => Boolean(x)).map((x) => `<li>${esc(x)}</li>`);
  if (priceItem) lis.unshift(`<li class="price">${esc(priceItem)}</li>`);
  return lis.length ? `<ul class="facts">${lis.join("")}</ul>` : "";
}

/** `total` is how many the list has in all (BeatPass's count), `tracks` the ones at hand. */
function trackList(
  tracks: readonly TrackSummary[] | null | undefined,
  total: number | undefined,
  ctx: CardContext,
  more: { kind: EntityKind; id: number; name: string },
): { html: string; items: number; more: boolean } {
  if (!tracks?.length || ctx.options.hide.has("tracks")) return { html: "", items: 0, more: false };
  const shown = tracks.slice(0, METRICS[ctx.options.size].items);
  const rest = Math.max(total ?? 0, tracks.length) - shown.length;
  const items = shown.map((t) => {
    const dur = ctx.options.hide.has("duration") ? "" : `<span class="dur">${esc(durationLabel(t) ?? "")}</span>`;
    return `<li><span class="name" dir="auto">${esc(t.name)}</span>${dur}</li>`;
  });
  const link =
    rest > 0
      ? `<p class="more"><a href="${esc(beatpassPageUrl(more.kind, more.id, more.name))}" target="_blank" rel="noopener noreferrer">${rest} more on BeatPass</a></p>`
      : "";
  return { html: `<ol class="list">${items.join("")}</ol>${link}`, items: shown.length, more: rest > 0 };
}

/** A track: artwork, title, artists, price, BPM, key, duration, licence, waveform. */
export function trackCard(track: Track, wave: Wave | undefined, ctx: CardContext): Card {
  const h = ctx.options.hide;
  const art = artwork(track.image, ctx);
  const artists = h.has("artists") ? "" : artistNames(track);
  const price = h.has("price") ? undefined : priceLabel(track.price, track.currency);
  const factList = [
    !h.has("bpm") && track.bpm ? `${Math.round(track.bpm)} BPM` : undefined,
    !h.has("key") && keyLabel(track.key, track.scale),
    !h.has("duration") && durationLabel(track),
    !h.has("license") && licenceLabel(track),
  ];
  const chips = facts(factList, price);
  const bars = ctx.options.size === "compact" ? 48 : 72;
  // The waveform's row is kept when the waveform could not be read (a flat line), so a
  // card's height never depends on whether that second read worked.
  const showWave = !h.has("waveform");
  const path = showWave ? waveformPath(wave?.peaks?.length ? wave.peaks : [0], bars, bars * 4, 36) : "";
  const waveSvg = showWave
    ? `<svg class="wave" viewBox="0 0 ${bars * 4} 36" preserveAspectRatio="none" aria-hidden="true"><path d="${path}"/></svg>`
    : "";
  const rows = { ...NO_ROWS, art: Boolean(art), sub: Boolean(artists), facts: Boolean(chips), wave: showWave };
  const by = artistNames(track);
  const description = [by ? `Beat by ${by}` : "Beat", ...factList.filter((f): f is string => Boolean(f)), price]
    .filter(Boolean)
    .join(" · ");
  return card(
    ctx,
    rows,
    track.name,
    `${description}, on BeatPass.`,
    `${art}<div class="meta">${titleLink("track", track.id, track.name)}${sub(artists)}${chips}${waveSvg}</div>`,
  );
}

/** An artist: avatar, name, verified badge, genres, top tracks. */
export function artistCard(artist: Artist, ctx: CardContext): Card {
  const art = artwork(artist.image_small, ctx);
  const badge =
    artist.verified && !ctx.options.hide.has("badge") ? `<span class="badge" title="Verified">✔ verified</span>` : "";
  const genres = (artist.genres ?? []).map((g) => g.display_name ?? g.name).join(" · ");
  const list = trackList(artist.top_tracks, undefined, ctx, { kind: "artist", id: artist.id, name: artist.name });
  const rows = { ...NO_ROWS, art: Boolean(art), sub: Boolean(genres), items: list.items, more: list.more };
  const description = [`${artist.verified ? "Verified producer" : "Producer"} on BeatPass`, genres || undefined]
    .filter(Boolean)
    .join(" · ");
  return card(
    ctx,
    rows,
    artist.name,
    `${description}.`,
    `${art}<div class="meta">${titleLink("artist", artist.id, artist.name, badge)}${sub(genres)}${list.html}</div>`,
  );
}

/** An album or playlist: cover, name, who made it and how many tracks, track list. */
export function collectionCard(kind: "album" | "playlist", item: Album | Playlist, ctx: CardContext): Card {
  const art = artwork(item.image, ctx);
  const by = "artists" in item && item.artists?.length ? item.artists.map((a) => a.name).join(", ") : undefined;
  const count = trackCount(item);
  const line = ctx.options.hide.has("artists") ? "" : [by, count].filter(Boolean).join(" · ");
  const list = trackList(item.tracks, item.tracks_total, ctx, { kind, id: item.id, name: item.name });
  const rows = { ...NO_ROWS, art: Boolean(art), sub: Boolean(line), items: list.items, more: list.more };
  const what = kind === "album" ? (by ? `Album by ${by}` : "Album") : "Playlist";
  return card(
    ctx,
    rows,
    item.name,
    `${[what, count].filter(Boolean).join(" · ")}, on BeatPass.`,
    `${art}<div class="meta">${titleLink(kind, item.id, item.name)}${sub(line)}${list.html}</div>`,
  );
}

/** A failure shown inside the widget, in a listener's words, with a way on to BeatPass. */
export function errorCard(heading: string, message: string, href: string, ctx: CardContext): Card {
  const rows = { ...NO_ROWS, message: true, more: true };
  const link = `<p class="more"><a href="${esc(href)}" target="_blank" rel="noopener noreferrer">Open BeatPass</a></p>`;
  return card(
    ctx,
    rows,
    heading,
    message,
    `<div class="meta"><h1 class="title">${esc(heading)}</h1><p class="msg">${esc(message)}</p>${link}</div>`,
  );
}
