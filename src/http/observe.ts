import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import type { AppEnv } from "../env";
import { logEvent } from "../lib/log";
import type { Trace } from "../lib/trace";

/**
 * One structured JSON log line per request, and a Server-Timing header with the cache and
 * upstream phases. Fields are chosen to be safe to keep: no token, no API key, no client IP,
 * no query values (the route pattern is logged, not the URL).
 */
export const observe = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now();
  const trace: Trace = {};
  c.set("trace", trace);
  await next();
  const total = Date.now() - started;
  const timing = [`total;dur=${total}`];
  if (trace.cacheMs !== undefined)
    timing.push(
      `cache;dur=${trace.cacheMs}${trace.cache ? `;desc="${trace.cache}${trace.tier ? ` ${trace.tier}` : ""}"` : ""}`,
    );
  if (trace.upstreamMs !== undefined) timing.push(`upstream;dur=${trace.upstreamMs}`);
  c.res.headers.set("Server-Timing", timing.join(", "));
  const client = c.get("client");
  logEvent(c.res.status >= 500 ? "warn" : "info", "request", {
    request_id: c.get("requestId"),
    method: c.req.method,
    route: routeOf(c),
    status: c.res.status,
    cache: trace.cache ?? null,
    tier: trace.tier ?? null,
    upstream_status: trace.upstreamStatus ?? null,
    upstream_ms: trace.upstreamMs ?? null,
    duration_ms: total,
    client_tier: client?.tier ?? null,
    key_id: client?.keyId ?? null,
  });
});

/** The route pattern that handled the request (middleware registered on "/*" skipped). */
function routeOf(c: Context<AppEnv>): string {
  return matchedRoutes(c).find((r) => !r.path.endsWith("*"))?.path ?? "(unmatched)";
}
