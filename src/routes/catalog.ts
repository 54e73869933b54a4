import { Hono } from "hono";
import type * as z from "zod/mini";
import { getOrLoad, LoadRefused, type LookupOptions, type Served } from "../cache/engine";
import { maybeFlushHotKeys, recordHit } from "../cache/hot";
import { cacheKey, canonicalParams, parseKey } from "../cache/keys";
import type { TtlFamily } from "../cache/policy";
import { cacheTagsForKey, invalidBefore, syncPurges } from "../cache/purge";
import type { TierDeps } from "../cache/tiers";
import { CATALOG_CONTRACT } from "../contract";
import { type AppEnv, type Config, type Env, requireConfig } from "../env";
import { ApiError } from "../errors";
import { readOnly } from "../http/methods";
import { cachedJson } from "../http/respond";
import { problemForRefusal, problemForUpstream } from "../http/upstream-problem";
import { validate } from "../http/validate";
import { SMALL_OBJECT_BYTES, stringBytes } from "../lib/byte-lru";
import { memo } from "../lib/memo-budget";
import type { Client, Trace } from "../lib/trace";
import * as bp from "../upstream/catalog";
import { isUpstreamFailure, type UpstreamContext, UpstreamError } from "../upstream/client";
import { check, KEY_FAILURE_MS } from "../upstream/guard";
import { loadTimeoutMs, tierDeps } from "./deps";

/**
 * The /v1 read routes. Each mirrors one BeatPass catalog read (docs/beatpass-api/REFERENCE.md §4.1) and is
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

/**
 * Validated parameters, for every route, keyed by the route's name and the raw values of only
 * the parameters its schemas read: unknown parameters and padding are dropped by validation
 * anyway, so they make no new entries. Shared by the handlers and `reload`, byte-bounded.
 */
const validated = memo<{ params: unknown; query: unknown; key: string; tags: string[] }>("validated", {
  // The parsed values hold at most the raw text (the memo key) again, in small objects.
  sizeOf: (v, memoKey) => 2 * stringBytes(v.key) + stringBytes(memoKey) + 4 * SMALL_OBJECT_BYTES,
});
/** A longer key is not worth remembering (real ones are far shorter): validate it each time. */
const MAX_VALIDATED_KEY_CHARS = 1024;

