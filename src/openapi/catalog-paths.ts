import type * as z from "zod/mini";
import type { TtlFamily } from "../cache/policy";
import { catalogDocs } from "../routes/catalog";
import { errorResponses, type Json, jsonSchema, responseName } from "./components";

/** The /v1 catalog operations, one per row of the route table (routes/catalog.ts). */

/** Path and query parameters from a zod object schema (its input side: what callers send). */
function parameters(schema: z.ZodMiniType, where: "path" | "query"): Json[] {
  const js = jsonSchema(schema, "input") as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => {
    const { "x-param": style, description, ...schema } = s as Json & { "x-param"?: Json; description?: string };
    return {
      name,
      in: where,
      description: [PARAM_DESCRIPTIONS[name] ?? `The ${name}.`, description].filter(Boolean).join(" "),
      required: where === "path" || (js.required ?? []).includes(name),
      ...style,
      schema,
    };
  });
}

const PARAM_DESCRIPTIONS: Record<string, string> = {
  id: "BeatPass's numeric id.",
  name: "Tag name: 1-50 letters, digits, spaces, '_' or '-'.",
  page: "Page number, from 1.",
  per_page: "Items per page.",
  perPage: "Same as per_page (BeatPass's other spelling).",
  query: "Search text, 1-100 characters.",
  with: "Related data to include.",
  types: "Kinds of results to include (default: all).",
  limit: "Results per kind.",
};

const cacheHeaders = {
  ETag: { schema: { type: "string" }, description: "Strong validator; send it back in If-None-Match for a 304." },
  "Cache-Status": { schema: { type: "string" }, description: "RFC 9211: hit (and tier), stale, or miss." },
  "RateLimit-Policy": { schema: { type: "string" }, description: "IETF draft RateLimit-Policy of your tier." },
};

/** Whether a route has any parameter a caller could get wrong. */
function takesInput(params: z.ZodMiniType, query: z.ZodMiniType): boolean {
  const count = (schema: z.ZodMiniType) =>
    Object.keys((jsonSchema(schema, "input") as { properties?: Json }).properties ?? {}).length;
  return count(params) + count(query) > 0;
}

/** What each cache family means for a caller, in the operation's description. */
const FAMILY_NOTE: Record<TtlFamily, string> = {
  entity: "Cached as an entity (fresh 5 minutes by default, served stale up to a day if BeatPass fails).",
  list: "Cached as a list (fresh 2 minutes by default).",
  search: "Cached as a search (fresh 1 minute by default).",
  taxonomy: "Cached as taxonomy (fresh 1 hour by default).",
  media: "Cached as media (fresh 1 day by default).",
  negative: "Cached as an answer that something does not exist.",
};

/** One GET operation per catalog route, its parameters and body from the route's schemas. */
export function catalogPaths(): Record<string, Json> {
  const paths: Record<string, Json> = {};
  for (const d of catalogDocs()) {
    paths[`/v1${d.path.replace(/:(\w+)/g, "{$1}")}`] = {
      get: {
        operationId: d.name.replace(/-(\w)/g, (_, ch: string) => ch.toUpperCase()),
        summary: d.summary,
        description: `${d.summary}. ${FAMILY_NOTE[d.family]} With the proxy's token BeatPass adds price, BPM, key, plays and licensing; fields outside the schema are dropped.`,
        tags: ["catalog"],
        parameters: [...parameters(d.params, "path"), ...parameters(d.query, "query")],
        responses: {
          "200": {
            description: "BeatPass data",
            headers: cacheHeaders,
            content: { "application/json": { schema: { $ref: `#/components/schemas/${responseName(d.name)}` } } },
          },
          "304": { description: "Not modified (If-None-Match matched)" },
          // 400 only where there is something to validate; 403/404/410 are BeatPass's answers, cached.
          ...errorResponses([...(takesInput(d.params, d.query) ? [400] : []), 401, 403, 404, 410, 429, 502, 503, 504]),
        },
      },
    };
  }
  return paths;
}
