import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import { type AppEnv, type Env, loadConfig } from "../env";
import { logEvent } from "../lib/log";
import type { Client, Trace } from "../lib/trace";
import { finish } from "./send";

/**
 * The outermost middleware: gives the request its id, a trace for the phases to fill in and
 * the headers every response carries; after the handler, completes a response not built by
 * `send` and writes one structured JSON log line. Log fields are chosen to be safe to keep:
 * no token, no API key, no client IP, no query values (the route pattern is logged, not
 * the URL). REQUEST_LOG=misses leaves out successful fresh cache hits, the lines that grow
 * with traffic; REQUEST_LOG=off leaves out every request line (warnings and errors stay).
 * The hit lane (src/routes/hit-lane.ts) starts and logs its requests with the same functions.
 */
export const observe = createMiddleware<AppEnv>(async (c, next) => {
  const started = startRequest(c.req.raw, c.req.raw.headers);
  c.set("startedAt", started.startedAt);
  c.set("requestId", started.requestId);
  c.set("trace", started.trace);
  c.set("responseHeaders", started.headers);
  await next();
  finish(c);
  logRequest(c.env, started, c.req.method, routeOf(c), c.res.status, c.get("client"));
});

/** What a request starts with: its id, a trace, and the headers every response of it carries. */
export interface Started {
  startedAt: number;
  requestId: string;
  trace: Trace;
  headers: Record<string, string>;
}

/** `headers`: the request's (each read of request.headers is a call into the runtime). */
export function startRequest(request: Request, headers: Headers): Started {
  const startedAt = Date.now();
  const requestId = acceptedRequestId(headers.get("X-Request-Id")) ?? crypto.randomUUID();
  return {
    startedAt,
    requestId,
    trace: new RequestTrace(request),
    headers: { "X-Request-Id": requestId, "X-Content-Type-Options": "nosniff" },
  };
}

/**
 * A request's trace, whose `colo` is read from request.cf when first asked for: only a load
 * that asks its location's coordinator does. workerd parses request.cf from JSON on its first
 * read, which under miniflare's entry cost a Worker sending fixed bytes 19 µs of CPU a request
 * (bench/HISTORY.md, run 25); a hit never needs it.
 */
class RequestTrace implements Trace {
  #request: Request | undefined;
  #colo: string | undefined;

  constructor(request: Request) {
    this.#request = request;
  }

  get colo(): string | undefined {
    if (this.#request) {
      const cf = this.#request.cf as { colo?: unknown } | undefined;
      this.#colo = typeof cf?.colo === "string" ? cf.colo : undefined;
      this.#request = undefined;
    }
    return this.#colo;
  }
}

/** The request's log line, unless REQUEST_LOG leaves it out. */
export function logRequest(
  env: Env,
  started: Started,
  method: string,
  route: string,
  status: number,
  client: Client | undefined,
): void {
  const config = loadConfig(env);
  const mode = config.ok ? config.config.requestLog : "all";
  if (mode === "off") return;
  const { trace } = started;
  // "misses": every request that did work or failed, and a sample of hits (each log line is
  // billed, and at a hit's cost it is most of the work: bench/RESULTS.md).
  const sample = config.ok ? config.config.requestLogSample : 1;
  if (mode === "misses" && trace.cache === "hit" && status < 400 && Math.random() >= sample) return;
  logEvent(status >= 500 ? "warn" : "info", "request", {
    request_id: started.requestId,
    method,
    route,
    status,
    cache: trace.cache ?? null,
    tier: trace.tier ?? null,
    upstream_status: trace.upstreamStatus ?? null,
    upstream_ms: trace.upstreamMs ?? null,
    duration_ms: Date.now() - started.startedAt,
    client_tier: client?.tier ?? null,
    key_id: client?.keyId ?? null,
  });
}

/** A caller's X-Request-Id is kept when it is short and plain (it ends up in logs and bodies). */
function acceptedRequestId(presented: string | null): string | undefined {
  return presented && presented.length <= 64 && /^[\w\-=]+$/.test(presented) ? presented : undefined;
}

/** The route pattern that handled the request (middleware registered on "/*" skipped). */
function routeOf(c: Context<AppEnv>): string {
  return matchedRoutes(c).find((r) => !r.path.endsWith("*"))?.path ?? "(unmatched)";
}