/** The parameter names a schema reads: an object's keys, through pipes into transforms. */
export function schemaKeys(schema: z.ZodMiniType): readonly string[] {
  type Def = { type: string; in?: z.ZodMiniType; shape?: Record<string, unknown> };
  let def = schema._zod.def as unknown as Def;
  while (def.type === "pipe" && def.in) def = def.in._zod.def as unknown as Def;
  return def.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

/** `raw` narrowed to `names` (absent ones left out). */
export function pickParams(raw: Record<string, string | undefined>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = raw[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** BeatPass's answers (not failures): cached as negative entries, never hidden behind old data. */
const ANSWER_STATUSES = [403, 404, 410];
const answerStatus = (err: unknown) =>
  err instanceof UpstreamError && err.kind === "status" && ANSWER_STATUSES.includes(err.status ?? 0)
    ? err.status
    : undefined;

/** A copy, even an old one, beats an upstream failure, a refused permit or a spent miss budget. */
function serveStaleOn(err: unknown): boolean {
  if (err instanceof LoadRefused) return true;
  if (err instanceof ApiError) return err.code === "client_miss_budget";
  return err instanceof UpstreamError && answerStatus(err) === undefined;
}

/** What the viewer gets for a failed lookup of `subject` (an ApiError, or `err` itself). */
export function problemFor(err: unknown, subject: string): unknown {
  if (err instanceof UpstreamError) return problemForUpstream(err, subject);
  if (err instanceof LoadRefused) return problemForRefusal(err);
  return err;
}

/** A negative entry is BeatPass's answer for `subject`: the same problem as when it was fetched. */
/** A cached 404/410/403 is the answer: a problem a shared cache may keep, tagged like the data would be. */
function throwIfNegative(served: Served, path: string, subject: string, key: string): void {
  const status = served.entry.status;
  if (!status) return;
  const problem = problemForUpstream(new UpstreamError("status", path, { status }), subject);
  problem.headers["Cache-Tag"] = cacheTagsForKey(key).join(",");
  throw problem;
}

/** Runs a cache lookup and notes in the trace how it was answered and how long it took. */
async function traced(trace: Trace | undefined, lookup: () => Promise<Served>): Promise<Served> {
  const started = Date.now();
  const upstreamBefore = (trace?.upstreamMs ?? 0) + (trace?.budgetMs ?? 0);
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
      const upstream = (trace.upstreamMs ?? 0) + (trace.budgetMs ?? 0) - upstreamBefore;
      trace.cacheMs = (trace.cacheMs ?? 0) + Math.max(0, Date.now() - started - upstream);
    }
  }
}

export { tierDeps } from "./deps";

function route<P extends z.ZodMiniType, Q extends z.ZodMiniType, Path extends string, O>(r: ReadRoute<P, Q, Path, O>) {
  type Input = { params: z.output<P>; query: z.output<Q>; key: string; tags: string[] };
  const paramNames = schemaKeys(r.params);
  const queryNames = schemaKeys(r.query);
  // The names never overlap ("?" is percent-encoded inside canonicalParams).
  const memoKeyOf = (params: Record<string, string>, query: Record<string, string>) => {
    const k = `${r.name}:${canonicalParams(params)}?${canonicalParams(query)}`;
    return k.length <= MAX_VALIDATED_KEY_CHARS ? k : undefined;
  };
  const remembered = (memoKey: string | undefined) =>
    memoKey === undefined ? undefined : (validated.get(memoKey) as Input | undefined);
  /** Validated parameters with their cache key and Cache-Tag, remembered under `memoKey`. */
  const remember = async (memoKey: string | undefined, params: z.output<P>, query: z.output<Q>) => {
    const key = await cacheKey(r.name, { ...(params as object), ...(query as object) });
    // Cache-Tag is a function of the key: worked out once per distinct request, not per hit.
    const input: Input = { params, query, key, tags: cacheTagsForKey(key) };
    if (memoKey !== undefined) validated.set(memoKey, input);
    return input;
  };
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
      negativePolicy: config.policy.negative,
      serveStaleOn,
      answerStatus,
      failureMemoMs: (err) => (isUpstreamFailure(err) ? KEY_FAILURE_MS : undefined),
      precheck: () => {
        const refusal = check(r.family, Date.now());
        if (!refusal.ok)
          throw new UpstreamError(refusal.reason, r.path, { retryAfterSeconds: refusal.retryAfterSeconds });
      },
      invalidBefore: invalidBefore(key),
      load: async (purpose) => {
        const up: UpstreamContext = {
          config,
          family: r.family,
          timeoutMs: loadTimeoutMs(config, purpose),
          onRateLimited: (seconds) => deps.coordinator?.pause(seconds),
          // Only the request waiting on this load reports it in its log line.
          trace: purpose === "foreground" ? trace : undefined,
        };
        return JSON.stringify(await r.load(up, params, query));
      },
    };
  }

  const register = (app: Hono<AppEnv>) => {
    app.get(r.path, async (c) => {
      // Validation is a pure function of the known parameters: input seen before skips zod and key building.
      const rawParams = pickParams(c.req.param() as Record<string, string>, paramNames);
      const rawQuery = pickParams(c.req.query(), queryNames);
      const memoKey = memoKeyOf(rawParams, rawQuery);
      let input = remembered(memoKey);
      if (!input) {
        const params = validate("path", r.params, rawParams);
        const query = validate("query", r.query, rawQuery);
        input = await remember(memoKey, params, query);
      }
      const { params, query } = input;
      const config = requireConfig(c.env);
      const trace = c.get("trace");
      const deps = tierDeps(c.env, c.executionCtx, config, c.get("client"), trace);
      const opts = await lookup(config, c.env, deps, params, query, trace, input.key);
      recordHit(opts.key, c.get("client")?.limitKey);
      maybeFlushHotKeys(c.env.BEATPASS_CACHE, deps.waitUntil, deps.now());
      try {
        const served = await traced(trace, () => getOrLoad(deps, opts));
        throwIfNegative(served, r.path, r.subject(params), opts.key);
        const upstreamStatus = served.error instanceof UpstreamError ? served.error.status : undefined;
        return cachedJson(c, served, opts.policy, input.tags, upstreamStatus);
      } catch (err) {
        throw problemFor(err, r.subject(params));
      }
    });
    readOnly(app, r.path);
  };

  /** Validated input for stored (or raw) parameters, or undefined when they are invalid. */
  const inputOf = async (stored: Record<string, string>): Promise<Input | undefined> => {
    const rawParams = pickParams(stored, paramNames);
    const rawQuery = pickParams(stored, queryNames);
    const memoKey = memoKeyOf(rawParams, rawQuery);
    let input = remembered(memoKey);
    if (!input) {
      const params = r.params.safeParse(rawParams);
      const query = r.query.safeParse(rawQuery);
      if (!params.success || !query.success) return undefined;
      input = await remember(memoKey, params.data, query.data);
    }
    return input;
  };

  /** Rebuilds the lookup for a key's stored parameters (they were validated once already). */
  const reload = async (config: Config, env: Env, deps: TierDeps, stored: Record<string, string>, trace?: Trace) => {
    const input = await inputOf(stored);
    return input && lookup(config, env, deps, input.params, input.query, trace, input.key);
  };

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
    inputOf,
  };
}

