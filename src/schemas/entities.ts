import { z } from "zod";

/**
 * The public shape of every entity this Worker serves. z.object drops keys it does not
 * list, so parsing BeatPass's payload through these schemas IS the projection: new
 * upstream fields, internal fields and the token account's own state (liked, purchased,
 * owner flags) never leave. Field names stay BeatPass's own.
 *
 * Formats BeatPass does not document (price precision, 0/1 booleans, numeric strings)
 * are accepted leniently and normalised; a wrong *kind* of value still fails the parse.
 */

const id = z.coerce.number().int().positive();
const text = z.string().max(20_000);
const shortText = z.string().max(500);
const url = z.string().max(2048);
const count = z.coerce.number().int().nonnegative();
const money = z.coerce.number().nonnegative();
const flag = z.union([z.boolean(), z.literal(0), z.literal(1)]).transform((v) => Boolean(v));

export const genreSchema = z.object({
  id,
  name: shortText,
  display_name: shortText.nullish(),
  model_type: shortText.nullish(),
});

export const tagSchema = z.object({
  id,
  name: shortText,
  display_name: shortText.nullish(),
});

export const artistRefSchema = z.object({
  id,
  name: shortText,
  model_type: shortText.nullish(),
  image_small: url.nullish(),
  verified: flag.nullish(),
});

export const userSchema = z.object({
  id,
  display_name: shortText,
  avatar: url.nullish(),
});

const trackFields = {
  id,
  name: shortText,
  model_type: shortText.nullish(),
  image: url.nullish(),
  release_date: shortText.nullish(),
  created_at: shortText.nullish(),
  duration: count.nullish(),
  duration_text: shortText.nullish(),
  description: text.nullish(),
  bpm: z.coerce.number().nonnegative().nullish(),
  key: shortText.nullish(),
  scale: shortText.nullish(),
  price: money.nullish(),
  currency: shortText.nullish(),
  licensing_type: shortText.nullish(),
  exclusive_status: shortText.nullish(),
  exclusive_price: money.nullish(),
  plays: count.nullish(),
  likes_count: count.nullish(),
  reposts_count: count.nullish(),
  artists: z.array(artistRefSchema).nullish(),
  genres: z.array(genreSchema).nullish(),
  tags: z.array(tagSchema).nullish(),
};

/** A track as it appears inside lists and inside other entities. */
export const trackSummarySchema = z.object(trackFields);

export const albumSchema = z.object({
  id,
  name: shortText,
  model_type: shortText.nullish(),
  image: url.nullish(),
  release_date: shortText.nullish(),
  description: text.nullish(),
  plays: count.nullish(),
  created_at: shortText.nullish(),
  artists: z.array(artistRefSchema).nullish(),
  genres: z.array(genreSchema).nullish(),
  tags: z.array(tagSchema).nullish(),
  tracks: z.array(trackSummarySchema).nullish(),
});

/** A single track (GET /tracks/:id), which may embed its album. */
export const trackSchema = z.object({ ...trackFields, album: albumSchema.nullish() });

export const artistSchema = artistRefSchema.extend({
  bio: text.nullish(),
  website: url.nullish(),
  genres: z.array(genreSchema).nullish(),
  profile: z.object({ description: text.nullish(), city: shortText.nullish(), country: shortText.nullish() }).nullish(),
  profile_images: z.array(z.object({ id, url })).nullish(),
  links: z.array(z.object({ id, url, title: shortText.nullish() })).nullish(),
  similar: z.array(artistRefSchema).nullish(),
  top_tracks: z.array(trackSummarySchema).nullish(),
  albums: z.array(albumSchema).nullish(),
});

export const playlistSchema = z.object({
  id,
  name: shortText,
  public: flag.nullish(),
  collaborative: flag.nullish(),
  image: url.nullish(),
  description: text.nullish(),
  totalDuration: count.nullish(),
  tracks: z.array(trackSummarySchema).nullish(),
});

export const lyricSchema = z.object({ id, text });

/** Waveform peaks; capped so one track cannot make every card heavy. */
export const waveSchema = z.object({ peaks: z.array(z.number().finite()).max(10_000) });

export const searchResultsSchema = z.object({
  query: shortText,
  tracks: z.array(trackSummarySchema),
  albums: z.array(albumSchema),
  artists: z.array(artistRefSchema),
  playlists: z.array(playlistSchema),
  users: z.array(userSchema),
});

export const paginationSchema = z.object({
  page: z.number().int().positive(),
  per_page: z.number().int().positive(),
  total: z.number().int().nonnegative().optional(),
  last_page: z.number().int().positive().optional(),
});

export type Track = z.infer<typeof trackSchema>;
export type TrackSummary = z.infer<typeof trackSummarySchema>;
export type Album = z.infer<typeof albumSchema>;
export type Artist = z.infer<typeof artistSchema>;
export type ArtistRef = z.infer<typeof artistRefSchema>;
export type Playlist = z.infer<typeof playlistSchema>;
export type Genre = z.infer<typeof genreSchema>;
export type Tag = z.infer<typeof tagSchema>;
export type User = z.infer<typeof userSchema>;
export type Lyric = z.infer<typeof lyricSchema>;
export type Wave = z.infer<typeof waveSchema>;
export type SearchResults = z.infer<typeof searchResultsSchema>;
export type Pagination = z.infer<typeof paginationSchema>;

export interface Single<T> {
  data: T;
}
export interface Page<T> {
  data: T[];
  pagination: Pagination;
}

/** Response envelopes as schemas, for the OpenAPI document and for tests that check bodies against it. */
export const singleOf = <S extends z.ZodType>(data: S) => z.object({ data });
export const pageOf = <S extends z.ZodType>(item: S) => z.object({ data: z.array(item), pagination: paginationSchema });
