import type { Served } from "../cache/engine";
import type { TierDeps } from "../cache/tiers";
import type { Config, Env } from "../env";
import { ApiError } from "../errors";
import type { Client, Trace } from "../lib/trace";
import { BEATPASS_WEB_ORIGIN, beatpassPageUrl } from "../render/urls";
import type { FEED_KINDS } from "../routes/cards";
import { readThrough } from "../routes/catalog";
import type { Album, Artist, Genre, Playlist, TrackSummary } from "../schemas/entities";
import { albumEntry, type Candidate, type EntryContext, MAX_ENTRIES, trackEntry } from "./entries";

/**
 * What each feed reads: the same /v1 reads (and so the same cache entries, budget, negative
 * caching and purges) as the JSON API, first page only, MAX_ENTRIES per page. docs/feeds.md
 * says what that means for "newest", since BeatPass documents no sort order for its lists.
 */

export type FeedKind = (typeof FEED_KINDS)[number];

export interface FeedSource {
  title: string;
  description: string;
  /** The BeatPass page the feed follows. */
  link: string;
  /** The artist's or playlist's picture, on an allowed host (checked by the writer's caller). */
  icon?: string | null;
  /** Every cache entry the feed was built from: its ETag, age and first-seen times follow them. */
  parts: Served[];
  /**
   * Entries and the fetch time of the list each came from (feeds/seen.ts dates undated ones
   * by it). A function: a poll the feed memo answers never builds them (labels, slugs and URL
   * checks for 50 items were most of a hit's CPU).
   */
  candidates: () => { c: Candidate; observed: number }[];
}

export interface SourceContext extends EntryContext {
  config: Config;
  env: Env;
  deps: TierDeps;
  trace?: Trace;
  client?: Client;
}

const PAGE = String(MAX_ENTRIES);

function read(l: SourceContext, name: string, raw: Record<string, string>, subject: string) {
  return readThrough(name, raw, subject, l.config, l.env, l.deps, l.trace, l.client);
}

function tracksOf(r: { data: unknown; served: Served }, l: SourceContext) {
  return (r.data as TrackSummary[]).map((t) => ({ c: trackEntry(t, l), observed: r.served.entry.fetchedAt }));
}

async function artistFeed(id: string, l: SourceContext): Promise<FeedSource> {
  // The artist first: an id BeatPass does not have costs one request (then cached as a 404), not three.
  const artist = await read(l, "artist", { id }, `artist ${id}`);
  const a = artist.data as Artist;
  const [tracks, albums] = await Promise.all([
    read(l, "artist-tracks", { id, per_page: PAGE }, `artist ${id}`),
    // Albums are the lesser half (and token-only at BeatPass): a feed of tracks beats no feed.
    read(l, "artist-albums", { id, per_page: PAGE }, `artist ${id}`).catch((err: unknown) => {
      if (err instanceof ApiError && err.code === "client_miss_budget") throw err;
      return undefined;
    }),
  ]);
  const albumItems = (albums?.data as Album[] | undefined) ?? [];
  return {
    title: `${a.name} on BeatPass`,
    description: `New beats and albums by ${a.name} on BeatPass.`,
    link: beatpassPageUrl("artist", a.id, a.name),
    icon: a.image_small,
    parts: [artist.served, tracks.served, ...(albums ? [albums.served] : [])],
    candidates: () => [
      ...tracksOf(tracks, l),
      ...albumItems.map((al) => ({ c: albumEntry(al, l), observed: albums?.served.entry.fetchedAt ?? 0 })),
    ],
  };
}

async function playlistFeed(id: string, l: SourceContext): Promise<FeedSource> {
  const playlist = await read(l, "playlist", { id }, `playlist ${id}`);
  const p = playlist.data as Playlist;
  const tracks = await read(l, "playlist-tracks", { id, per_page: PAGE }, `playlist ${id}`);
  return {
    title: `${p.name} (BeatPass playlist)`,
    description: `Tracks in the BeatPass playlist ${p.name}.`,
    link: beatpassPageUrl("playlist", p.id, p.name),
    icon: p.image,
    parts: [playlist.served, tracks.served],
    candidates: () => tracksOf(tracks, l),
  };
}

async function genreFeed(name: string, l: SourceContext): Promise<FeedSource> {
  // BeatPass documents no list of a genre's tracks: the genre must be one /genres lists, and
  // its entries are the tracks under the tag of the same name (docs/feeds.md, "Genres").
  const genres = await read(l, "genres", {}, "genre list");
  const genre = (genres.data as Genre[]).find((g) => g.name.toLowerCase() === name.toLowerCase());
  if (!genre) throw new ApiError("not_found", `BeatPass lists no genre "${name}".`);
  const label = genre.display_name || genre.name;
  const tracks = await read(l, "tag-tracks", { name: genre.name, per_page: PAGE }, `genre "${genre.name}"`).catch(
    (err: unknown) => {
      // A genre BeatPass lists but has no tag for yet: a real, empty feed.
      if (err instanceof ApiError && err.code === "not_found") return undefined;
      throw err;
    },
  );
  return {
    title: `${label} on BeatPass`,
    description: `New ${label} beats on BeatPass.`,
    link: `${BEATPASS_WEB_ORIGIN}/`,
    parts: [genres.served, ...(tracks ? [tracks.served] : [])],
    candidates: () => (tracks ? tracksOf(tracks, l) : []),
  };
}

async function tagFeed(name: string, l: SourceContext): Promise<FeedSource> {
  const tracks = await read(l, "tag-tracks", { name, per_page: PAGE }, `tag "${name}"`);
  return {
    title: `#${name} on BeatPass`,
    description: `New beats tagged ${name} on BeatPass.`,
    link: `${BEATPASS_WEB_ORIGIN}/`,
    parts: [tracks.served],
    candidates: () => tracksOf(tracks, l),
  };
}

const SOURCES: Record<FeedKind, (name: string, l: SourceContext) => Promise<FeedSource>> = {
  artist: artistFeed,
  playlist: playlistFeed,
  genre: genreFeed,
  tag: tagFeed,
};

/** Reads what the feed of `kind` `name` is built from (`name` already validated). */
export function loadFeed(kind: FeedKind, name: string, l: SourceContext): Promise<FeedSource> {
  return SOURCES[kind](name, l);
}
