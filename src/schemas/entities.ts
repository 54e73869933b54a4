import * as z from "zod/mini";
import { once } from "../lib/once";

/**
 * The public shape of every entity this Worker serves. z.object drops keys it does not
 * list, so parsing BeatPass's payload through these schemas IS the projection: new
 * upstream fields, internal fields and the token account's own state (liked, purchased,
 * owner flags) never leave. Field names stay BeatPass's own.
 *
 * Formats BeatPass does not document (price precision, 0/1 booleans, numeric strings)
 * are accepted leniently and normalised; a wrong *kind* of value still fails the parse.
 */

/**
 * What a transforming schema outputs, for the OpenAPI document (src/openapi.ts): JSON Schema
 * cannot describe a transform, so each one states its output type here.
 */
export const OUTPUT_JSON_SCHEMA = new Map<unknown, Record<string, unknown>>();
function outputs<S extends z.ZodMiniType>(schema: S, json: Record<string, unknown>): S {
  OUTPUT_JSON_SCHEMA.set(schema, json);
  return schema;
}

/** Bidirectional embeddings, overrides and isolates: they can make a name display as another. */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;
/**
 * Web links only: `javascript:`, `data:` and other schemes from BeatPass become null, so no
 * consumer can be led to render one as a link.
 */
const WEB_URL = /^https?:\/\//i;

// Every schema below is built by its first reader (lib/once.ts): a route builds the entities
// its answer holds, and a route that holds none (/healthz) builds none.

/** The kinds of value the entities are made of. */
const kinds = once(() => {
  const plainText = (max: number) =>
    outputs(
      z.pipe(
        z.string().check(z.maxLength(max)),
        z.transform((v) => v.replace(BIDI_CONTROLS, "")),
      ),
      { type: "string", maxLength: max },
    );
  const url = outputs(
    z.pipe(
      z.string().check(z.maxLength(2048)),
      z.transform((v): string | null => (WEB_URL.test(v) ? v : null)),
    ),
    { type: ["string", "null"], pattern: "^[Hh][Tt][Tt][Pp][Ss]?://", maxLength: 2048 },
  );
  const flag = outputs(
    z.pipe(
      z.union([z.boolean(), z.literal(0), z.literal(1)]),
      z.transform((v) => Boolean(v)),
    ),
    { type: "boolean" },
  );
  return {
    id: z.coerce.number().check(z.int(), z.positive()),
    text: plainText(20_000),
    shortText: plainText(500),
    count: z.coerce.number().check(z.int(), z.nonnegative()),
    money: z.coerce.number().check(z.nonnegative()),
    flag,
    url,
  };
});

export const genreSchema = once(() => {
  const { id, shortText } = kinds();
  return z.object({
    id,
    name: shortText,
    display_name: z.nullish(shortText),
    model_type: z.nullish(shortText),
  });
});

export const tagSchema = once(() => {
  const { id, shortText } = kinds();
  return z.object({
    id,
    name: shortText,
    display_name: z.nullish(shortText),
  });
});

export const artistRefSchema = once(() => {
  const { id, shortText, url, flag } = kinds();
  return z.object({
    id,
    name: shortText,
    model_type: z.nullish(shortText),
    image_small: z.nullish(url),
    verified: z.nullish(flag),
  });
});

export const userSchema = once(() => {
  const { id, shortText, url } = kinds();
  return z.object({
    id,
    display_name: shortText,
    avatar: z.nullish(url),
  });
});

const trackFields = once(() => {
  const { id, shortText, url, count, text, money } = kinds();
  return {
    id,
    name: shortText,
    model_type: z.nullish(shortText),
    image: z.nullish(url),
    release_date: z.nullish(shortText),
    created_at: z.nullish(shortText),
    duration: z.nullish(count),
    duration_text: z.nullish(shortText),
    description: z.nullish(text),
    bpm: z.nullish(z.coerce.number().check(z.nonnegative())),
    key: z.nullish(shortText),
    scale: z.nullish(shortText),
    price: z.nullish(money),
    currency: z.nullish(shortText),
    licensing_type: z.nullish(shortText),
    exclusive_status: z.nullish(shortText),
    exclusive_price: z.nullish(money),
    plays: z.nullish(count),
    likes_count: z.nullish(count),
    reposts_count: z.nullish(count),
    artists: z.nullish(z.array(artistRefSchema())),
    genres: z.nullish(z.array(genreSchema())),
    tags: z.nullish(z.array(tagSchema())),
  };
});

/** A track as it appears inside lists and inside other entities. */
export const trackSummarySchema = once(() => z.object(trackFields()));