const ROUTES = [
  route({
    ...CATALOG_CONTRACT.tracks,
    subject: () => "track list",
    load: (up, _p, q) => bp.listTracks(up, q),
  }),
  route({
    ...CATALOG_CONTRACT.track,
    subject: (p) => `track ${p.id}`,
    load: (up, p, q) => bp.getTrack(up, p.id, q),
  }),
  route({
    ...CATALOG_CONTRACT.trackLyrics,
    subject: (p) => `lyrics for track ${p.id}`,
    load: (up, p) => bp.getTrackLyrics(up, p.id),
  }),
  route({
    ...CATALOG_CONTRACT.trackWave,
    subject: (p) => `waveform for track ${p.id}`,
    load: (up, p) => bp.getTrackWave(up, p.id),
  }),
  route({
    ...CATALOG_CONTRACT.albums,
    subject: () => "album list",
    load: (up, _p, q) => bp.listAlbums(up, q),
  }),
  route({
    ...CATALOG_CONTRACT.album,
    subject: (p) => `album ${p.id}`,
    load: (up, p, q) => bp.getAlbum(up, p.id, q),
  }),
  route({
    ...CATALOG_CONTRACT.artists,
    subject: () => "artist list",
    load: (up, _p, q) => bp.listArtists(up, q),
  }),
  route({
    ...CATALOG_CONTRACT.artist,
    subject: (p) => `artist ${p.id}`,
    load: (up, p, q) => bp.getArtist(up, p.id, q),
  }),
  route({
    ...CATALOG_CONTRACT.artistTracks,
    subject: (p) => `artist ${p.id}`,
    load: (up, p, q) => bp.listArtistTracks(up, p.id, q),
  }),
  route({
    ...CATALOG_CONTRACT.artistAlbums,
    subject: (p) => `artist ${p.id}`,
    load: (up, p, q) => bp.listArtistAlbums(up, p.id, q),
  }),
  route({
    ...CATALOG_CONTRACT.playlist,
    subject: (p) => `playlist ${p.id}`,
    load: (up, p) => bp.getPlaylist(up, p.id),
  }),
  route({
    ...CATALOG_CONTRACT.playlistTracks,
    subject: (p) => `playlist ${p.id}`,
    load: (up, p, q) => bp.listPlaylistTracks(up, p.id, q),
  }),
  route({
    ...CATALOG_CONTRACT.genres,
    subject: () => "genre list",
    load: (up) => bp.listGenres(up),
  }),
  route({
    ...CATALOG_CONTRACT.tagTracks,
    subject: (p) => `tag "${p.name}"`,
    load: (up, p, q) => bp.listTagTracks(up, p.name, q),
  }),
  route({
    ...CATALOG_CONTRACT.tagAlbums,
    subject: (p) => `tag "${p.name}"`,
    load: (up, p, q) => bp.listTagAlbums(up, p.name, q),
  }),
  route({
    ...CATALOG_CONTRACT.search,
    subject: () => "search results",
    load: (up, _p, q) => bp.search(up, q),
  }),
  route({
    ...CATALOG_CONTRACT.user,
    subject: (p) => `user ${p.id}`,
    load: (up, p) => bp.getUser(up, p.id),
  }),
];

/** The public paths under /v1, for the index page and tests. */
export const CATALOG_PATHS: readonly string[] = ROUTES.map((r) => r.path);

/** What the OpenAPI document says about each route, from the same schemas the routes use. */
export const CATALOG_DOCS = ROUTES.map(({ path, name, summary, params, query, response, family }) => ({
  path,
  name,
  family,
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

/** The cache key a request to route `name` with these raw parameters is stored under (undefined: invalid). */
export async function keyForRequest(name: string, raw: Record<string, string>): Promise<string | undefined> {
  return (await ROUTES.find((x) => x.name === name)?.inputOf(raw))?.key;
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
  client?: Client,
): Promise<{ data: unknown; served: Served }> {
  const r = ROUTES.find((x) => x.name === name);
  const opts = r && (await r.reload(config, env, deps, raw, trace));
  if (!opts) throw new Error(`readThrough: no route ${name} for these parameters`);
  recordHit(opts.key, client?.limitKey);
  let served: Served;
  try {
    served = await traced(trace, () => getOrLoad(deps, opts));
  } catch (err) {
    throw problemFor(err, subject);
  }
  throwIfNegative(served, r?.path ?? name, subject, opts.key);
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
