import { logEvent } from "../lib/log";
import { parseKey } from "./keys";

/**
 * Purges without enumerating keys. A purge records "resource X changed at time T" (and
 * "collections changed at T"); a cached entry fetched before the time that applies to it is
 * treated as absent, in every tier, so the next request goes upstream. Nothing is deleted:
 * Cache API entries in other data centres could not be reached anyway.
 *
 * Which purge times apply to a key:
 * - its own resource: `/v1/tracks/7`, its lyrics, waveform and widgets -> "track:7";
 *   artist, album, playlist, user and tag routes likewise;
 * - "*" (any purge) for every key whose body embeds other resources: all lists, search,
 *   genres, and album/artist/playlist details. A purged track thus leaves no list still
 *   showing its old price. Single tracks and users embed only names of others; they refresh
 *   on their own TTL.
 *
 * The record is kept by the budget keeper (src/budget/keeper.ts), which applies each purge in
 * one step, so concurrent purges cannot overwrite each other, and mirrors it to KV
 * (`v1:meta:purges`). An isolate loads the mirror before its first cached answer and
 * refreshes it every PURGE_SYNC_MS in the background (a purge reaches it within that plus
 * KV's propagation, up to a minute); an isolate that asks the keeper for a permit learns of
 * a newer purge from the answer and fetches it at once.
 */
export const PURGE_RECORD_KEY = "v1:meta:purges";
export const PURGE_SYNC_MS = 5_000;
/** Longer than any staleIfError window, so no purged copy can outlive its record. */
export const PURGE_RETENTION_MS = 31 * 86_400_000;
export const PURGE_RECORD_MAX = 2000;
export const ANY = "*";

const ROUTE_RESOURCE: Record<string, { kind: string; param: string } | undefined> = {
  track: { kind: "track", param: "id" },
  "track-lyrics": { kind: "track", param: "id" },
  "track-wave": { kind: "track", param: "id" },
  album: { kind: "album", param: "id" },
  artist: { kind: "artist", param: "id" },
  "artist-tracks": { kind: "artist", param: "id" },
  "artist-albums": { kind: "artist", param: "id" },
  playlist: { kind: "playlist", param: "id" },
  "playlist-tracks": { kind: "playlist", param: "id" },
  user: { kind: "user", param: "id" },
  "tag-tracks": { kind: "tag", param: "name" },
  "tag-albums": { kind: "tag", param: "name" },
};
const EMBEDS_OTHERS = new Set([
  "tracks",
  "albums",
  "artists",
  "search",
  "genres",
  "album",
  "artist",
  "playlist",
  "artist-tracks",
  "artist-albums",
  "playlist-tracks",
  "tag-tracks",
  "tag-albums",
]);

/**
 * Tag of what changes with a deploy, never with BeatPass data (the index, the OpenAPI
 * document, docs, problem types, a 404 for a path that does not exist): no purge names it.
 */
export const META_TAG = "meta";

/** Tag of every collection response (lists, search, items that embed others): any purge clears them. */
export const COLLECTIONS_TAG = "collections";

/**
 * The Cache-Tag values of a response built from `route` with `params`: the resource it is
 * about (`track:7`), its route family (`tracks`, `search`), and `collections` where a purge of
 * anything clears it, mirroring invalidBefore below, so a tag-purging cache in front (the
 * Workers Cache, a CDN) drops exactly what the Worker itself stops serving.
 */
export function cacheTags(route: string, params: Record<string, string>): string[] {
  const tags: string[] = [];
  const res = ROUTE_RESOURCE[route];
  const value = res && params[res.param];
  if (res && value) tags.push(`${res.kind}:${value}`);
  tags.push(route);
  if (EMBEDS_OTHERS.has(route)) tags.push(COLLECTIONS_TAG);
  return tags;
}

/** cacheTags for a cache key (hashed keys name only their family). */
export function cacheTagsForKey(key: string): string[] {
  const parsed = parseKey(key);
  if (parsed) return cacheTags(parsed.route, parsed.params);
  const route = /^[^:]+:([a-z-]+):/.exec(key)?.[1];
  return route ? [route, ...(EMBEDS_OTHERS.has(route) ? [COLLECTIONS_TAG] : [])] : [];
}

let times = new Map<string, number>();
let syncedAt = 0;
let loaded = false;
let latest = 0;

/** The moment before which a cached copy of `key` must not be used (0: none). */
export function invalidBefore(key: string): number {
  // The common case, no purge ever recorded, costs nothing on the hot path.
  if (times.size === 0) return 0;
  const parsed = parseKey(key);
  if (!parsed) return 0;
  let t = EMBEDS_OTHERS.has(parsed.route) ? (times.get(ANY) ?? 0) : 0;
  const res = ROUTE_RESOURCE[parsed.route];
  const value = res && parsed.params[res.param];
  if (res && value) t = Math.max(t, times.get(`${res.kind}:${value}`) ?? 0);
  return t;
}

/** Whether this isolate has read the record once: `syncPurges` then never returns a promise. */
export function purgesLoaded(): boolean {
  return loaded;
}

/**
 * Keeps the in-memory record current: awaited the first time (the promise returned), in the
 * background after (nothing returned, so a request with nothing to wait for stays synchronous).
 */
export function syncPurges(
  kv: KVNamespace,
  waitUntil: (p: Promise<unknown>) => void,
  now: number,
): Promise<void> | undefined {
  if (loaded && now - syncedAt < PURGE_SYNC_MS) return undefined;
  syncedAt = now;
  const load = readRecord(kv).then((record) => {
    applyPurges(record);
    loaded = true;
  });
  if (!loaded) return load;
  waitUntil(load);
  return undefined;
}

/** Takes purges (resource -> time) into this isolate's record; older times never win. */
export function applyPurges(record: Record<string, number>): void {
  for (const [r, t] of Object.entries(record)) {
    if (typeof t !== "number") continue;
    if ((times.get(r) ?? 0) < t) times.set(r, t);
    if (t > latest) latest = t;
  }
}

/** The newest purge this isolate knows of (0: none). */
export function latestPurgeAt(): number {
  return latest;
}

async function readRecord(kv: KVNamespace): Promise<Record<string, number>> {
  try {
    return (await kv.get<Record<string, number>>(PURGE_RECORD_KEY, "json")) ?? {};
  } catch (err) {
    logEvent("warn", "purge_record_read_failed", { error: String(err) });
    return {};
  }
}

/** Forgets all purge state (tests). */
export function resetPurges(): void {
  times = new Map();
  syncedAt = 0;
  loaded = false;
  latest = 0;
}
