import { Hono } from "hono";
import type { z } from "zod";
import { cacheKey } from "../cache/keys";
import { cached } from "../cache/kv-cache";
import { TTL_SECONDS, type TtlFamily } from "../cache/policy";
import { type AppEnv, type Config, requireConfig } from "../env";
import { readOnly } from "../http/methods";
import { cachedJson } from "../http/respond";
import { problemForUpstream } from "../http/upstream-problem";
import { validate } from "../http/validate";
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
} from "../schemas/requests";
import * as bp from "../upstream/catalog";
import { UpstreamError } from "../upstream/client";

/**
 * The /v1 read routes. Each mirrors one BeatPass catalog read (REFERENCE.md §4.1) and is
 * a row here: how to validate it, how long it stays fresh, which upstream call loads it.
 * The handler they share validates first, then answers from KV or BeatPass.
 */

interface ReadRoute<P extends z.ZodType, Q extends z.ZodType> {
  path: string;
  /** Cache key namespace; change it if the route's output changes shape. */
  name: string;
  family: TtlFamily;
  params: P;
  query: Q;
  /** Names the resource in error details, e.g. "track 7". */
  subject: (p: z.output<P>) => string;
  load: (cfg: Config, p: z.output<P>, q: z.output<Q>) => Promise<unknown>;
}

const none = noQuerySchema;
const noParams = noQuerySchema;
const listQuery = listQuerySchema;

function route<P extends z.ZodType, Q extends z.ZodType>(r: ReadRoute<P, Q>) {
  const register = (app: Hono<AppEnv>) => {
    app.get(r.path, async (c) => {
      const params = validate("path", r.params, c.req.param());
      const query = validate("query", r.query, c.req.query());
      const config = requireConfig(c.env);
      const ttl = TTL_SECONDS[r.family];
      const key = await cacheKey(r.name, { ...(params as object), ...(query as object) });
      const load = async () => {
        try {
          return JSON.stringify(await r.load(config, params, query));
        } catch (err) {
          throw err instanceof UpstreamError ? problemForUpstream(err, r.subject(params)) : err;
        }
      };
      const result = await cached(c.env.BEATPASS_CACHE, key, ttl, load, c.executionCtx);
      return cachedJson(c, result, ttl);
    });
    readOnly(app, r.path);
  };
  return { path: r.path, register };
}

const ROUTES = [
  route({
    path: "/tracks",
    name: "tracks",
    family: "list",
    params: noParams,
    query: trackListQuerySchema,
    subject: () => "track list",
    load: (cfg, _p, q) => bp.listTracks(cfg, q),
  }),
  route({
    path: "/tracks/:id",
    name: "track",
    family: "entity",
    params: idParamsSchema,
    query: withQuerySchema(TRACK_WITH),
    subject: (p) => `track ${p.id}`,
    load: (cfg, p, q) => bp.getTrack(cfg, p.id, q),
  }),
  route({
    path: "/tracks/:id/lyrics",
    name: "track-lyrics",
    family: "media",
    params: idParamsSchema,
    query: none,
    subject: (p) => `lyrics for track ${p.id}`,
    load: (cfg, p) => bp.getTrackLyrics(cfg, p.id),
  }),
  route({
    path: "/tracks/:id/wave",
    name: "track-wave",
    family: "media",
    params: idParamsSchema,
    query: none,
    subject: (p) => `waveform for track ${p.id}`,
    load: (cfg, p) => bp.getTrackWave(cfg, p.id),
  }),
  route({
    path: "/albums",
    name: "albums",
    family: "list",
    params: noParams,
    query: listQuery,
    subject: () => "album list",
    load: (cfg, _p, q) => bp.listAlbums(cfg, q),
  }),
  route({
    path: "/albums/:id",
    name: "album",
    family: "entity",
    params: idParamsSchema,
    query: withQuerySchema(ALBUM_WITH),
    subject: (p) => `album ${p.id}`,
    load: (cfg, p, q) => bp.getAlbum(cfg, p.id, q),
  }),
  route({
    path: "/artists",
    name: "artists",
    family: "list",
    params: noParams,
    query: listQuery,
    subject: () => "artist list",
    load: (cfg, _p, q) => bp.listArtists(cfg, q),
  }),
  route({
    path: "/artists/:id",
    name: "artist",
    family: "entity",
    params: idParamsSchema,
    query: withQuerySchema(ARTIST_WITH),
    subject: (p) => `artist ${p.id}`,
    load: (cfg, p, q) => bp.getArtist(cfg, p.id, q),
  }),
  route({
    path: "/artists/:id/tracks",
    name: "artist-tracks",
    family: "list",
    params: idParamsSchema,
    query: listQuery,
    subject: (p) => `artist ${p.id}`,
    load: (cfg, p, q) => bp.listArtistTracks(cfg, p.id, q),
  }),
  route({
    path: "/artists/:id/albums",
    name: "artist-albums",
    family: "list",
    params: idParamsSchema,
    query: listQuery,
    subject: (p) => `artist ${p.id}`,
    load: (cfg, p, q) => bp.listArtistAlbums(cfg, p.id, q),
  }),
  route({
    path: "/playlists/:id",
    name: "playlist",
    family: "entity",
    params: idParamsSchema,
    query: none,
    subject: (p) => `playlist ${p.id}`,
    load: (cfg, p) => bp.getPlaylist(cfg, p.id),
  }),
  route({
    path: "/playlists/:id/tracks",
    name: "playlist-tracks",
    family: "list",
    params: idParamsSchema,
    query: listQuery,
    subject: (p) => `playlist ${p.id}`,
    load: (cfg, p, q) => bp.listPlaylistTracks(cfg, p.id, q),
  }),
  route({
    path: "/genres",
    name: "genres",
    family: "taxonomy",
    params: noParams,
    query: none,
    subject: () => "genre list",
    load: (cfg) => bp.listGenres(cfg),
  }),
  route({
    path: "/tags/:name/tracks",
    name: "tag-tracks",
    family: "list",
    params: tagParamsSchema,
    query: listQuery,
    subject: (p) => `tag "${p.name}"`,
    load: (cfg, p, q) => bp.listTagTracks(cfg, p.name, q),
  }),
  route({
    path: "/tags/:name/albums",
    name: "tag-albums",
    family: "list",
    params: tagParamsSchema,
    query: listQuery,
    subject: (p) => `tag "${p.name}"`,
    load: (cfg, p, q) => bp.listTagAlbums(cfg, p.name, q),
  }),
  route({
    path: "/search",
    name: "search",
    family: "search",
    params: noParams,
    query: searchQuerySchema,
    subject: () => "search results",
    load: (cfg, _p, q) => bp.search(cfg, q),
  }),
  route({
    path: "/users/:id",
    name: "user",
    family: "entity",
    params: idParamsSchema,
    query: none,
    subject: (p) => `user ${p.id}`,
    load: (cfg, p) => bp.getUser(cfg, p.id),
  }),
];

/** The public paths under /v1, for the index page and tests. */
export const CATALOG_PATHS: readonly string[] = ROUTES.map((r) => r.path);

export function catalogRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  for (const r of ROUTES) r.register(app);
  return app;
}