export const albumSchema = once(() => {
  const { id, shortText, url, text, count } = kinds();
  return z.object({
    id,
    name: shortText,
    model_type: z.nullish(shortText),
    image: z.nullish(url),
    release_date: z.nullish(shortText),
    description: z.nullish(text),
    plays: z.nullish(count),
    created_at: z.nullish(shortText),
    artists: z.nullish(z.array(artistRefSchema())),
    genres: z.nullish(z.array(genreSchema())),
    tags: z.nullish(z.array(tagSchema())),
    tracks: z.nullish(z.array(trackSummarySchema())),
    /** How many tracks the album has, when `tracks` is present (it may hold only the first page). */
    tracks_total: z.optional(count),
  });
});

/** A single track (GET /tracks/:id), which may embed its album. */
export const trackSchema = once(() => z.object({ ...trackFields(), album: z.nullish(albumSchema()) }));

export const artistSchema = once(() => {
  const { id, shortText, url, text, count } = kinds();
  return z.extend(artistRefSchema(), {
    bio: z.nullish(text),
    website: z.nullish(url),
    genres: z.nullish(z.array(genreSchema())),
    profile: z.nullish(
      z.object({ description: z.nullish(text), city: z.nullish(shortText), country: z.nullish(shortText) }),
    ),
    profile_images: z.nullish(z.array(z.object({ id, url }))),
    links: z.nullish(z.array(z.object({ id, url, title: z.nullish(shortText) }))),
    similar: z.nullish(z.array(artistRefSchema())),
    top_tracks: z.nullish(z.array(trackSummarySchema())),
    albums: z.nullish(z.array(albumSchema())),
    /** How many albums the artist has, when `albums` is present (it may hold only the first page). */
    albums_total: z.optional(count),
  });
});

export const playlistSchema = once(() => {
  const { id, shortText, url, text, count, flag } = kinds();
  return z.object({
    id,
    name: shortText,
    public: z.nullish(flag),
    collaborative: z.nullish(flag),
    image: z.nullish(url),
    description: z.nullish(text),
    totalDuration: z.nullish(count),
    tracks: z.nullish(z.array(trackSummarySchema())),
    /** How many tracks the playlist has; `tracks` holds only the first page (20). */
    tracks_total: z.optional(count),
  });
});

export const lyricSchema = once(() => {
  const { id, text } = kinds();
  return z.object({ id, text });
});

/** Waveform peaks; capped so one track cannot make every card heavy. */
export const waveSchema = once(() => z.object({ peaks: z.array(z.number()).check(z.maxLength(10_000)) }));

export const searchResultsSchema = once(() =>
  z.object({
    query: kinds().shortText,
    tracks: z.array(trackSummarySchema()),
    albums: z.array(albumSchema()),
    artists: z.array(artistRefSchema()),
    playlists: z.array(playlistSchema()),
    users: z.array(userSchema()),
  }),
);

export const paginationSchema = once(() =>
  z.object({
    page: z.number().check(z.int(), z.positive()),
    per_page: z.number().check(z.int(), z.positive()),
    total: z.optional(z.number().check(z.int(), z.nonnegative())),
    last_page: z.optional(z.number().check(z.int(), z.positive())),
  }),
);

/** The entities under their names in the OpenAPI document's components (src/openapi.ts). */
export const namedSchemas = (): [z.ZodMiniType, string][] => [
  [genreSchema(), "Genre"],
  [tagSchema(), "Tag"],
  [artistRefSchema(), "ArtistRef"],
  [userSchema(), "User"],
  [trackSummarySchema(), "TrackSummary"],
  [albumSchema(), "Album"],
  [trackSchema(), "Track"],
  [artistSchema(), "Artist"],
  [playlistSchema(), "Playlist"],
  [lyricSchema(), "Lyric"],
  [waveSchema(), "Wave"],
  [searchResultsSchema(), "SearchResults"],
  [paginationSchema(), "Pagination"],
];

/** What a schema declared with `once` builds. */
type Built<F extends () => z.ZodMiniType> = z.infer<ReturnType<F>>;

export type Track = Built<typeof trackSchema>;
export type TrackSummary = Built<typeof trackSummarySchema>;
export type Album = Built<typeof albumSchema>;
export type Artist = Built<typeof artistSchema>;
export type ArtistRef = Built<typeof artistRefSchema>;
export type Playlist = Built<typeof playlistSchema>;
export type Genre = Built<typeof genreSchema>;
export type Tag = Built<typeof tagSchema>;
export type User = Built<typeof userSchema>;
export type Lyric = Built<typeof lyricSchema>;
export type Wave = Built<typeof waveSchema>;
export type SearchResults = Built<typeof searchResultsSchema>;
export type Pagination = Built<typeof paginationSchema>;

export interface Single<T> {
  data: T;
}
export interface Page<T> {
  data: T[];
  pagination: Pagination;
}

/** Response envelopes as schemas, for the OpenAPI document and for tests that check bodies against it. */
export const singleOf = <S extends z.ZodMiniType>(data: S) => z.object({ data });
export const pageOf = <S extends z.ZodMiniType>(item: S) =>
  z.object({ data: z.array(item), pagination: paginationSchema() });
