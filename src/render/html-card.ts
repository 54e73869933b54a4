import type { Album, Artist, Playlist, Track, TrackSummary, Wave } from "../schemas/entities";
import type { WidgetOptions } from "../schemas/widget";
import { esc } from "./escape";
import { artistNames, durationLabel, keyLabel, licenceLabel, priceLabel } from "./format";
import { allowedUrl, beatpassPageUrl, type EntityKind } from "./urls";
import { waveformPath } from "./waveform";

/**
 * HTML cards for iframes: pure functions from domain data to markup. Every upstream string
 * goes through esc(); every URL through allowedUrl() (images) or beatpassPageUrl() (links we
 * build ourselves). Text elements carry dir="auto" so right-to-left names render correctly.
 */

export interface CardContext {
  options: WidgetOptions;
  imageHosts: readonly string[];
}

export interface Card {
  title: string;
  body: string;
}

const MAX_LIST_ITEMS = { compact: 3, standard: 8 } as const;

function artwork(src: string | null | undefined, ctx: CardContext): string {
  if (ctx.options.hide.has("artwork")) return "";
  const url = allowedUrl(src, ctx.imageHosts);
  return url ? `<img class="art" src="${esc(url)}" alt="" width="96" height="96" loading="lazy">` : "";
}

function titleLink(kind: EntityKind, id: number, name: string): string {
  const href = beatpassPageUrl(kind, id, name);
  return `<h1 class="title" dir="auto"><a href="${esc(href)}" target="_blank" rel="noopener noreferrer">${esc(name)}</a></h1>`;
}

function facts(items: (string | false | undefined)[], priceItem?: string): string {
  const lis = items.filter((x): x is string => Boolean(x)).map((x) => `<li>${esc(x)}</li>`);
  if (priceItem) lis.push(`<li class="price">${esc(priceItem)}</li>`);
  return lis.length ? `<ul class="facts">${lis.join("")}</ul>` : "";
}

function trackList(
  tracks: readonly TrackSummary[] | null | undefined,
  ctx: CardContext,
  more: { kind: EntityKind; id: number; name: string },
): string {
  if (!tracks?.length || ctx.options.hide.has("tracks")) return "";
  const max = MAX_LIST_ITEMS[ctx.options.size];
  const items = tracks.slice(0, max).map((t) => {
    const dur = ctx.options.hide.has("duration") ? "" : `<span class="dur">${esc(durationLabel(t) ?? "")}</span>`;
    return `<li><span class="name" dir="auto">${esc(t.name)}</span>${dur}</li>`;
  });
  const rest =
    tracks.length > max
      ? `<p class="more"><a href="${esc(beatpassPageUrl(more.kind, more.id, more.name))}" target="_blank" rel="noopener noreferrer">${tracks.length - max} more on BeatPass</a></p>`
      : "";
  return `<ol class="list">${items.join("")}</ol>${rest}`;
}

/** A track: artwork, title, artists, BPM, key, duration, licence, price, waveform. */
export function trackCard(track: Track, wave: Wave | undefined, ctx: CardContext): Card {
  const h = ctx.options.hide;
  const artists = h.has("artists") ? "" : `<p class="sub" dir="auto">${esc(artistNames(track))}</p>`;
  const list = facts(
    [
      !h.has("bpm") && track.bpm ? `${Math.round(track.bpm)} BPM` : undefined,
      !h.has("key") && keyLabel(track.key, track.scale),
      !h.has("duration") && durationLabel(track),
      !h.has("license") && licenceLabel(track),
    ],
    h.has("price") ? undefined : priceLabel(track.price, track.currency),
  );
  const bars = ctx.options.size === "compact" ? 48 : 72;
  const path = wave && !h.has("waveform") ? waveformPath(wave.peaks, bars, bars * 4, 36) : "";
  const waveSvg = path
    ? `<svg class="wave" viewBox="0 0 ${bars * 4} 36" preserveAspectRatio="none" aria-hidden="true"><path d="${path}"/></svg>`
    : "";
  const body = `<article class="card">${artwork(track.image, ctx)}<div class="meta">${titleLink("track", track.id, track.name)}${artists}${list}${waveSvg}</div></article>`;
  return { title: track.name, body };
}

/** An artist: avatar, name, verified badge, top tracks. */
export function artistCard(artist: Artist, ctx: CardContext): Card {
  const badge =
    artist.verified && !ctx.options.hide.has("badge") ? `<span class="badge" title="Verified">✔ verified</span>` : "";
  const genres = (artist.genres ?? []).map((g) => g.display_name ?? g.name).join(" · ");
  const sub = genres ? `<p class="sub" dir="auto">${esc(genres)}</p>` : "";
  const title = titleLink("artist", artist.id, artist.name).replace("</h1>", `${badge}</h1>`);
  const list = trackList(artist.top_tracks, ctx, { kind: "artist", id: artist.id, name: artist.name });
  return {
    title: artist.name,
    body: `<article class="card">${artwork(artist.image_small, ctx)}<div class="meta">${title}${sub}${list}</div></article>`,
  };
}

/** An album or playlist: cover, name, track list with durations. */
export function collectionCard(kind: "album" | "playlist", item: Album | Playlist, ctx: CardContext): Card {
  const by = "artists" in item && item.artists?.length ? item.artists.map((a) => a.name).join(", ") : undefined;
  const count = item.tracks?.length ? `${item.tracks.length} track${item.tracks.length === 1 ? "" : "s"}` : undefined;
  const sub = [by, count].filter(Boolean).join(" · ");
  const subHtml = sub && !ctx.options.hide.has("artists") ? `<p class="sub" dir="auto">${esc(sub)}</p>` : "";
  const list = trackList(item.tracks, ctx, { kind, id: item.id, name: item.name });
  return {
    title: item.name,
    body: `<article class="card">${artwork(item.image, ctx)}<div class="meta">${titleLink(kind, item.id, item.name)}${subHtml}${list}</div></article>`,
  };
}

/** A failure shown inside the widget: the problem code and a short message. */
export function errorCard(code: string, message: string): Card {
  return {
    title: "BeatPass card unavailable",
    body: `<article class="card error"><div class="meta"><h1 class="title">BeatPass card unavailable</h1><p class="sub">${esc(message)}</p><p class="code">${esc(code)}</p></div></article>`,
  };
}

/** The whole iframe document. `css` is hashed into the CSP by the caller, so it must be exact. */
export function htmlPage(card: Card, css: string, options: WidgetOptions, oembedHref?: string): string {
  const oembed = oembedHref
    ? `<link rel="alternate" type="application/json+oembed" href="${esc(oembedHref)}" title="${esc(card.title)}">`
    : "";
  // No color-scheme meta on purpose: a scheme different from the embedding page makes
  // browsers paint an opaque backdrop behind the iframe; the card paints its own colours.
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="strict-origin-when-cross-origin"><title>${esc(card.title)} · BeatPass</title>${oembed}<style>${css}</style></head><body class="${options.size}">${card.body}</body></html>`;
}
