import type { EntityKind } from "../render/urls";

/**
 * The feed a card page advertises (<link rel="alternate">) and the demo page's "Follow"
 * link: an artist's or a playlist's own feed; a track's or an album's first artist's feed.
 * `path` has no extension: add .atom, .rss or .json.
 */
export function feedFor(kind: EntityKind, data: unknown): { path: string; title: string } | undefined {
  const item = data as { id?: number; name?: string; artists?: { id: number; name: string }[] | null } | undefined;
  if (!item) return undefined;
  if ((kind === "artist" || kind === "playlist") && typeof item.id === "number")
    return { path: `/feeds/${kind}/${item.id}`, title: item.name ?? `BeatPass ${kind}` };
  const artist = item.artists?.[0];
  return artist ? { path: `/feeds/artist/${artist.id}`, title: artist.name } : undefined;
}
