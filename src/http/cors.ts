import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { type AppEnv, loadConfig } from "../env";
import { addHeader } from "./send";

/**
 * CORS for the JSON routes, built on hono/cors. By default any origin may read them
 * (`Access-Control-Allow-Origin: *`, never with credentials: nothing here depends on a
 * cookie). With ALLOWED_ORIGINS set, only those exact origins get the header, with
 * `Vary: Origin`; the opaque origin "null" (sandboxed frames, file://) is never allowed by
 * name, since any sandboxed page can send it. Preflights allow GET/HEAD and only the
 * request headers this API reads.
 */
const ALLOW_HEADERS = ["X-Api-Key", "If-None-Match"];
const EXPOSE_HEADERS = [
  "ETag",
  "Age",
  "Cache-Status",
  "Retry-After",
  "RateLimit",
  "RateLimit-Policy",
  "X-Request-Id",
  "Server-Timing",
];
const MAX_AGE_SECONDS = 86_400;

const anyOrigin = cors({
  origin: "*",
  allowMethods: ["GET", "HEAD"],
  allowHeaders: ALLOW_HEADERS,
  exposeHeaders: EXPOSE_HEADERS,
  maxAge: MAX_AGE_SECONDS,
});

// One middleware per allowlist (env objects are stable per isolate).
const byAllowlist = new Map<string, ReturnType<typeof cors>>();

function allowlisted(origins: string[]): ReturnType<typeof cors> {
  const id = origins.join(",");
  let mw = byAllowlist.get(id);
  if (!mw) {
    const allowed = new Set(origins);
    mw = cors({
      origin: (origin) => (origin !== "null" && allowed.has(origin.toLowerCase()) ? origin : null),
      allowMethods: ["GET", "HEAD"],
      allowHeaders: ALLOW_HEADERS,
      exposeHeaders: EXPOSE_HEADERS,
      maxAge: MAX_AGE_SECONDS,
    });
    byAllowlist.set(id, mw);
  }
  return mw;
}

export const corsForApi = createMiddleware<AppEnv>(async (c, next) => {
  const config = loadConfig(c.env);
  const origins = config.ok ? config.config.allowedOrigins : undefined;
  if (c.req.method === "OPTIONS") {
    // hono/cors answers every OPTIONS as a preflight; a plain OPTIONS (no
    // Access-Control-Request-Method) goes on to the route's own 204 + Allow.
    if (!c.req.header("Access-Control-Request-Method")) return next();
    return (origins ? allowlisted(origins) : anyOrigin)(c, next);
  }
  // Simple requests: the same headers hono/cors would set, recorded for `send` to write
  // into the response as it is built rather than copied onto it afterwards.
  for (const [name, value] of Object.entries(corsHeaders(origins, c.req.header("Origin")))) addHeader(c, name, value);
  await next();
});

/** The CORS headers of a simple (not preflight) request's answer; the hit lane's too. */
export function corsHeaders(origins: string[] | undefined, origin: string | null | undefined): Record<string, string> {
  if (!origins) return ANY_ORIGIN;
  if (origin && origin !== "null" && allowlistSet(origins).has(origin.toLowerCase()))
    return {
      Vary: "Origin",
      "Access-Control-Allow-Origin": origin,
      "Access-Control-Expose-Headers": EXPOSE_HEADERS_VALUE,
    };
  return VARY_ORIGIN;
}

const EXPOSE_HEADERS_VALUE = EXPOSE_HEADERS.join(",");
// Frozen: callers copy them into their own headers, never write into these.
const ANY_ORIGIN = Object.freeze({
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Expose-Headers": EXPOSE_HEADERS_VALUE,
});
const VARY_ORIGIN = Object.freeze({ Vary: "Origin" });
const allowSets = new Map<string, Set<string>>();
function allowlistSet(origins: string[]): Set<string> {
  const id = origins.join(",");
  let set = allowSets.get(id);
  if (!set) {
    set = new Set(origins);
    allowSets.set(id, set);
  }
  return set;
}
