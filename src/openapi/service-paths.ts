import { MAX_BODY_BYTES } from "../routes/hooks";
import { errorResponses, type Json, ref } from "./components";

/**
 * The service's own operations: the purge webhook and health (operators), problem types,
 * this document and its page, and the index (meta).
 */

export function servicePaths(): Record<string, Json> {
  const html = (description: string) => ({ description, content: { "text/html": { schema: { type: "string" } } } });
  return {
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
        description:
          'This document as an API reference page (Scalar, served by this deployment from /docs-assets/): an example request and answer for each operation, search, and "try it".',
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
