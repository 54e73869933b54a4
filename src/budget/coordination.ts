import { fnv1a } from "../lib/hash";
/**
 * Which coordinator (coordinator.ts) a load asks before it goes to BeatPass, so that one key
 * is loaded once however many isolates want it at the same moment, without one object on
 * every miss's path:
 *
 * - a viewer's miss asks its location's coordinator (`loc:<colo>`), created by the first
 *   isolate there to ask and so placed beside them: a few milliseconds, and one load per key
 *   per location (a key cold in two places at once may be loaded twice: each charged to the
 *   budget like any load);
 * - a background refresh or refresh-ahead asks the key's shard (`key:<n>` of KEY_SHARDS,
 *   deployment-wide): a stale copy is being served meanwhile, so its distance costs nobody a
 *   wait, and a hot key stale in every location is still refreshed once.
 *
 * The keeper tells every coordinator of a 429 pause and of purges (keeper.ts, broadcast).
 */
export const KEY_SHARDS = 16;

export function locationCoordinator(location: string): string {
  return `loc:${location}`;
}

/** FNV-1a of the key: stable across isolates and deploys (the shard count is the one constant). */
export function keyShard(key: string): string {
  return `key:${fnv1a(key) % KEY_SHARDS}`;
}

/** Every coordinator the keeper tells of a pause or purge: these locations' and every shard. */
export function coordinatorNames(locations: string[]): string[] {
  return [...locations.map(locationCoordinator), ...Array.from({ length: KEY_SHARDS }, (_, i) => `key:${i}`)];
}
