/**
 * JSON Schemas of the service's own bodies (oEmbed, purge, health, problem types, the route
 * index), written by hand: the catalog's come from the zod schemas (components.ts).
 */

export const OEMBED_SCHEMA = {
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
        "The card as a PNG link preview (1.91:1): 1200 x 630, or the largest of 800, 600, 400, 300 or 200 px wide that fits maxwidth and maxheight; absent when that is under 200 px wide.",
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
export const PURGE_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["purged", "collections", "purged_at"],
  properties: {
    purged: { type: "array", items: { type: "string" }, description: "The resources purged, once each." },
    collections: { const: true, description: "Lists and search results are purged with any resource." },
    purged_at: { type: "string", format: "date-time" },
  },
};
export const HEALTH_SCHEMA = {
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
export const PROBLEM_TYPE_SCHEMA = {
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
export const INDEX_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["name", "description", "routes", "widgets", "feeds", "oembed", "health", "openapi", "docs"],
  properties: {
    name: { type: "string" },
    description: { type: "string" },
    routes: { type: "array", items: { type: "string" } },
    widgets: { type: "array", items: { type: "string" } },
    feeds: { type: "array", items: { type: "string" } },
    oembed: { type: "string" },
    health: { type: "string" },
    openapi: { type: "string" },
    docs: { type: "string" },
  },
};
