import type * as z from "zod/mini";

/** Reading request parameters by the names a route's schemas read. */

export function schemaKeys(schema: z.ZodMiniType): readonly string[] {
  type Def = { type: string; in?: z.ZodMiniType; shape?: Record<string, unknown> };
  let def = schema._zod.def as unknown as Def;
  while (def.type === "pipe" && def.in) def = def.in._zod.def as unknown as Def;
  return def.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

/** `raw` narrowed to `names` (absent ones left out). */
export function pickParams(raw: Record<string, string | undefined>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = raw[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * The values of `names` (in a schema's fixed order) as one string, for memo keys: each
 * length-prefixed, so no value can be read as a separator and nothing needs escaping or
 * sorting ("|" alone: absent). Names the schema does not read (junk, tracking parameters)
 * are not read at all, so they make no new keys.
 */
export function rawValues(raw: Record<string, string | undefined>, names: readonly string[]): string {
  let out = "";
  for (const name of names) {
    const value = raw[name];
    out += value === undefined ? "|" : `|${value.length}:${value}`;
  }
  return out;
}
