import { Hono } from "hono";
import type * as z from "zod/mini";
import { getOrLoad, type LookupOptions, type Served } from "../cache/engine";
import { maybeFlushHotKeys, recordHit } from "../cache/hot";
import { cacheKey, canonicalParams, parseKey } from "../cache/keys";
import type { TtlFamily } from "../cache/policy";
import { invalidBefore, syncPurges } from "../cache/purge";
import type { TierDeps } from "../cache/tiers";
import { type AppEnv, type Config, type Env, requireConfig } from "../env";
import { readOnly } from "../http/methods";
import { cachedJson } from "../http/respond";
import { problemForUpstream } from "../http/upstream-problem";
import { validate } from "../http/validate";
import type { Trace } from "../lib/trace";
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
} from "../schemas/entities";
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
import { type UpstreamContext, UpstreamError } from "../upstream/client";

/**
 * The /v1 read routes. Each mirrors one BeatPass catalog read (REFERENCE.md §4.1) and is
 * a row here: how to validate it, which cache family it belongs to, which upstream call
 * loads it. The handler they share validates first, then asks the cache engine, which
 * answers from a tier or from BeatPass. The scheduled refresh reuses the same rows to
 * reload a key from its parameters.
 */

interface ReadRoute<P extends z.ZodMiniType, Q extends z.ZodMiniType, Path extends string, O> {
  path: Path;
  /** Cache key namespace; change it if the route's output changes shape. */
  name: string;
  /** One line for the OpenAPI document. */
  summary: string;
  /** The body this route answers with (documented, and checked against responses in tests). */
  response: z.ZodMiniType;
  family: TtlFamily;
  params: P;
  query: Q;
  /** Names the resource in error details, e.g. "track 7". */
  subject: (p: z.output<P>) => string;
  load: (up: UpstreamContext, p: z.output<P>, q: z.output<Q>) => Promise<O>;
}

/** URLs whose validated parameters each route remembers (cleared whole when full). */
const VALIDATED_MEMO_SIZE = 2000;

/** A background load has nobody waiting on it, so it may take longer than a viewer's. */
const BACKGROUND_TIMEOUT_MS = 15_000;

const none = noQuerySchema;
const noParams = noQuerySchema;
const listQuery = listQuerySchema;

/** 404, 410 and 403 are BeatPass's answer, not its failure: never hide them behind old data. */
function serveStaleOn(err: unknown): boolean {
  return err instanceof UpstreamError && !(err.kind === "status" && [403, 404, 410].includes(err.status ?? 0));
}

/** Runs a cache lookup and notes in the trace how it was answered and how long it took. */
async function traced(trace: Trace | undefined, lookup: () => Promise<Served>): Promise<Served> {
  const started = Date.now();
  const upstreamBefore = trace?.upstreamMs ?? 0;
  try {
    const served = await lookup();
    if (trace && trace.cache === undefined) {
      trace.cache =
        served.state === "fresh" ? "hit" : served.state === "miss" && served.collapsed ? "collapsed" : served.state;
      if (served.tier && served.state !== "miss") trace.tier = served.tier;
    }
    return served;
  } finally {
    if (trace) {
      const upstream = (trace.upstreamMs ?? 0) - upstreamBefore;
      trace.cacheMs = (trace.cacheMs ?? 0) + Math.max(0, Date.now() - started - upstream);
    }
  }
}

export function tierDeps(env: Env, ctx: { waitUntil(p: Promise<unknown>): void }, config: Config): TierDeps {
  return { kv: env.BEATPASS_CACHE, waitUntil: (p) => ctx.waitUntil(p), now: () => Date.now(), fast: config.fastTiers };
}

