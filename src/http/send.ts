import type { Context } from "hono";
import type { AppEnv } from "../env";
import type { Trace } from "../lib/trace";

/**
 * Building responses in one step. Middleware records the headers every response of a
 * request must carry (request id, nosniff, CORS, RateLimit-Policy) as plain data with
 * `addHeader`; `send` writes them, the route's own headers and Server-Timing into the
 * Response as it is constructed. In workerd, Headers is a runtime object and each write
 * onto it is a call across the runtime boundary: building once is what keeps a cache hit
 * close to the cost of returning a constant (bench/HISTORY.md, "Second session").
 *
 * Responses built some other way (c.json in the meta routes, hono/cors preflights) are
 * completed by `finish`, which the observe middleware calls after the handler: same headers,
 * written one by one.
 */

/** Records a header for this request's response, whichever way it ends up being built. */
export function addHeader(c: Context<AppEnv>, name: string, value: string): void {
  const headers = c.get("responseHeaders");
  // Vary is a list: two contributors (CORS, content negotiation) must both be kept.
  headers[name] = name === "Vary" && headers.Vary ? `${headers.Vary}, ${value}` : value;
}

/** The response, built once with every header it will leave with. */
export function send(
  c: Context<AppEnv>,
  body: BodyInit | null,
  status: number,
  headers: Record<string, string>,
): Response {
  // A copy: a request whose first response is dropped (an error after it) must not pass
  // that response's headers on to the next one.
  const all: Record<string, string> = { ...c.get("responseHeaders"), ...headers };
  const keyed = c.get("client")?.keyId !== undefined;
  const res = respondWith(all, serverTiming(c.get("trace"), c.get("startedAt")), keyed, body, status);
  c.set("sent", res);
  return res;
}

/**
 * `send` without Hono (the hit lane's too, src/routes/hit-lane.ts): `all` (the request's
 * headers and the route's, in an object of the caller's own) completed with Server-Timing, a
 * Cache-Control, and what shared caches must know.
 */
export function respondWith(
  all: Record<string, string>,
  timing: string,
  keyed: boolean,
  body: BodyInit | null,
  status: number,
): Response {
  all["Server-Timing"] = timing;
  all["Cache-Control"] ??= "no-store";
  if (all["Cache-Control"].startsWith("public")) forSharedCaches(all, keyed);
  return new Response(body, { status, headers: all });
}

/**
 * What a shared cache (a CDN, the Workers Cache, a corporate proxy) may keep. The answer
 * depends on X-Api-Key (a key's tier, or 401 for a bad key), so every cacheable response
 * varies on it: a request with a key never gets a copy stored for one without. An API-key
 * caller's answer is `private`, not `public` with Vary: a shared cache would otherwise keep
 * one copy per key (most server-to-server callers hold one), and its RateLimit-Policy is that
 * key's tier. An anonymous answer stays public: every caller a shared cache can hand it to
 * (no X-Api-Key) has the anonymous tier, so its RateLimit-Policy is theirs too.
 */
function forSharedCaches(headers: Record<string, string>, keyed: boolean): void {
  headers.Vary = headers.Vary ? `${headers.Vary}, X-Api-Key` : "X-Api-Key";
  if (keyed) headers["Cache-Control"] = (headers["Cache-Control"] ?? "").replace(/^public/, "private");
}

/** Gives a response built elsewhere the headers `send` would have; every response leaves complete. */
export function finish(c: Context<AppEnv>): void {
  const res = c.res;
  if (c.get("sent") === res) return;
  for (const [name, value] of Object.entries(c.get("responseHeaders"))) {
    if (name === "Vary") res.headers.append(name, value);
    else res.headers.set(name, value);
  }
  if (!res.headers.has("Cache-Control")) res.headers.set("Cache-Control", "no-store");
  res.headers.set("Server-Timing", serverTiming(c.get("trace"), c.get("startedAt")));
}

/** Server-Timing with the phases the trace recorded: total, cache lookup, upstream wait. */
export function serverTiming(trace: Trace, startedAt: number): string {
  let timing = `total;dur=${Date.now() - startedAt}`;
  if (trace.cacheMs !== undefined) {
    timing += `, cache;dur=${trace.cacheMs}`;
    if (trace.cache) timing += `;desc="${trace.cache}${trace.tier ? ` ${trace.tier}` : ""}"`;
  }
  if (trace.coordMs !== undefined) timing += `, coord;dur=${trace.coordMs}`;
  if (trace.budgetMs !== undefined) timing += `, budget;dur=${trace.budgetMs}`;
  if (trace.upstreamMs !== undefined) timing += `, upstream;dur=${trace.upstreamMs}`;
  return timing;
}
