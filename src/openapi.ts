import { TIER_LIMITS } from "./clients/tiers";
import { PROBLEMS } from "./errors";
import { READ_METHODS } from "./http/methods";
import { HEALTH_SCHEMA, INDEX_SCHEMA, OEMBED_SCHEMA, PROBLEM_TYPE_SCHEMA, PURGE_SCHEMA } from "./openapi/bodies";
import { catalogPaths } from "./openapi/catalog-paths";
import { componentSchemas, type Json, jsonSchema } from "./openapi/components";
import { feedPaths } from "./openapi/feed-paths";
import { servicePaths } from "./openapi/service-paths";
import { widgetPaths } from "./openapi/widget-paths";
import { purgeBodySchema, SIGNATURE_HEADER } from "./routes/hooks";

/**
 * The OpenAPI 3.1 document, built from the zod schemas the routes validate with and answer
 * with (z.toJSONSchema), so the description cannot drift from the code. Served at
 * /openapi.json and rendered at /docs.
 *
 * Only routes/meta.ts imports it, with `await import()`: the document and everything in
 * openapi/ (paths by route family, bodies, components) load when it is first asked for.
 */

export { upToPattern } from "./openapi/widget-paths";

// Built once per isolate and origin: building costs ~18 ms of CPU (z.toJSONSchema of every
// schema), past the free plan's 10 ms per request. Origins are few (a deployment's hostnames).
const built = new Map<string, { doc: Json; text: string }>();
const BUILT_MAX_ORIGINS = 16;

/** The document for `origin`, and its JSON text, from this isolate's memo. */
export function openApiFor(origin: string): { doc: Json; text: string } {
  let hit = built.get(origin);
  if (!hit) {
    if (built.size >= BUILT_MAX_ORIGINS) built.clear();
    const doc = buildOpenApi(origin);
    hit = { doc, text: JSON.stringify(doc) };
    built.set(origin, hit);
  }
  return hit;
}

/**
 * HEAD and OPTIONS beside every GET (src/http/methods.ts, readOnly): HEAD answers as GET
 * without the body; OPTIONS answers 204 with Allow; any other method is 405.
 */
function withReadMethods(paths: Record<string, Json>): void {
  for (const ops of Object.values(paths)) {
    const get = ops.get as (Json & { responses: Record<string, Json> }) | undefined;
    if (!get) continue;
    ops.head = {
      operationId: `${get.operationId}Head`,
      summary: `${get.summary} (headers only)`,
      description: "The same answer as GET, without its body.",
      tags: get.tags,
      parameters: get.parameters,
      responses: Object.fromEntries(
        Object.entries(get.responses).map(([status, r]) => [
          status,
          { description: typeof r.description === "string" ? r.description : "A problem (its body omitted)" },
        ]),
      ),
    };
    ops.options = {
      operationId: `${get.operationId}Options`,
      summary: "The methods this path takes",
      description: `${READ_METHODS} (any other method answers 405 method_not_allowed with the same Allow header). A CORS preflight on the JSON routes gets its Access-Control headers here too.`,
      tags: get.tags,
      parameters: (get.parameters as Json[] | undefined)?.filter((p) => p.in === "path"),
      responses: {
        "204": { description: "No content", headers: { Allow: { schema: { const: READ_METHODS } } } },
      },
    };
  }
}

/** The tags operations use, declared once with what they group. */
const TAGS = [
  { name: "catalog", description: "BeatPass catalog data as JSON, cached at the edge." },
  { name: "widgets", description: "Embeddable cards (HTML, SVG) and oEmbed for link previews." },
  { name: "feeds", description: "Atom, RSS and JSON Feed for artists, playlists, genres and tags." },
  { name: "operators", description: "For the deployment's operator: purge webhook and health." },
  { name: "meta", description: "This API's own description, demo page and problem types." },
];

export function buildOpenApi(origin: string): Json {
  const paths = catalogPaths();
  Object.assign(paths, widgetPaths(), feedPaths(), servicePaths());
  withReadMethods(paths);
  return {
    openapi: "3.1.0",
    info: {
      title: "beatpass-edge",
      version: "0.1.0",
      description:
        "BeatPass catalog data (with the token-only fields) for browsers, widgets and servers, without the BeatPass token. Every error is RFC 9457 problem+json.",
      license: { name: "MIT", identifier: "MIT" },
      contact: { name: "beatpass-edge operators", url: `${origin}/docs` },
    },
    tags: TAGS,
    servers: [{ url: origin }],
    security: [{}, { apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: "apiKey",
          in: "header",
          name: "X-Api-Key",
          description: `Optional. Raises your limits: ${Object.entries(TIER_LIMITS)
            .map(([t, l]) => `${t} ${l.limit}/${l.periodSeconds}s`)
            .join(", ")}.`,
        },
        operatorKey: {
          type: "apiKey",
          in: "header",
          name: "X-Operator-Key",
          description: "The OPERATOR_KEY secret: shows /healthz's whole report.",
        },
        purgeSignature: {
          type: "apiKey",
          in: "header",
          name: SIGNATURE_HEADER,
          description: "t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>",
        },
      },
      schemas: {
        ...componentSchemas(),
        OEmbed: OEMBED_SCHEMA,
        Health: HEALTH_SCHEMA,
        PurgeRequest: jsonSchema(purgeBodySchema(), "input"),
        PurgeResult: PURGE_SCHEMA,
        ProblemType: PROBLEM_TYPE_SCHEMA,
        RouteIndex: INDEX_SCHEMA,
        ProblemCode: {
          type: "string",
          enum: Object.keys(PROBLEMS),
          description: Object.entries(PROBLEMS)
            .map(([code, p]) => `${code}: ${p.status} ${p.title}`)
            .join("; "),
        },
      },
      responses: {
        Problem: {
          description: "RFC 9457 problem details; `code` is stable (see ProblemCode).",
          content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
        },
      },
    },
  };
}