function route<P extends z.ZodMiniType, Q extends z.ZodMiniType, Path extends string, O>(r: ReadRoute<P, Q, Path, O>) {
  const validated = new Map<string, { params: z.output<P>; query: z.output<Q>; key: string }>();
  async function lookup(
    config: Config,
    env: Env,
    deps: TierDeps,
    params: z.output<P>,
    query: z.output<Q>,
    trace?: Trace,
    knownKey?: string,
  ): Promise<LookupOptions> {
    const key = knownKey ?? (await cacheKey(r.name, { ...(params as object), ...(query as object) }));
    await syncPurges(env.BEATPASS_CACHE, deps.waitUntil, deps.now());
    return {
      key,
      policy: config.policy[r.family],
      serveStaleOn,
      invalidBefore: invalidBefore(key),
      load: async (purpose) => {
        const up: UpstreamContext = {
          config,
          family: r.family,
          timeoutMs:
            purpose === "background"
              ? Math.max(config.upstreamTimeoutMs, BACKGROUND_TIMEOUT_MS)
              : config.upstreamTimeoutMs,
          gateStore: env.BEATPASS_CACHE,
          waitUntil: deps.waitUntil,
          // Only the request waiting on this load reports it in its log line.
          trace: purpose === "foreground" ? trace : undefined,
        };
        return JSON.stringify(await r.load(up, params, query));
      },
    };
  }

  const register = (app: Hono<AppEnv>) => {
    app.get(r.path, async (c) => {
      // Validation is a pure function of the URL: a URL seen before skips zod and key building.
      let input = validated.get(c.req.url);
      if (!input) {
        const params = validate("path", r.params, c.req.param());
        const query = validate("query", r.query, c.req.query());
        input = { params, query, key: await cacheKey(r.name, { ...(params as object), ...(query as object) }) };
        if (validated.size >= VALIDATED_MEMO_SIZE) validated.clear();
        validated.set(c.req.url, input);
      }
      const { params, query } = input;
      const config = requireConfig(c.env);
      const deps = tierDeps(c.env, c.executionCtx, config);
      const trace = c.get("trace");
      const opts = await lookup(config, c.env, deps, params, query, trace, input.key);
      recordHit(opts.key);
      maybeFlushHotKeys(c.env.BEATPASS_CACHE, deps.waitUntil, deps.now());
      try {
        const served = await traced(trace, () => getOrLoad(deps, opts));
        const upstreamStatus = served.error instanceof UpstreamError ? served.error.status : undefined;
        return cachedJson(c, served, opts.policy, upstreamStatus);
      } catch (err) {
        throw err instanceof UpstreamError ? problemForUpstream(err, r.subject(params)) : err;
      }
    });
    readOnly(app, r.path);
  };

  /** Rebuilds the lookup for a key's stored parameters (they were validated once already). */
  const reload = async (config: Config, env: Env, deps: TierDeps, stored: Record<string, string>, trace?: Trace) => {
    const memoKey = canonicalParams(stored);
    let input = validated.get(memoKey);
    if (!input) {
      const params = r.params.safeParse(stored);
      const query = r.query.safeParse(stored);
      if (!params.success || !query.success) return undefined;
      const key = await cacheKey(r.name, { ...(params.data as object), ...(query.data as object) });
      input = { params: params.data, query: query.data, key };
      if (validated.size >= VALIDATED_MEMO_SIZE) validated.clear();
      validated.set(memoKey, input);
    }
    return lookup(config, env, deps, input.params, input.query, trace, input.key);
  };

  // `types` exists only for the type checker: it carries each route's shape into AppType.
  const types = undefined as unknown as { path: Path; param: z.input<P>; query: z.input<Q>; output: O };
  return {
    path: r.path,
    name: r.name,
    family: r.family,
    summary: r.summary,
    params: r.params,
    query: r.query,
    response: r.response,
    register,
    reload,
    types,
  };
}

