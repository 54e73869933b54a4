import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import * as z from "zod/mini";
import { once } from "./lib/once";

/**
 * The problem catalogue: every error this Worker can answer with. `status` lives here
 * and nowhere else, so call sites pick a meaning (code), never a number.
 */
export const PROBLEMS = {
  invalid_request: { status: 400, title: "Invalid request" },
  invalid_api_key: { status: 401, title: "Invalid API key" },
  invalid_signature: { status: 401, title: "Invalid signature" },
  not_public: { status: 401, title: "Not public" },
  forbidden: { status: 403, title: "Not available" },
  not_found: { status: 404, title: "Not found" },
  method_not_allowed: { status: 405, title: "Method not allowed" },
  signature_replayed: { status: 409, title: "Signature already used" },
  gone: { status: 410, title: "Gone" },
  payload_too_large: { status: 413, title: "Payload too large" },
  rate_limited: { status: 429, title: "Too many requests" },
  client_miss_budget: { status: 429, title: "Too many uncached requests" },
  render_budget: { status: 429, title: "Too many new cards drawn" },
  internal: { status: 500, title: "Internal error" },
  unsupported_format: { status: 501, title: "Format not implemented" },
  upstream_rejected: { status: 502, title: "BeatPass rejected the request" },
  upstream_error: { status: 502, title: "BeatPass failed" },
  upstream_unreachable: { status: 502, title: "BeatPass unreachable" },
  upstream_redirect: { status: 502, title: "BeatPass answered with a redirect" },
  upstream_invalid_json: { status: 502, title: "BeatPass sent invalid JSON" },
  upstream_schema_mismatch: { status: 502, title: "BeatPass sent an unexpected payload" },
  upstream_too_large: { status: 502, title: "BeatPass response too large" },
  config_error: { status: 503, title: "Proxy not configured" },
  purge_unavailable: { status: 503, title: "Purge not recorded" },
  raster_unavailable: { status: 503, title: "PNG cards unavailable" },
  unhealthy: { status: 503, title: "Not healthy" },
  upstream_unauthorized: { status: 503, title: "BeatPass refused the proxy's credentials" },
  upstream_rate_limited: { status: 503, title: "BeatPass rate limit reached" },
  upstream_unavailable: { status: 503, title: "BeatPass unavailable" },
  upstream_budget_exhausted: { status: 503, title: "BeatPass request budget spent" },
  upstream_timeout: { status: 504, title: "BeatPass timed out" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

/**
 * 5xx problems a retry cannot cure, and why: they carry no Retry-After. Every other 5xx
 * does (src/http/problem.ts adds DEFAULT_RETRY_AFTER_SECONDS where the code set none).
 */
export const NOT_RETRYABLE: Partial<Record<ProblemCode, string>> = {
  unsupported_format: "the format does not exist here; the same request gets the same answer",
};
export const DEFAULT_RETRY_AFTER_SECONDS = 30;

/** How long a problem may be cached. Only a confirmed "does not exist" is worth caching. */
export const PROBLEM_CACHE_SECONDS: Partial<Record<ProblemCode, number>> = {
  not_found: 60,
  gone: 300,
};

export const problemSchema = once(() =>
  z.object({
    type: z.string().check(z.minLength(1)),
    title: z.string().check(z.minLength(1)),
    status: z.number().check(z.int(), z.minimum(400), z.maximum(599)),
    detail: z.string().check(z.minLength(1)),
    code: z.enum(Object.keys(PROBLEMS) as [ProblemCode, ...ProblemCode[]]),
    request_id: z.string().check(z.minLength(1)),
    errors: z.optional(z.array(z.object({ location: z.string(), name: z.string(), message: z.string() }))),
  }),
);

export type Problem = z.infer<ReturnType<typeof problemSchema>>;
export type ProblemIssue = NonNullable<Problem["errors"]>[number];

export interface ApiErrorOptions {
  errors?: ProblemIssue[];
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error with a known meaning; `onError` turns it into problem+json. */
export class ApiError extends HTTPException {
  readonly code: ProblemCode;
  readonly detail: string;
  readonly errors: ProblemIssue[] | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ProblemCode, detail: string, options: ApiErrorOptions = {}) {
    super(PROBLEMS[code].status, { message: detail, cause: options.cause });
    this.name = "ApiError";
    this.code = code;
    this.detail = detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

/** Maps a status from Hono's own HTTPException (body limit, timeout...) to a code. */
export function codeForStatus(status: number): ProblemCode {
  for (const [code, p] of Object.entries(PROBLEMS) as [ProblemCode, (typeof PROBLEMS)[ProblemCode]][]) {
    if (p.status === status) return code;
  }
  return status >= 500 ? "internal" : "invalid_request";
}

/** Builds the RFC 9457 body; `origin` makes `type` resolve to /problems/<code> on this Worker. */
export function toProblem(
  origin: string,
  code: ProblemCode,
  detail: string,
  requestId: string,
  errors?: ProblemIssue[],
): Problem {
  const { status, title } = PROBLEMS[code];
  const body: Problem = { type: `${origin}/problems/${code}`, title, status, detail, code, request_id: requestId };
  if (errors && errors.length > 0) body.errors = errors;
  return body;
}
