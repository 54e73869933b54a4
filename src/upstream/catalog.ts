import {
  albumSchema,
  artistRefSchema,
  artistSchema,
  genreSchema,
  lyricSchema,
  playlistSchema,
  type SearchResults,
  type Single,
  searchResultsSchema,
  trackSchema,
  trackSummarySchema,
  userSchema,
  waveSchema,
} from "../schemas/entities";
import { type UpstreamContext, UpstreamError } from "./client";
import { asArray, itemsOf, page, parseOrThrow, sameId, single, totalOf } from "./envelope";
import { upstreamGet } from "./get";

/**
 * One function per BeatPass read. Each names its upstream path from fixed segments plus
 * validated values, and returns our public shape. Nothing else in the Worker talks to BeatPass.
 */

export interface ListParams {
  page: number;
  per_page: number;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const req = (p: ListParams) => ({ page: p.page, perPage: p.per_page });

export async function listTracks(up: UpstreamContext, q: ListParams & { query?: string | undefined }) {
  const { body } = await upstreamGet(up, ["tracks"], { page: q.page, per_page: q.per_page, query: q.query });
  return page(body, "tracks", trackSummarySchema(), "/tracks", req(q));
}

export async function getTrack(up: UpstreamContext, id: number, q: { with?: string | undefined }) {
  const { body } = await upstreamGet(up, ["tracks", String(id)], { with: q.with });
  return single(body, "track", trackSchema(), "/tracks/{id}", id);
}

export async function getTrackLyrics(up: UpstreamContext, id: number) {
  const path = "/tracks/{id}/lyrics";
  const { body } = await upstreamGet(up, ["tracks", String(id), "lyrics"]);
  // BeatPass answers 200 with `"lyric": null` for a track without lyrics (2026 spec draft).
  if (obj(body).lyric === null) throw new UpstreamError("status", path, { status: 404 });
  return single(body, "lyric", lyricSchema(), path);
}

export async function getTrackWave(up: UpstreamContext, id: number) {
  const { body } = await upstreamGet(up, ["tracks", String(id), "wave"]);
  // The waveform is the only read with no wrapper key: `{"peaks": [...]}`.
  return { data: parseOrThrow(waveSchema(), body, "/tracks/{id}/wave") };
}

export async function listAlbums(up: UpstreamContext, q: ListParams) {
  const { body } = await upstreamGet(up, ["albums"], { page: q.page, per_page: q.per_page });
  return page(body, "albums", albumSchema(), "/albums", req(q));
}

export async function getAlbum(up: UpstreamContext, id: number, q: { with?: string | undefined }) {
  const { body } = await upstreamGet(up, ["albums", String(id)], { with: q.with });
  const album = obj(obj(body).album);
  // Tracks come as an array, or as a paginator whose total may exceed the page.
  const merged = { ...album, tracks: itemsOf(album.tracks), tracks_total: totalOf(album.tracks) };
  return single({ album: merged }, "album", albumSchema(), "/albums/{id}", id);
}

export async function listArtists(up: UpstreamContext, q: ListParams) {
  const { body } = await upstreamGet(up, ["artists"], { page: q.page, per_page: q.per_page });
  return page(body, "artists", artistRefSchema(), "/artists", req(q));
}

export async function getArtist(up: UpstreamContext, id: number, q: { with?: string | undefined }) {
  const { body } = await upstreamGet(up, ["artists", String(id)], { with: q.with });
  const b = obj(body);
  const artist = obj(b.artist);
  // `albums` is a paginator inside the artist (Feb 2026 spec) or an array beside it (2026 draft).
  const albums = artist.albums ?? b.albums;
  const merged = {
    ...artist,
    albums: albums === undefined ? undefined : itemsOf(albums),
    albums_total: totalOf(albums),
  };
  return { data: sameId(parseOrThrow(artistSchema(), merged, "/artists/{id}"), id, "/artists/{id}") };
}

export async function listArtistTracks(up: UpstreamContext, id: number, q: ListParams) {
  const { body } = await upstreamGet(up, ["artists", String(id), "tracks"], req(q));
  return page(body, "tracks", trackSummarySchema(), "/artists/{id}/tracks", req(q));
}

export async function listArtistAlbums(up: UpstreamContext, id: number, q: ListParams) {
  const { body } = await upstreamGet(up, ["artists", String(id), "albums"], req(q));
  return page(body, "albums", albumSchema(), "/artists/{id}/albums", req(q));
}

export async function getPlaylist(up: UpstreamContext, id: number) {
  const { body } = await upstreamGet(up, ["playlists", String(id)]);
  const b = obj(body);
  const playlist = obj(b.playlist);
  // Tracks and totalDuration sit inside `playlist` (Feb 2026) or next to it (2026 draft).
  const tracks = playlist.tracks ?? b.tracks;
  const merged = {
    ...playlist,
    totalDuration: playlist.totalDuration ?? b.totalDuration,
    tracks: tracks === undefined || tracks === null ? undefined : itemsOf(tracks),
    tracks_total: totalOf(tracks),
  };
  return { data: sameId(parseOrThrow(playlistSchema(), merged, "/playlists/{id}"), id, "/playlists/{id}") };
}

export async function listPlaylistTracks(up: UpstreamContext, id: number, q: ListParams) {
  const { body } = await upstreamGet(up, ["playlists", String(id), "tracks"], req(q));
  return page(body, "tracks", trackSummarySchema(), "/playlists/{id}/tracks", req(q));
}

export async function listGenres(up: UpstreamContext) {
  const { body } = await upstreamGet(up, ["genres"]);
  return page(body, "genres", genreSchema(), "/genres", { page: 1, perPage: 20 });
}

export async function listTagTracks(up: UpstreamContext, name: string, q: ListParams) {
  const { body } = await upstreamGet(up, ["tags", name, "tracks"], req(q));
  return page(body, "tracks", trackSummarySchema(), "/tags/{name}/tracks", req(q));
}

export async function listTagAlbums(up: UpstreamContext, name: string, q: ListParams) {
  const { body } = await upstreamGet(up, ["tags", name, "albums"], req(q));
  return page(body, "albums", albumSchema(), "/tags/{name}/albums", req(q));
}

export async function search(
  up: UpstreamContext,
  q: { query: string; types?: string | undefined; limit: number },
): Promise<Single<SearchResults>> {
  const { body } = await upstreamGet(up, ["search"], { query: q.query, types: q.types, limit: q.limit });
  const raw = obj(body).results;
  // A body without its results object is not "nothing found": storing it as an empty result
  // would replace a good copy on refresh.
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new UpstreamError("schema", "/search", { message: "upstream search body has no results object" });
  }
  const results = raw as Obj;
  const grouped = {
    query: q.query,
    tracks: asArray(results.tracks),
    albums: asArray(results.albums),
    artists: asArray(results.artists),
    playlists: asArray(results.playlists),
    users: asArray(results.users),
  };
  return { data: parseOrThrow(searchResultsSchema(), grouped, "/search") };
}

export async function getUser(up: UpstreamContext, id: number) {
  const { body } = await upstreamGet(up, ["users", String(id)]);
  return single(body, "user", userSchema(), "/users/{id}", id);
}
