/**
 * How long each family of BeatPass data stays fresh. BeatPass publishes no cache headers,
 * so these are our choices; every viewer of every embed shares one 300 requests/minute
 * token budget (REFERENCE.md §2), which pushes them up; price and play counts going
 * stale pushes them down.
 */
export const TTL_SECONDS = {
  /** Single tracks, albums, artists, playlists, users: edited rarely; 5 min keeps prices current enough. */
  entity: 300,
  /** Paged lists: new uploads shift pages, so shorter. */
  list: 120,
  /** Search: the most varied keys and the most "live" expectation. */
  search: 60,
  /** Genres: a near-static taxonomy. */
  taxonomy: 3600,
  /** Lyrics and waveforms: fixed once a track is processed. */
  media: 86_400,
} as const;

export type TtlFamily = keyof typeof TTL_SECONDS;
