import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import { type AppEnv, loadConfig } from "../env";
import { logEvent } from "../lib/log";
import type { Trace } from "../lib/trace";
import { finish } from "./send";

/**
 * The outermost middleware: gives the request its id, a trace for the phases to fill in and
 * the headers every response carries; after the handler, completes a response not built by
 * `send` and writes one structured JSON log line. Log fields are chosen to be safe to keep:
 * no token, no API key, no client IP, no query values (the route pattern is logged, not
 * the URL). REQUEST_LOG=misses leaves out successful fresh cache hits, the lines that grow
 * with traffic; REQUEST_LOG=off leaves out every request line (warnings and errors stay).
 */
export const observe = createMiddleware<AppEnv>(async (c, next) => {
  const startedAt = Date.now();
  const requestId = acceptedRequestId(c.req.header("X-Request-Id")) ?? crypto.randomUUID();
  const cf = c.req.raw.cf as { colo?: unknown } | undefined;
  const trace: Trace = typeof cf?.colo === "string" ? { colo: cf.colo } : {};
  c.set("startedAt", startedAt);
  c.set("requestId", requestId);
  c.set("trace", trace);
  c.set("responseHeaders", { "X-Request-Id": requestId, "X-Content-Type-Options": "nosniff" });
  await next();
  finish(c);

  const status = c.res.status;
  const config = loadConfig(c.env);
  const mode = config.ok ? config.config.requestLog : "all";
  if (mode === "off") return;
  // "misses": every request that did work or failed, and a sample of hits (each log line is
  // billed, and at a hit's cost it is most of the work: bench/RESULTS.md).
  const sample = config.ok ? config.config.requestLogSample : 1;
  if (mode === "misses" && trace.cache === "hit" && status < 400 && Math.random() >= sample) return;
  const client = c.get("client");
  logEvent(status >= 500 ? "warn" : "info", "request", {
    request_id: requestId,
    method: c.req.method,
    route: routeOf(c),
    status,
    cache: trace.cache ?? null,
    tier: trace.tier ?? null,
    upstream_status: trace.upstreamStatus ?? null,
    upstream_ms: trace.upstreamMs ?? null,
    duration_ms: Date.now() - startedAt,
    client_tier: client?.tier ?? null,
    key_id: client?.keyId ?? null,
  });
});

/** A caller's X-Request-Id is kept when it is short and plain (it ends up in logs and bodies). */
function acceptedRequestId(presented: string | undefined): string | undefined {
  return presented && presented.length <= 64 && /^[\w\-=]+$/.test(presented) ? presented : undefined;
}

/** The route pattern that handled the request (middleware registered on "/*" skipped). */
function routeOf(c: Context<AppEnv>): string {
  return matchedRoutes(c).find((r) => !r.path.endsWith("*"))?.path ?? "(unmatched)";
}
