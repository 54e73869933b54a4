import * as z from "zod/mini";
import { once } from "../lib/once";

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

/**
 * What a caller may send, as the OpenAPI document states it (src/openapi.ts): these schemas
 * take strings and transform them, which JSON Schema cannot say, so each states the value it
 * accepts. `x-param` carries parameter-level fields (a comma list's style).
 */
export const INPUT_JSON_SCHEMA = new Map<unknown, Record<string, unknown>>();
function accepts<S>(schema: S, json: Record<string, unknown>): S {
  INPUT_JSON_SCHEMA.set(schema, json);
  return schema;
}

// Digits only: rejects "1e3", "0x1f", " 7", "+7", "7.0" and anything percent-decoded into a path.
const digitsToNumber = (pattern: RegExp) =>
  z.pipe(z.string().check(z.regex(pattern, "must be a positive integer")), z.transform(Number));

const positiveInt = (max: number) =>
  accepts(digitsToNumber(/^[1-9][0-9]{0,9}$/).check(z.refine((n) => n <= max, `must be at most ${max}`)), {
    type: "integer",
    minimum: 1,
    maximum: max,
  });

/** BeatPass's ids are 32-bit signed integers. */
export const MAX_ENTITY_ID = 2_147_483_647;

// Letters, digits, single spaces, "_" and "-"; it must start and end with a letter or digit,
// so "." and "..", slashes and backslashes (decoded or not) cannot form a path.
export const TAG_NAME_PATTERN = /^[\p{L}\p{N}](?:[\p{L}\p{N} _-]{0,48}[\p{L}\p{N}])?$/u;

// Each schema is built by its first reader (lib/once.ts): a route builds only what it validates.
export const idParamsSchema = once(() => z.object({ id: positiveInt(MAX_ENTITY_ID) }));
export const tagParamsSchema = once(() =>
  z.object({
    name: z.string().check(z.regex(TAG_NAME_PATTERN, "must be 1-50 letters, digits, spaces, '_' or '-'")),
  }),
);

/** A count of at least 1, clamped to `max` rather than refused. */
const clampedCount = (digits: number, max: number) =>
  accepts(
    z.pipe(
      digitsToNumber(new RegExp(`^[0-9]{1,${digits}}$`)).check(z.refine((n) => n >= 1, "must be at least 1")),
      z.transform((n: number) => Math.min(n, max)),
    ),
    { type: "integer", minimum: 1, maximum: 10 ** digits - 1, description: `Larger values are clamped to ${max}.` },
  );

const listShape = once(() => {
  const pageSize = clampedCount(6, MAX_PER_PAGE);
  return {
    page: z.optional(positiveInt(MAX_PAGE)),
    per_page: z.optional(pageSize),
    perPage: z.optional(pageSize),
  };
});

type ListInput = { page?: number; per_page?: number; perPage?: number };
const toListParams = (q: ListInput) => ({
  page: q.page ?? 1,
  per_page: q.per_page ?? q.perPage ?? DEFAULT_PER_PAGE,
});

const searchText = once(() =>
  z
    .string()
    .check(
      z.trim(),
      z.minLength(1, "must not be empty"),
      z.maxLength(MAX_QUERY_LENGTH, `must be at most ${MAX_QUERY_LENGTH} characters`),
    ),
);

/** `page`, and `per_page` or `perPage` (BeatPass uses both spellings; callers may too). */
export const listQuerySchema = once(() => z.pipe(z.object(listShape()), z.transform(toListParams)));

/** GET /tracks also takes a free-text `query`. */
export const trackListQuerySchema = once(() =>
  z.pipe(
    z.object({ ...listShape(), query: z.optional(searchText()) }),
    z.transform((q) => ({ ...toListParams(q), query: q.query })),
  ),
);

/** A comma list drawn from `allowed`, deduplicated and sorted so the cache key is canonical. */
export function commaListSchema<T extends string>(allowed: readonly T[]) {
  const set = new Set<string>(allowed);
  const schema = z.pipe(
    z.string().check(z.maxLength(200)),
    z.transform((raw: string, ctx) => {
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
        ctx.issues.push({
          code: "custom",
          input: raw,
          message: `unknown value(s) ${bad.map((b) => JSON.stringify(b)).join(", ")}; allowed: ${allowed.join(", ")}`,
        });
        return z.NEVER;
      }
      return parts.sort().join(",") || undefined;
    }),
  );
  return accepts(schema, {
    type: "array",
    items: { type: "string", enum: [...allowed] },
    "x-param": { style: "form", explode: false },
    description: `Comma-separated, any of: ${allowed.join(", ")}.`,
  });
}

export const TRACK_WITH = ["album", "artists", "genres", "tags"] as const;
export const ALBUM_WITH = ["artists", "genres", "tags", "tracks"] as const;
export const ARTIST_WITH = ["albums", "genres", "similar", "topTracks"] as const;
export const SEARCH_TYPES = ["album", "artist", "playlist", "track", "user"] as const;

export const withQuerySchema = (allowed: readonly string[]) => z.object({ with: z.optional(commaListSchema(allowed)) });

export const searchQuerySchema = once(() =>
  z.object({
    query: searchText(),
    types: z.optional(commaListSchema(SEARCH_TYPES)),
    limit: z._default(clampedCount(4, MAX_SEARCH_LIMIT), DEFAULT_SEARCH_LIMIT),
  }),
);

export const noQuerySchema = once(() => z.object({}));
