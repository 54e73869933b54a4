import * as z from "zod/mini";
import type { TtlFamily } from "./cache/policy";
import { TIER_LIMITS } from "./clients/tiers";
import { PROBLEMS, problemSchema } from "./errors";
import { READ_METHODS } from "./http/methods";
import { CATALOG_DOCS } from "./routes/catalog";
import { MAX_BODY_BYTES, purgeBodySchema, SIGNATURE_HEADER } from "./routes/hooks";
import { NAMED_SCHEMAS, OUTPUT_JSON_SCHEMA } from "./schemas/entities";
import { INPUT_JSON_SCHEMA, MAX_ENTITY_ID } from "./schemas/requests";
import { WIDGET_HIDE } from "./schemas/widget";

/**
 * The OpenAPI 3.1 document, built from the zod schemas the routes validate with and answer
 * with (z.toJSONSchema), so the description cannot drift from the code. Served at
 * /openapi.json and rendered at /docs.
 */

type Json = Record<string, unknown>;

/** States what a transforming schema accepts or outputs (JSON Schema cannot describe a transform). */
const stateTransforms = (io: "input" | "output") => (ctx: { zodSchema: unknown; jsonSchema: object }) => {
  const out = (io === "output" ? OUTPUT_JSON_SCHEMA : INPUT_JSON_SCHEMA).get(ctx.zodSchema);
  if (!out) return;
  for (const k of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Json)[k];
  Object.assign(ctx.jsonSchema, out);
};

const jsonSchema = (schema: z.ZodMiniType, io: "input" | "output"): Json => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    override: stateTransforms(io),
  }) as Json;
  return rest;
};

/** The response name of a catalog route in components (track -> TrackResponse). */
const responseName = (route: string) =>
  `${route.replace(/(^|-)(\w)/g, (_, _dash: string, ch: string) => ch.toUpperCase())}Response`;

/**
 * Every entity and every catalog response as a named component schema, entities referenced
 * from the responses by $ref, so generated clients get one type per entity.
 */
function componentSchemas(): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of NAMED_SCHEMAS) registry.add(schema, { id });
  for (const d of CATALOG_DOCS) if (!registry.has(d.response)) registry.add(d.response, { id: responseName(d.name) });
  registry.add(problemSchema, { id: "Problem" });
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

const ref = (schema: string) => ({ $ref: `#/components/schemas/${schema}` });
const problemRef = { $ref: "#/components/responses/Problem" };
const errorResponses = (codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), problemRef]));
const cacheHeaders = {
  ETag: { schema: { type: "string" }, description: "Strong validator; send it back in If-None-Match for a 304." },
  "Cache-Status": { schema: { type: "string" }, description: "RFC 9211: hit (and tier), stale, or miss." },
  "RateLimit-Policy": { schema: { type: "string" }, description: "IETF draft RateLimit-Policy of your tier." },
};

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

/** Whether a route has any parameter a caller could get wrong. */
function takesInput(params: z.ZodMiniType, query: z.ZodMiniType): boolean {
  const count = (schema: z.ZodMiniType) =>
    Object.keys((jsonSchema(schema, "input") as { properties?: Json }).properties ?? {}).length;
  return count(params) + count(query) > 0;
}

const notModified = { "304": { description: "Not modified (If-None-Match matched)" } };

