import { MAX_ENTITY_ID } from "../schemas/requests";
import { errorResponses, type Json } from "./components";
import { upToPattern } from "./widget-paths";

/** The feed routes' operations (/feeds/<kind>/<file>): Atom, RSS and JSON Feed. */

const FEEDS: { kind: string; what: string; file: string; pattern: string; reads: string }[] = [
  {
    kind: "artist",
    what: "An artist's newest tracks and albums",
    file: "The artist's id and the format: 7.atom, 7.rss or 7.json.",
    pattern: `^${upToPattern(MAX_ENTITY_ID)}\\.(atom|rss|json)$`,
    reads: "/v1/artists/{id}, /v1/artists/{id}/tracks and /v1/artists/{id}/albums (first page of 50)",
  },
  {
    kind: "playlist",
    what: "A playlist's tracks",
    file: "The playlist's id and the format: 6.atom, 6.rss or 6.json.",
    pattern: `^${upToPattern(MAX_ENTITY_ID)}\\.(atom|rss|json)$`,
    reads: "/v1/playlists/{id} and /v1/playlists/{id}/tracks (first page of 50)",
  },
  {
    kind: "genre",
    what: "A genre's newest tracks",
    file: "A genre name as /v1/genres lists it (name, e.g. lo-fi) and the format: lo-fi.atom, lo-fi.rss or lo-fi.json.",
    pattern: "^[^/]{1,50}\\.(atom|rss|json)$",
    reads:
      "/v1/genres (the name must be listed there, else 404) and /v1/tags/{name}/tracks for the same name (first page of 50; BeatPass documents no list of a genre's tracks)",
  },
  {
    kind: "tag",
    what: "A tag's newest tracks",
    file: "A tag name (1-50 letters, digits, spaces, _ or -) and the format: mellow.atom, mellow.rss or mellow.json.",
    pattern: "^[^/]{1,50}\\.(atom|rss|json)$",
    reads: "/v1/tags/{name}/tracks (first page of 50)",
  },
];

export function feedPaths(): Record<string, Json> {
  return Object.fromEntries(
    FEEDS.map((f) => [
      `/feeds/${f.kind}/{file}`,
      {
        get: {
          operationId: `${f.kind}Feed`,
          summary: `${f.what} as Atom 1.0, RSS 2.0 or JSON Feed 1.1`,
          description: `${f.what}, newest first (at most 50; an entry's date is BeatPass's created_at or release_date, else the time this proxy first saw it), for feed readers and automations. Built from the same cached reads as ${f.reads}, so polling a cached feed costs BeatPass nothing; a cold one counts against the miss budget. Strong ETag and Last-Modified (304 on If-None-Match or If-Modified-Since). An unknown ${f.kind} is a 404 problem, never an empty feed.`,
          tags: ["feeds"],
          parameters: [
            {
              name: "file",
              in: "path",
              required: true,
              description: f.file,
              schema: { type: "string", pattern: f.pattern },
            },
          ],
          responses: {
            "200": {
              description: "The feed",
              headers: {
                ETag: { schema: { type: "string" } },
                "Last-Modified": { schema: { type: "string" } },
              },
              content: {
                "application/atom+xml": { schema: { type: "string" } },
                "application/rss+xml": { schema: { type: "string" } },
                "application/feed+json": { schema: { type: "object" } },
              },
            },
            "304": { description: "Not modified (If-None-Match, or If-Modified-Since without it, matched)" },
            ...errorResponses([400, 401, 403, 404, 410, 429, 502, 503, 504]),
          },
        },
      },
    ]),
  );
}
