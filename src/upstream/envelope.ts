import * as z from "zod/mini";
import { once } from "../lib/once";
import type { Page, Pagination, Single } from "../schemas/entities";
import { UpstreamError } from "./client";

/**
 * BeatPass wraps its data in several envelopes (docs/beatpass-api/REFERENCE.md §5 and §4.4): a Laravel
 * paginator under the entity's plural key, the same under `pagination`, or, in the 2026
 * draft spec, a bare array next to a top-level `pagination`. These helpers accept all of
 * them and hand back our own `{data}` / `{data, pagination}` shapes.
 */

// Built by the first list read (lib/once.ts).
const paginatorMetaSchema = once(() =>
  z.object({
    current_page: z.optional(z.coerce.number().check(z.int(), z.positive())),
    per_page: z.optional(z.coerce.number().check(z.int(), z.positive())),
    total: z.optional(z.coerce.number().check(z.int(), z.nonnegative())),
    last_page: z.optional(z.coerce.number().check(z.int(), z.positive())),
  }),
);

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Parses `value` with `schema`, turning a mismatch into an UpstreamError (logged, never shown). */
export function parseOrThrow<S extends z.ZodMiniType>(schema: S, value: unknown, path: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const where = result.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.code}`)
      .join("; ");
    throw new UpstreamError("schema", path, { message: `upstream schema mismatch on ${path}: ${where}` });
  }
  return result.data;
}

/** Reads the object under `key` (e.g. `track`) and projects it. */
export function single<S extends z.ZodMiniType>(
  body: unknown,
  key: string,
  schema: S,
  path: string,
  expectedId?: number,
): Single<z.output<S>> {
  const value = isObj(body) ? body[key] : undefined;
  return { data: sameId(parseOrThrow(schema, value, path), expectedId, path) };
}

/**
 * The item BeatPass answered must be the one asked for: a cache or router mix-up upstream
 * would otherwise store another track's data under this id, for every viewer, for hours.
 */
export function sameId<T>(data: T, expectedId: number | undefined, path: string): T {
  const got = isObj(data) ? data.id : undefined;
  if (expectedId !== undefined && got !== expectedId) {
    throw new UpstreamError("schema", path, { message: `upstream answered id ${String(got)} on ${path}` });
  }
  return data;
}

/** If `value` is a paginator (`{data: [...]}`), returns its items; arrays pass through. */
export function itemsOf(value: unknown): unknown {
  if (isObj(value) && Array.isArray(value.data)) return value.data;
  return value;
}

/**
 * How many items a nested list has in all: the paginator's `total` (a playlist's first 20 of
 * 23 tracks says 23), else the length of a plain array; undefined when there is no list.
 * A total smaller than the items at hand is not believed.
 */
export function totalOf(value: unknown): number | undefined {
  const items = itemsOf(value);
  if (!Array.isArray(items)) return undefined;
  const total = isObj(value) ? paginatorMetaSchema().safeParse(value).data?.total : undefined;
  return total !== undefined && total >= items.length ? total : items.length;
}

// Item schemas are built once (schemas/entities.ts), so their arrays can be too: not one for
// every list BeatPass sends.
const arrays = new WeakMap<z.ZodMiniType, z.ZodMiniType>();

/** The array schema of `item`, built on its first list and kept. */
export function arrayOf<S extends z.ZodMiniType>(item: S): z.ZodMiniArray<S> {
  let array = arrays.get(item) as z.ZodMiniArray<S> | undefined;
  if (!array) {
    array = z.array(item);
    arrays.set(item, array);
  }
  return array;
}

/** Finds the page of items wherever this endpoint's envelope put it. */
export function page<S extends z.ZodMiniType>(
  body: unknown,
  key: string,
  schema: S,
  path: string,
  requested: { page: number; perPage: number },
): Page<z.output<S>> {
  if (!isObj(body)) throw new UpstreamError("schema", path, { message: `upstream body is not an object on ${path}` });
  const candidates = [body[key], body.pagination];
  const paginator = candidates.find((c) => isObj(c) && Array.isArray(c.data)) as Obj | undefined;
  let items: unknown;
  let meta: unknown;
  if (paginator) {
    items = paginator.data;
    meta = paginator;
  } else if (Array.isArray(body[key])) {
    items = body[key];
    meta = body.pagination;
  }
  const data = parseOrThrow(arrayOf(schema), items, path);
  const m = paginatorMetaSchema().safeParse(isObj(meta) ? meta : {});
  const pagination: Pagination = {
    page: (m.success && m.data.current_page) || requested.page,
    per_page: (m.success && m.data.per_page) || requested.perPage,
  };
  if (m.success && m.data.total !== undefined) pagination.total = m.data.total;
  if (m.success && m.data.last_page !== undefined) pagination.last_page = m.data.last_page;
  return { data, pagination };
}

/** Search groups are documented both as arrays and as single objects; always give arrays. */
export function asArray(value: unknown): unknown[] {
  if (value === null || value === undefined) return [];
  const items = itemsOf(value);
  return Array.isArray(items) ? items : [items];
}