/** JSON bodies of the service's own routes (the catalog's come from the zod schemas). */
const OEMBED_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["version", "type", "provider_name", "provider_url", "title", "html", "width", "height", "cache_age"],
  properties: {
    version: { const: "1.0" },
    type: { const: "rich" },
    provider_name: { type: "string" },
    provider_url: { type: "string" },
    title: { type: "string" },
    author_name: { type: "string" },
    author_url: { type: "string" },
    html: { type: "string", description: "An iframe of the card." },
    width: { type: "integer", minimum: 1 },
    height: { type: "integer", minimum: 1 },
    thumbnail_url: {
      type: "string",
      description:
        "The card as a PNG link preview (1.91:1): 1200 x 630, or smaller to fit maxwidth and maxheight; absent when that is under 200 px wide.",
    },
    thumbnail_width: { type: "integer", minimum: 1 },
    thumbnail_height: { type: "integer", minimum: 1 },
    cache_age: { type: "integer", minimum: 0 },
  },
  dependentRequired: {
    thumbnail_url: ["thumbnail_width", "thumbnail_height"],
    thumbnail_width: ["thumbnail_url", "thumbnail_height"],
    thumbnail_height: ["thumbnail_url", "thumbnail_width"],
  },
};
const PURGE_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["purged", "collections", "purged_at"],
  properties: {
    purged: { type: "array", items: { type: "string" }, description: "The resources purged, once each." },
    collections: { const: true, description: "Lists and search results are purged with any resource." },
    purged_at: { type: "string", format: "date-time" },
  },
};
const HEALTH_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["status"],
  description: "Everyone gets the status; the rest only with the operator key.",
  properties: {
    status: {
      enum: ["ok", "warn", "degraded", "error"],
      description:
        "degraded: viewers' uncached requests were refused for budget in the last minute (cached data still served).",
    },
    token_configured: { type: "boolean" },
    token_next_configured: { type: "boolean" },
    token_days_left: { type: ["integer", "null"] },
    upstream_base: { type: ["string", "null"] },
    problems: { type: "array", items: { type: "string" }, description: "With status error: what is wrong." },
    warnings: { type: "array", items: { type: "string" } },
    breakers: { type: "object", additionalProperties: { enum: ["closed", "open", "half-open"] } },
    last_upstream_error: {
      type: ["object", "null"],
      additionalProperties: false,
      properties: { code: { type: "string" }, at: { type: "string", format: "date-time" } },
    },
    rate_limit: {
      type: ["object", "null"],
      additionalProperties: false,
      properties: {
        limit: { type: ["integer", "null"] },
        remaining: { type: ["integer", "null"] },
        reset_at: { type: ["integer", "string", "null"] },
        seen_at: { type: "string", format: "date-time" },
      },
    },
    cache: {
      type: "object",
      description: "This isolate's counters since it started (hits by tier, misses, keeper calls, KV writes...).",
      additionalProperties: {
        anyOf: [
          { type: "integer", minimum: 0 },
          { type: "object", additionalProperties: { type: "integer", minimum: 0 } },
        ],
      },
    },
    budget: {
      type: "object",
      additionalProperties: false,
      description:
        "This isolate's quota lease, and the keeper's view of the whole deployment (null when it cannot be asked).",
      properties: {
        isolate: {
          type: "object",
          additionalProperties: false,
          properties: {
            permits_left: { type: "integer", minimum: 0 },
            expires_in_s: { type: "integer", minimum: 0 },
            keeper_unreachable: { type: "boolean" },
            paused_until: { type: ["string", "null"], format: "date-time" },
          },
        },
        deployment: {
          type: ["object", "null"],
          additionalProperties: false,
          properties: {
            budget_per_minute: { type: "integer", minimum: 1 },
            in_use: { type: "integer", minimum: 0 },
            paused_until: { type: ["string", "null"], format: "date-time" },
            active_leases: { type: "integer", minimum: 0 },
            locations: { type: "integer", minimum: 0 },
            capped_groups: { type: "integer", minimum: 0 },
            last_hour: {
              type: "object",
              description: "Lease renewals, permits granted and spent, refusals (viewers', background) and pauses.",
              additionalProperties: { type: "integer", minimum: 0 },
            },
          },
        },
      },
    },
  },
};
const PROBLEM_TYPE_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["code", "title", "status", "why", "todo"],
  properties: {
    code: { $ref: "#/components/schemas/ProblemCode" },
    title: { type: "string" },
    status: { type: "integer", minimum: 400, maximum: 599 },
    why: { type: "string", description: "Why a request gets this problem." },
    todo: { type: "string", description: "What to do about it." },
  },
};
const INDEX_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["name", "description", "routes", "widgets", "oembed", "health", "openapi", "docs"],
  properties: {
    name: { type: "string" },
    description: { type: "string" },
    routes: { type: "array", items: { type: "string" } },
    widgets: { type: "array", items: { type: "string" } },
    oembed: { type: "string" },
    health: { type: "string" },
    openapi: { type: "string" },
    docs: { type: "string" },
  },
};