const ROUTES = [
  route({
    path: "/tracks",
    name: "tracks",
    summary: "List tracks, optionally filtered by a search query",
    response: pageOf(trackSummarySchema),
    family: "list",
    params: noParams,
    query: trackListQuerySchema,
    subject: () => "track list",
    load: (up, _p, q) => bp.listTracks(up, q),
  }),
  route({
    path: "/tracks/:id",
    name: "track",
    summary: "One track with BPM, key, price and licensing",
    response: singleOf(trackSchema),
    family: "entity",
    params: idParamsSchema,
    query: withQuerySchema(TRACK_WITH),
    subject: (p) => `track ${p.id}`,
    load: (up, p, q) => bp.getTrack(up, p.id, q),
  }),
  route({
    path: "/tracks/:id/lyrics",
    name: "track-lyrics",
    summary: "A track's lyrics",
    response: singleOf(lyricSchema),
    family: "media",
    params: idParamsSchema,
    query: none,
    subject: (p) => `lyrics for track ${p.id}`,
    load: (up, p) => bp.getTrackLyrics(up, p.id),
  }),
  route({
    path: "/tracks/:id/wave",
    name: "track-wave",
    summary: "A track's waveform peaks",
    response: singleOf(waveSchema),
    family: "media",
    params: idParamsSchema,
    query: none,
    subject: (p) => `waveform for track ${p.id}`,
    load: (up, p) => bp.getTrackWave(up, p.id),
  }),
  route({
    path: "/albums",
    name: "albums",
    summary: "List albums",
    response: pageOf(albumSchema),
    family: "list",
    params: noParams,
    query: listQuery,
    subject: () => "album list",
    load: (up, _p, q) => bp.listAlbums(up, q),
  }),
  route({
    path: "/albums/:id",
    name: "album",
    summary: "One album",
    response: singleOf(albumSchema),
    family: "entity",
    params: idParamsSchema,
    query: withQuerySchema(ALBUM_WITH),
    subject: (p) => `album ${p.id}`,
    load: (up, p, q) => bp.getAlbum(up, p.id, q),
  }),
  route({
    path: "/artists",
    name: "artists",
    summary: "List artists",
    response: pageOf(artistRefSchema),
    family: "list",
    params: noParams,
    query: listQuery,
    subject: () => "artist list",
    load: (up, _p, q) => bp.listArtists(up, q),
  }),
  route({
    path: "/artists/:id",
    name: "artist",
    summary: "One artist with profile, albums, top tracks and similar artists",
    response: singleOf(artistSchema),
    family: "entity",
    params: idParamsSchema,
    query: withQuerySchema(ARTIST_WITH),
    subject: (p) => `artist ${p.id}`,
    load: (up, p, q) => bp.getArtist(up, p.id, q),
  }),
  route({
    path: "/artists/:id/tracks",
    name: "artist-tracks",
    summary: "An artist's tracks",
    response: pageOf(trackSummarySchema),
    family: "list",
    params: idParamsSchema,
    query: listQuery,
    subject: (p) => `artist ${p.id}`,
    load: (up, p, q) => bp.listArtistTracks(up, p.id, q),
  }),
  route({
    path: "/artists/:id/albums",
    name: "artist-albums",
    summary: "An artist's albums",
    response: pageOf(albumSchema),
    family: "list",
    params: idParamsSchema,
    query: listQuery,
    subject: (p) => `artist ${p.id}`,
    load: (up, p, q) => bp.listArtistAlbums(up, p.id, q),
  }),
  route({
    path: "/playlists/:id",
    name: "playlist",
    summary: "One playlist with its first page of tracks",
    response: singleOf(playlistSchema),
    family: "entity",
    params: idParamsSchema,
    query: none,
    subject: (p) => `playlist ${p.id}`,
    load: (up, p) => bp.getPlaylist(up, p.id),
  }),
  route({
    path: "/playlists/:id/tracks",
    name: "playlist-tracks",
    summary: "A playlist's tracks",
    response: pageOf(trackSummarySchema),
    family: "list",
    params: idParamsSchema,
    query: listQuery,
    subject: (p) => `playlist ${p.id}`,
    load: (up, p, q) => bp.listPlaylistTracks(up, p.id, q),
  }),
  route({
    path: "/genres",
    name: "genres",
    summary: "All genres",
    response: pageOf(genreSchema),
    family: "taxonomy",
    params: noParams,
    query: none,
    subject: () => "genre list",
    load: (up) => bp.listGenres(up),
  }),
  route({
    path: "/tags/:name/tracks",
    name: "tag-tracks",
    summary: "Tracks with a tag",
    response: pageOf(trackSummarySchema),
    family: "list",
    params: tagParamsSchema,
    query: listQuery,
    subject: (p) => `tag "${p.name}"`,
    load: (up, p, q) => bp.listTagTracks(up, p.name, q),
  }),
  route({
    path: "/tags/:name/albums",
    name: "tag-albums",
    summary: "Albums with a tag",
    response: pageOf(albumSchema),
    family: "list",
    params: tagParamsSchema,
    query: listQuery,
    subject: (p) => `tag "${p.name}"`,
    load: (up, p, q) => bp.listTagAlbums(up, p.name, q),
  }),
  route({
    path: "/search",
    name: "search",
    summary: "Search tracks, albums, artists, playlists and users",
    response: singleOf(searchResultsSchema),
    family: "search",
    params: noParams,
    query: searchQuerySchema,
    subject: () => "search results",
    load: (up, _p, q) => bp.search(up, q),
  }),
  route({
    path: "/users/:id",
    name: "user",
    summary: "A user's public profile",
    response: singleOf(userSchema),
    family: "entity",
    params: idParamsSchema,
    query: none,
    subject: (p) => `user ${p.id}`,
    load: (up, p) => bp.getUser(up, p.id),
  }),
];

