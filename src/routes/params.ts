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
