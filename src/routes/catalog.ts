import { Hono } from "hono";
import type { LookupOptions, Served } from "../cache/engine";
import { parseKey } from "../cache/keys";
import type { TierDeps } from "../cache/tiers";
import { CATALOG_CONTRACT } from "../contract";
import type { AppEnv, Config, Env } from "../env";
import type { Client, Trace } from "../lib/trace";
import * as bp from "../upstream/catalog";
import { route } from "./read-route";
import { type ReadRequest, serveRead } from "./serve-read";

/**
 * The /v1 read routes. Each mirrors one BeatPass catalog read (docs/beatpass-api/REFERENCE.md §4.1) and is
 * a row here: how to validate it, which cache family it belongs to, which upstream call
 * loads it. The handler they share validates first, then asks the cache engine, which
 * answers from a tier or from BeatPass. The scheduled refresh reuses the same rows to
 * reload a key from its parameters.
 */

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

/** The read routes themselves, for the hit lane (routes/hit-lane.ts). */
export const CATALOG_READS = ROUTES;

/** The public paths under /v1, for the index page and tests. */
export const CATALOG_PATHS: readonly string[] = ROUTES.map((r) => r.path);

/** What the OpenAPI document says about each route, from the same schemas the routes use (all built). */
export const catalogDocs = () =>
  ROUTES.map(({ path, name, summary, schemas, family }) => {
    const { params, query, response } = schemas();
    return { path, name, family, summary, params, query, response };
  });

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

/** Validated input of a request to route `name` (undefined: invalid), for `readRequestOf`. */
export async function inputForRequest(name: string, raw: Record<string, string>) {
  return ROUTES.find((x) => x.name === name)?.inputOf(raw);
}

/**
 * What route `name`'s handler hands `serveRead` (routes/serve-read.ts) for validated `input`:
 * the fleet simulation (sim/) answers every request through it, as the handler does.
 */
export function readRequestOf(
  name: string,
  input: NonNullable<Awaited<ReturnType<typeof inputForRequest>>>,
  config: Config,
  env: Env,
  deps: TierDeps,
  trace?: Trace,
  clientKey?: string,
): ReadRequest {
  const r = ROUTES.find((x) => x.name === name);
  if (!r) throw new Error(`no route ${name}`);
  return r.readRequest(config, env, deps, input as never, trace, clientKey);
}

const BY_NAME = new Map(ROUTES.map((r) => [r.name, r]));

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
  const r = BY_NAME.get(name);
  // Parameters seen before are known without an await; serveRead answers a memory hit without one too.
  const input = r && (r.knownInput(raw) ?? (await r.inputOf(raw)));
  if (!r || !input) throw new Error(`readThrough: no route ${name} for these parameters`);
  const req = r.readRequest(config, env, deps, input as never, trace, client?.limitKey);
  // The subject the caller names (a card says "track 7" for its waveform too).
  req.subject = subject;
  const served = await serveRead(req);
  return { data: dataOf(served), served };
}

/**
 * `readThrough`'s answer when it is a copy in this isolate's memory of parameters the route
 * validated before (serve-read.ts's `memoryAnswer`): nothing is counted until `take`.
 * Undefined otherwise, with nothing done.
 */
export function memoryRead(
  name: string,
  raw: Record<string, string>,
  config: Config,
  env: Env,
  deps: TierDeps,
  trace: Trace,
  client: Client,
): { data: unknown; served: Served; take(): void } | undefined {
  const r = BY_NAME.get(name);
  const input = r?.knownInput(raw);
  const answer = r && input && r.memoryRead(config, env, deps, input as never, trace, client.limitKey);
  return answer && { data: dataOf(answer.served), served: answer.served, take: answer.take };
}

/** The `data` member of a served body, parsed once per cache entry. */
function dataOf(served: Served): unknown {
  let data = parsedBodies.get(served.entry);
  if (data === undefined) {
    data = (JSON.parse(served.entry.body) as { data: unknown }).data;
    parsedBodies.set(served.entry, data);
  }
  return data;
}

export function catalogRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  for (const r of ROUTES) r.register(app);
  return app;
}
