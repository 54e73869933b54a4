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
  if (!origins) {
    addHeader(c, "Access-Control-Allow-Origin", "*");
    addHeader(c, "Access-Control-Expose-Headers", EXPOSE_HEADERS_VALUE);
  } else {
    addHeader(c, "Vary", "Origin");
    const origin = c.req.header("Origin");
    if (origin && origin !== "null" && allowlistSet(origins).has(origin.toLowerCase())) {
      addHeader(c, "Access-Control-Allow-Origin", origin);
      addHeader(c, "Access-Control-Expose-Headers", EXPOSE_HEADERS_VALUE);
    }
  }
  await next();
});

const EXPOSE_HEADERS_VALUE = EXPOSE_HEADERS.join(",");
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
