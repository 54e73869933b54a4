import * as z from "zod/mini";
import { problemSchema } from "../errors";
import { catalogDocs } from "../routes/catalog";
import { namedSchemas, OUTPUT_JSON_SCHEMA } from "../schemas/entities";
import { INPUT_JSON_SCHEMA } from "../schemas/requests";

/**
 * The document's schemas from zod (z.toJSONSchema, with what transforms accept or output
 * stated by schemas/*.ts), its named component schemas, and how paths refer to components.
 */

export type Json = Record<string, unknown>;

/** States what a transforming schema accepts or outputs (JSON Schema cannot describe a transform). */
const stateTransforms = (io: "input" | "output") => (ctx: { zodSchema: unknown; jsonSchema: object }) => {
  const out = (io === "output" ? OUTPUT_JSON_SCHEMA : INPUT_JSON_SCHEMA).get(ctx.zodSchema);
  if (!out) return;
  for (const k of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Json)[k];
  Object.assign(ctx.jsonSchema, out);
};

export const jsonSchema = (schema: z.ZodMiniType, io: "input" | "output"): Json => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    override: stateTransforms(io),
  }) as Json;
  return rest;
};

/** The response name of a catalog route in components (track -> TrackResponse). */
export const responseName = (route: string) =>
  `${route.replace(/(^|-)(\w)/g, (_, _dash: string, ch: string) => ch.toUpperCase())}Response`;

/**
 * Every entity and every catalog response as a named component schema, entities referenced
 * from the responses by $ref, so generated clients get one type per entity.
 */
export function componentSchemas(): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of namedSchemas()) registry.add(schema, { id });
  for (const d of catalogDocs()) if (!registry.has(d.response)) registry.add(d.response, { id: responseName(d.name) });
  registry.add(problemSchema(), { id: "Problem" });
  const { schemas } = z.toJSONSchema(registry, {
    io: "output",
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
    override: stateTransforms("output"),
  }) as { schemas: Record<string, Json> };
  for (const s of Object.values(schemas)) {
    delete s.$schema;
    delete s.$id;
  }
  // One list of codes, described once: Problem's code is the ProblemCode enum by reference.
  (schemas.Problem?.properties as Record<string, Json>).code = { $ref: "#/components/schemas/ProblemCode" };
  return schemas;
}

export const ref = (schema: string) => ({ $ref: `#/components/schemas/${schema}` });
const problemRef = { $ref: "#/components/responses/Problem" };
export const errorResponses = (codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), problemRef]));
export const notModified = { "304": { description: "Not modified (If-None-Match matched)" } };
