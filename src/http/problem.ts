import type { Context } from "hono";
import type { AppEnv } from "../env";
import { type ApiError, PROBLEM_CACHE_SECONDS, toProblem } from "../errors";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Renders an ApiError as RFC 9457 problem+json with its status, cache rule and extra headers. */
export function problemResponse(c: Context<AppEnv>, err: ApiError): Response {
  const origin = new URL(c.req.url).origin;
  const body = toProblem(origin, err.code, err.detail, c.get("requestId") ?? "unknown", err.errors);
  const maxAge = PROBLEM_CACHE_SECONDS[err.code];
  const headers = new Headers(err.headers);
  headers.set("Content-Type", PROBLEM_CONTENT_TYPE);
  headers.set("Cache-Control", maxAge ? `public, max-age=${maxAge}` : "no-store");
  return c.body(JSON.stringify(body), err.status, Object.fromEntries(headers));
}
