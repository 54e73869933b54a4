import type { Context } from "hono";
import type { AppEnv } from "../env";
import { type ApiError, PROBLEM_CACHE_SECONDS, toProblem } from "../errors";
import { send } from "./send";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Renders an ApiError as RFC 9457 problem+json with its status, cache rule and extra headers. */
export function problemResponse(c: Context<AppEnv>, err: ApiError): Response {
  const origin = new URL(c.req.url).origin;
  const body = toProblem(origin, err.code, err.detail, c.get("requestId") ?? "unknown", err.errors);
  const maxAge = PROBLEM_CACHE_SECONDS[err.code];
  return send(c, JSON.stringify(body), err.status, {
    ...err.headers,
    "Content-Type": PROBLEM_CONTENT_TYPE,
    "Cache-Control": maxAge ? `public, max-age=${maxAge}` : "no-store",
  });
}
