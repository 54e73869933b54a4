import type { Context } from "hono";
import { META_TAG } from "../cache/purge";
import type { AppEnv, Env } from "../env";
import { type ApiError, DEFAULT_RETRY_AFTER_SECONDS, NOT_RETRYABLE, PROBLEM_CACHE_SECONDS, toProblem } from "../errors";
import { logEvent } from "../lib/log";
import { send } from "./send";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Renders an ApiError as RFC 9457 problem+json with its status, cache rule and extra headers. */
export function problemResponse(c: Context<AppEnv>, err: ApiError): Response {
  const base = publicBase(c.env, new URL(c.req.url).origin);
  const body = toProblem(base, err.code, err.detail, c.get("requestId") ?? "unknown", err.errors);
  const maxAge = PROBLEM_CACHE_SECONDS[err.code];
  const headers: Record<string, string> = {
    ...err.headers,
    "Content-Type": PROBLEM_CONTENT_TYPE,
    "Cache-Control": maxAge ? `public, max-age=${maxAge}` : "no-store",
  };
  // A cacheable problem about a resource carries that resource's tags (routes/catalog.ts);
  // one about no resource (a path or code that does not exist) changes only with a deploy.
  if (maxAge && !headers["Cache-Tag"]) headers["Cache-Tag"] = META_TAG;
  if (err.status >= 500 && !headers["Retry-After"] && !NOT_RETRYABLE[err.code]) {
    headers["Retry-After"] = String(DEFAULT_RETRY_AFTER_SECONDS);
  }
  return send(c, JSON.stringify(body), err.status, headers);
}

// PUBLIC_BASE_URL values seen, parsed (null: unusable). Read on its own, not through the
// config: a problem must still be answered when another var is what is broken.
const bases = new Map<string, string | null>();

/**
 * Where problem `type` URIs point: PUBLIC_BASE_URL (an http(s) URL, maybe with a path) so that
 * one deployment has one identifier per code whatever hostname was asked, else the request's origin.
 */
export function publicBase(env: Env, origin: string): string {
  const raw = env.PUBLIC_BASE_URL;
  if (!raw) return origin;
  let base = bases.get(raw);
  if (base === undefined) {
    base = parseBase(raw);
    if (base === null) logEvent("warn", "config_invalid", { var: "PUBLIC_BASE_URL", expected: "an http(s) URL" });
    bases.set(raw, base);
  }
  return base ?? origin;
}

function parseBase(raw: string): string | null {
  try {
    const url = new URL(raw.trim());
    if (!/^https?:$/.test(url.protocol) || url.search || url.hash || url.username) return null;
    return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  } catch {
    return null;
  }
}
