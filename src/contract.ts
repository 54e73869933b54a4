import { once } from "./lib/once";
import {
  albumSchema,
  artistRefSchema,
  artistSchema,
  genreSchema,
  lyricSchema,
  pageOf,
  playlistSchema,
  searchResultsSchema,
  singleOf,
  trackSchema,
  trackSummarySchema,
  userSchema,
  waveSchema,
} from "./schemas/entities";
import {
  ALBUM_WITH,
  ARTIST_WITH,
  idParamsSchema,
  listQuerySchema,
  noQuerySchema,
  searchQuerySchema,
  TRACK_WITH,
  tagParamsSchema,
  trackListQuerySchema,
  withQuerySchema,
} from "./schemas/requests";

/**
 * What each /v1 route is, as data: its path, cache name and family, the parameters it
 * validates and the body it answers with. Pure zod, no runtime bindings: the route table
 * (routes/catalog.ts) adds how to load it, the OpenAPI document describes it, and the typed
 * client (client.ts) is built from it without pulling the Worker's runtime types along.
 */

const none = noQuerySchema;
const noParams = noQuerySchema;
const listQuery = listQuerySchema;

/**
 * A route's schemas, built by its first request (lib/once.ts): the routes are registered at
 * start, their schemas only when used.
 */
const schemas = <P, Q, R>(build: () => { params: P; query: Q; response: R }) => once(build);

export const CATALOG_CONTRACT = {
  tracks: {
    path: "/tracks",
    name: "tracks",
    summary: "List tracks, optionally filtered by a search query",
    family: "list",
    schemas: schemas(() => ({
      params: noParams(),
      query: trackListQuerySchema(),
      response: pageOf(trackSummarySchema()),
    })),
  },
  track: {
    path: "/tracks/:id",
    name: "track",
    summary: "One track with BPM, key, price and licensing",
    family: "entity",
    schemas: schemas(() => ({
      params: idParamsSchema(),
      query: withQuerySchema(TRACK_WITH),
      response: singleOf(trackSchema()),
    })),
  },
  trackLyrics: {
    path: "/tracks/:id/lyrics",
    name: "track-lyrics",
    summary: "A track's lyrics",
    family: "media",
    schemas: schemas(() => ({
      params: idParamsSchema(),
      query: none(),
      response: singleOf(lyricSchema()),
    })),
  },
  trackWave: {
    path: "/tracks/:id/wave",
    name: "track-wave",
    summary: "A track's waveform peaks",
    family: "media",
    schemas: schemas(() => ({
      params: idParamsSchema(),
      query: none(),
      response: singleOf(waveSchema()),
    })),
  },
  albums: {
    path: "/albums",
    name: "albums",
    summary: "List albums",
    family: "list",
    schemas: schemas(() => ({
      params: noParams(),
      query: listQuery(),
      response: pageOf(albumSchema()),
    })),
  },
  album: {
    path: "/albums/:id",
    name: "album",
    summary: "One album",
    family: "entity",
    schemas: schemas(() => ({
      params: idParamsSchema(),
      query: withQuerySchema(ALBUM_WITH),
      response: singleOf(albumSchema()),
    })),
  },
  artists: {
    path: "/artists",
    name: "artists",
    summary: "List artists",
    family: "list",
    schemas: schemas(() => ({
      params: noParams(),
      query: listQuery(),
      response: pageOf(artistRefSchema()),
    })),
  },
  artist: {
    path: "/artists/:id",
    name: "artist",
    summary: "One artist with profile, albums, top tracks and similar artists",
    family: "entity",
    schemas: schemas(() => ({
      params: idParamsSchema(),
      query: withQuerySchema(ARTIST_WITH),
      response: singleOf(artistSchema()),
    })),
  },
  artistTracks: {
    path: "/artists/:id/tracks",
    name: "artist-tracks",
    summary: "An artist's tracks",
    family: "list",
    schemas: schemas(() => ({
      params: idParamsSchema(),
      query: listQuery(),
      response: pageOf(trackSummarySchema()),
    })),
  },
  artistAlbums: {
    path: "/artists/:id/albums",
    name: "artist-albums",
    summary: "An artist's albums",
    family: "list",
    schemas: schemas(() => ({
      params: idParamsSchema(),
      query: listQuery(),
      response: pageOf(albumSchema()),
    })),
  },
  playlist: {
    path: "/playlists/:id",
    name: "playlist",
    summary: "One playlist with its first page of tracks",
    family: "entity",
    schemas: schemas(() => ({
      params: idParamsSchema(),
      query: none(),
      response: singleOf(playlistSchema()),
    })),
  },
  playlistTracks: {
    path: "/playlists/:id/tracks",
    name: "playlist-tracks",
    summary: "A playlist's tracks",
    family: "list",
    schemas: schemas(() => ({
      params: idParamsSchema(),
      query: listQuery(),
      response: pageOf(trackSummarySchema()),
    })),
  },
  genres: {
    path: "/genres",
    name: "genres",
    summary: "All genres",
    family: "taxonomy",
    schemas: schemas(() => ({
      params: noParams(),
      query: none(),
      response: pageOf(genreSchema()),
    })),
  },
  tagTracks: {
    path: "/tags/:name/tracks",
    name: "tag-tracks",
    summary: "Tracks with a tag",
    family: "list",
    schemas: schemas(() => ({
      params: tagParamsSchema(),
      query: listQuery(),
      response: pageOf(trackSummarySchema()),
    })),
  },
  tagAlbums: {
    path: "/tags/:name/albums",
    name: "tag-albums",
    summary: "Albums with a tag",
    family: "list",
    schemas: schemas(() => ({
      params: tagParamsSchema(),
      query: listQuery(),
      response: pageOf(albumSchema()),
    })),
  },
  search: {
    path: "/search",
    name: "search",
    summary: "Search tracks, albums, artists, playlists and users",
    family: "search",
    schemas: schemas(() => ({
      params: noParams(),
      query: searchQuerySchema(),
      response: singleOf(searchResultsSchema()),
    })),
  },
  user: {
    path: "/users/:id",
    name: "user",
    summary: "A user's public profile",
    family: "entity",
    schemas: schemas(() => ({
      params: idParamsSchema(),
      query: none(),
      response: singleOf(userSchema()),
    })),
  },
} as const;
