import { z } from "zod";

/**
 * What a caller may send. Every schema here yields a flat object of canonical values
 * (defaults applied, lists sorted), so equal requests produce equal cache keys and
 * anything not listed is dropped, neither forwarded nor keyed.
 */

/** Largest page size we ask BeatPass for; bigger requests are clamped, not refused. */
export const MAX_PER_PAGE = 50;
export const DEFAULT_PER_PAGE = 20;
export const MAX_PAGE = 10_000;
export const MAX_QUERY_LENGTH = 100;
export const MAX_SEARCH_LIMIT = 20;
export const DEFAULT_SEARCH_LIMIT = 3;

// Digits only: rejects "1e3", "0x1f", " 7", "+7", "7.0" and anything percent-decoded into a path.
const positiveInt = (max: number) =>
  z
    .string()
    .regex(/^[1-9][0-9]{0,9}$/, "must be a positive integer")
    .transform(Number)
    .refine((n) => n <= max, `must be at most ${max}`);

const entityId = positiveInt(2_147_483_647);

// Letters, digits, single spaces, "_" and "-"; it must start and end with a letter or digit,
// so "." and "..", slashes and backslashes (decoded or not) cannot form a path.
export const TAG_NAME_PATTERN = /^[\p{L}\p{N}](?:[\p{L}\p{N} _-]{0,48}[\p{L}\p{N}])?$/u;

export const idParamsSchema = z.object({ id: entityId });
export const tagParamsSchema = z.object({
  name: z.string().regex(TAG_NAME_PATTERN, "must be 1-50 letters, digits, spaces, '_' or '-'"),
});

const pageSize = z
  .string()
  .regex(/^[0-9]{1,6}$/, "must be a positive integer")
  .transform(Number)
  .refine((n) => n >= 1, "must be at least 1")
  .transform((n) => Math.min(n, MAX_PER_PAGE));

const listShape = {
  page: positiveInt(MAX_PAGE).optional(),
  per_page: pageSize.optional(),
  perPage: pageSize.optional(),
};

type ListInput = { page?: number; per_page?: number; perPage?: number };
const toListParams = (q: ListInput) => ({
  page: q.page ?? 1,
  per_page: q.per_page ?? q.perPage ?? DEFAULT_PER_PAGE,
});

const searchText = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(MAX_QUERY_LENGTH, `must be at most ${MAX_QUERY_LENGTH} characters`);

/** `page`, and `per_page` or `perPage` (BeatPass uses both spellings; callers may too). */
export const listQuerySchema = z.object(listShape).transform(toListParams);

/** GET /tracks also takes a free-text `query`. */
export const trackListQuerySchema = z
  .object({ ...listShape, query: searchText.optional() })
  .transform((q) => ({ ...toListParams(q), query: q.query }));

/** A comma list drawn from `allowed`, deduplicated and sorted so the cache key is canonical. */
export function commaListSchema<T extends string>(allowed: readonly T[]) {
  const set = new Set<string>(allowed);
  return z
    .string()
    .max(200)
    .transform((raw, ctx) => {
      const parts = [
        ...new Set(
          raw
            .split(",")
            .map((p) => p.trim())
            .filter(Boolean),
        ),
      ];
      const bad = parts.filter((p) => !set.has(p));
      if (bad.length > 0) {
        ctx.addIssue({
          code: "custom",
          message: `unknown value(s) ${bad.map((b) => JSON.stringify(b)).join(", ")}; allowed: ${allowed.join(", ")}`,
        });
        return z.NEVER;
      }
      return parts.sort().join(",") || undefined;
    });
}

export const TRACK_WITH = ["album", "artists", "genres", "tags"] as const;
export const ALBUM_WITH = ["artists", "genres", "tags", "tracks"] as const;
export const ARTIST_WITH = ["albums", "genres", "similar", "topTracks"] as const;
export const SEARCH_TYPES = ["album", "artist", "playlist", "track", "user"] as const;

export const withQuerySchema = (allowed: readonly string[]) => z.object({ with: commaListSchema(allowed).optional() });

export const searchQuerySchema = z.object({
  query: searchText,
  types: commaListSchema(SEARCH_TYPES).optional(),
  limit: z
    .string()
    .regex(/^[0-9]{1,4}$/, "must be a positive integer")
    .transform(Number)
    .refine((n) => n >= 1, "must be at least 1")
    .transform((n) => Math.min(n, MAX_SEARCH_LIMIT))
    .default(DEFAULT_SEARCH_LIMIT),
});

export const noQuerySchema = z.object({});