/** What each cache family means for a caller, in the operation's description. */
const FAMILY_NOTE: Record<TtlFamily, string> = {
  entity: "Cached as an entity (fresh 5 minutes by default, served stale up to a day if BeatPass fails).",
  list: "Cached as a list (fresh 2 minutes by default).",
  search: "Cached as a search (fresh 1 minute by default).",
  taxonomy: "Cached as taxonomy (fresh 1 hour by default).",
  media: "Cached as media (fresh 1 day by default).",
  negative: "Cached as an answer that something does not exist.",
};

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
  { name: "operators", description: "For the deployment's operator: purge webhook and health." },
  { name: "meta", description: "This API's own description, demo page and problem types." },
];

export function buildOpenApi(origin: string): Json {
  const paths: Record<string, Json> = {};
  for (const d of CATALOG_DOCS) {
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
  Object.assign(paths, staticPaths());
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
        PurgeRequest: jsonSchema(purgeBodySchema, "input"),
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

/**
 * A regular expression (source) for the decimal integers 1..max, no leading zeros: where an
 * id is part of a path segment ("7.svg") the spec can only bound it with a pattern.
 */
export function upToPattern(max: number): string {
  const d = String(max);
  const alternatives = d.length > 1 ? [`[1-9][0-9]{0,${d.length - 2}}`] : [];
  for (let i = 0; i < d.length; i++) {
    const low = i === 0 ? 1 : 0;
    const high = Number(d[i]) - 1;
    if (high < low) continue;
    const rest = d.length - i - 1;
    alternatives.push(`${d.slice(0, i)}[${low}-${high}]${rest ? `[0-9]{${rest}}` : ""}`);
  }
  alternatives.push(d);
  return `(?:${alternatives.join("|")})`;
}

/** The card options (schemas/widget.ts) as query parameters, each with its own description. */
function cardOptionParams(says: { theme: string; size: string; accent: string; hide: string }): Json[] {
  return [
    {
      name: "theme",
      in: "query",
      description: says.theme,
      schema: { type: "string", enum: ["light", "dark", "auto"] },
    },
    { name: "size", in: "query", description: says.size, schema: { type: "string", enum: ["compact", "standard"] } },
    {
      name: "accent",
      in: "query",
      description: says.accent,
      schema: { type: "string", pattern: "^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$" },
    },
    { name: "hide", in: "query", schema: { type: "string" }, description: `${says.hide} ${WIDGET_HIDE.join(", ")}` },
  ];
}

function staticPaths(): Record<string, Json> {
  const html = (description: string) => ({ description, content: { "text/html": { schema: { type: "string" } } } });
  return {
    "/widget/{kind}/{file}": {
      get: {
        operationId: "widget",
        summary:
          "An embeddable card: HTML for an iframe, SVG (.svg) for <img> tags, PNG (.png) for link previews and e-mail",
        description:
          "An embeddable card for an iframe (HTML), an <img> tag (SVG, when the file ends in .svg) or a link preview or e-mail (PNG, .png). Errors are drawn as cards in the same format (status 200, the code in X-Problem-Code) so a page never shows raw JSON. Cards are not counted against the per-request limit; requests that would reach BeatPass count against the miss budget.",
        tags: ["widgets"],
        parameters: [
          {
            name: "kind",
            in: "path",
            required: true,
            description: "What the card shows.",
            schema: { type: "string", enum: ["track", "artist", "album", "playlist"] },
          },
          {
            name: "file",
            in: "path",
            required: true,
            description: "The item's id, with .svg for the SVG card or .png for the PNG card.",
            schema: { type: "string", pattern: `^${upToPattern(MAX_ENTITY_ID)}(\\.svg|\\.png)?$` },
          },
          ...cardOptionParams({
            theme: "Colours; auto follows the viewer's system setting.",
            size: "Card layout.",
            accent: "Accent colour as 3 or 6 hex digits.",
            hide: "Comma list of",
          }),
          {
            name: "layout",
            in: "query",
            description:
              "PNG only: og (default) is a 1200 x 630 link preview, card the card alone at its SVG size (480 x 136 standard, 400 x 88 compact).",
            schema: { type: "string", enum: ["og", "card"] },
          },
          {
            name: "width",
            in: "query",
            description: "PNG with layout=og only: the preview's width (its height follows at 1.91:1).",
            schema: { type: "integer", minimum: 200, maximum: 1200 },
          },
        ],
        responses: {
          "200": {
            description: "The card, or an error card (X-Problem-Code tells which)",
            content: {
              "text/html": { schema: { type: "string" } },
              "image/svg+xml": { schema: { type: "string" } },
              "image/png": { schema: { type: "string", contentMediaType: "image/png" } },
            },
          },
          ...notModified,
          ...errorResponses([400, 404, 503]),
        },
      },
    },
    "/embed.js": {
      get: {
        operationId: "embedScript",
        summary: "Optional script that keeps card iframes at their card's height",
        description:
          'A dependency-free script for pages embedding cards: iframes marked data-beatpass-embed follow the height their card posts ({type: "beatpass-embed:resize", height}). Cached a day.',
        tags: ["widgets"],
        responses: {
          "200": { description: "The script", content: { "text/javascript": { schema: { type: "string" } } } },
          ...notModified,
        },
      },
    },
    "/oembed": {
      get: {
        operationId: "oembed",
        summary: "oEmbed 1.0 rich response for a BeatPass track, artist, album or playlist URL",
        description:
          "oEmbed 1.0 (JSON) for a BeatPass page URL, so sites and chat apps can embed the card. The html member holds the iframe. Errors as oEmbed 1.0 names them: 404 when there is no card for the URL (not a BeatPass page, unknown or removed item, no layout fits), 401 for an item BeatPass does not make public (not_public; also invalid_api_key), 501 for format=xml.",
        tags: ["widgets"],
        parameters: [
          {
            name: "url",
            in: "query",
            required: true,
            description: "A BeatPass page URL (https://beatpass.ca/track/<id>, /artist/, /album/, /playlist/).",
            schema: { type: "string" },
          },
          {
            name: "maxwidth",
            in: "query",
            description:
              "Largest width the consumer can show (px); cards are 480 wide at most and 200 at least (404 below).",
            schema: { type: "integer", minimum: 1 },
          },
          {
            name: "maxheight",
            in: "query",
            description:
              "Largest height the consumer can show (px): the fullest layout that fits (standard, compact, compact without the track list); 404 when none does.",
            schema: { type: "integer", minimum: 1 },
          },
          ...cardOptionParams({
            theme: "Passed to the card.",
            size: "Passed to the card; without it, the size is chosen to fit maxheight.",
            accent: "Passed to the card.",
            hide: "Passed to the card: comma list of",
          }),
          {
            name: "format",
            in: "query",
            description: "json (the default); xml is oEmbed's other format, answered 501.",
            schema: { type: "string", enum: ["json", "xml"] },
          },
        ],
        responses: {
          "200": { description: "oEmbed rich response", content: { "application/json": { schema: ref("OEmbed") } } },
          ...notModified,
          ...errorResponses([400, 401, 404, 429, 501, 502, 503, 504]),
        },
      },
    },
    "/hooks/purge": {
      post: {
        operationId: "purge",
        summary: "Make fresh BeatPass data appear at once for the listed resources (signed webhook)",
        description:
          'Signed webhook (HMAC-SHA256 of "<t>.<body>" in the signature header) that drops cached copies of the listed resources, and every list and search, deployment-wide.',
        tags: ["operators"],
        security: [{ purgeSignature: [] }],
        requestBody: {
          required: true,
          description: `At most ${MAX_BODY_BYTES} bytes.`,
          content: {
            "application/json": {
              schema: ref("PurgeRequest"),
              // No tag in the example: linters test patterns without the u flag, which \p{L} needs.
              examples: { resources: { value: { resources: ["track:123", "artist:7", "album:42"] } } },
            },
          },
        },
        responses: {
          "200": { description: "What was purged", content: { "application/json": { schema: ref("PurgeResult") } } },
          ...errorResponses([400, 401, 409, 413, 503]),
        },
      },
    },
    "/healthz": {
      get: {
        operationId: "health",
        summary: "Health: status for everyone; token, config, breaker, rate-limit and cache state for the operator",
        description:
          "For monitors: 200 with status ok, warn or degraded (viewers' uncached requests refused for budget in the last minute), 503 when the proxy cannot serve data (status error). With X-Operator-Key: <OPERATOR_KEY>, the whole report (also at 503): config problems naming each var, token, upstream base, breakers, BeatPass's rate-limit headroom, cache counters, this isolate's lease and the keeper's view of the deployment's budget. X-Operator-Key tries are limited per address (429).",
        tags: ["operators"],
        security: [{}, { operatorKey: [] }],
        responses: {
          "200": { description: "Health report", content: { "application/json": { schema: ref("Health") } } },
          ...errorResponses([429]),
          "503": {
            description: "Not healthy: a problem (unhealthy) for everyone, the report for the operator",
            content: {
              "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } },
              "application/json": { schema: ref("Health") },
            },
          },
        },
      },
    },
    "/problems/{code}": {
      get: {
        operationId: "problemType",
        summary: "What a problem code means",
        description:
          "What a problem code means, why it happens and what to do: a page for browsers, JSON otherwise. Problem type URIs resolve here.",
        tags: ["meta"],
        parameters: [
          {
            name: "code",
            in: "path",
            required: true,
            description: "A problem's code (the last segment of its type URI).",
            schema: { $ref: "#/components/schemas/ProblemCode" },
          },
        ],
        responses: {
          "200": {
            description: "What the code means: a page for browsers (Accept preferring text/html), JSON otherwise.",
            content: {
              "application/json": { schema: ref("ProblemType") },
              "text/html": { schema: { type: "string" } },
            },
          },
          ...errorResponses([404]),
        },
      },
    },
    "/openapi.json": {
      get: {
        operationId: "openapi",
        summary: "This document",
        description: "This OpenAPI 3.1 document, generated from the schemas the routes validate and answer with.",
        tags: ["meta"],
        responses: {
          "200": { description: "OpenAPI 3.1", content: { "application/json": { schema: { type: "object" } } } },
        },
      },
    },
    "/docs": {
      get: {
        operationId: "docs",
        summary: "This document, readable",
        description: "This document as a readable HTML page.",
        tags: ["meta"],
        responses: { "200": html("API documentation") },
      },
    },
    "/": {
      get: {
        operationId: "index",
        summary: "Widget demo page (HTML) or route index (Accept: application/json)",
        description: "The widget demo page for browsers, or the route index as JSON (Accept: application/json).",
        tags: ["meta"],
        responses: {
          "200": {
            description: "Demo page, or the route index for Accept: application/json",
            content: { "text/html": { schema: { type: "string" } }, "application/json": { schema: ref("RouteIndex") } },
          },
        },
      },
    },
  };
}