/** The public paths under /v1, for the index page and tests. */
export const CATALOG_PATHS: readonly string[] = ROUTES.map((r) => r.path);

/** What the OpenAPI document says about each route, from the same schemas the routes use. */
export const CATALOG_DOCS = ROUTES.map(({ path, name, summary, params, query, response }) => ({
  path,
  name,
  summary,
  params,
  query,
  response,
}));

/** Finds the route a cache key belongs to and rebuilds its lookup, for the scheduled refresh. */
export async function lookupForKey(
  key: string,
  config: Config,
  env: Env,
  deps: TierDeps,
): Promise<LookupOptions | undefined> {
  const parsed = parseKey(key);
  const r = parsed && ROUTES.find((x) => x.name === parsed.route);
  if (!parsed || !r) return undefined;
  const opts = await r.reload(config, env, deps, parsed.params);
  // Only refresh a key that rebuilds to itself: anything else was not written by this version.
  return opts?.key === key ? opts : undefined;
}

// Parsed bodies, per cache entry object: a hot card re-parses nothing while its entry lives.
const parsedBodies = new WeakMap<object, unknown>();

/**
 * Reads one catalog route's data through the cache engine, the way its JSON route would,
 * for other features (widgets, oEmbed). `raw` holds the route's parameters as strings.
 * Returns the `data` member and what the engine served; upstream failures become ApiErrors.
 */
export async function readThrough(
  name: string,
  raw: Record<string, string>,
  subject: string,
  config: Config,
  env: Env,
  deps: TierDeps,
  trace?: Trace,
): Promise<{ data: unknown; served: Served }> {
  const r = ROUTES.find((x) => x.name === name);
  const opts = r && (await r.reload(config, env, deps, raw, trace));
  if (!opts) throw new Error(`readThrough: no route ${name} for these parameters`);
  recordHit(opts.key);
  let served: Served;
  try {
    served = await traced(trace, () => getOrLoad(deps, opts));
  } catch (err) {
    throw err instanceof UpstreamError ? problemForUpstream(err, subject) : err;
  }
  let data = parsedBodies.get(served.entry);
  if (data === undefined) {
    data = (JSON.parse(served.entry.body) as { data: unknown }).data;
    parsedBodies.set(served.entry, data);
  }
  return { data, served };
}

export function catalogRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  for (const r of ROUTES) r.register(app);
  return app;
}

type RouteTypes = (typeof ROUTES)[number]["types"];

/**
 * The /v1 routes as a Hono schema, so `hc<AppType>()` from hono/client gives TypeScript
 * consumers typed paths, parameters and bodies. Built from the route table above; the app
 * registers routes in a loop, which Hono's own inference cannot follow.
 */
export type CatalogSchema = {
  [R in RouteTypes as `/v1${R["path"]}`]: {
    $get: {
      input: (Record<never, never> extends R["param"] ? unknown : { param: R["param"] }) & { query: R["query"] };
      output: R["output"];
      outputFormat: "json";
      status: 200;
    };
  };
};
