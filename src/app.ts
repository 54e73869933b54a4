import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { clientLimits } from "./clients/limits";
import type { AppEnv, Env } from "./env";
import { ApiError, codeForStatus } from "./errors";
import { corsForApi } from "./http/cors";
import { observe } from "./http/observe";
import { problemResponse } from "./http/problem";
import { logEvent } from "./lib/log";
import { cardRoutes } from "./routes/cards";
import { catalogRoutes } from "./routes/catalog";
import { hitLane } from "./routes/hit-lane";
import { hookRoutes } from "./routes/hooks";
import { metaRoutes } from "./routes/meta";

/**
 * Builds the Worker: the observe middleware first (request id, the headers every response
 * carries, Server-Timing, the request log, a Cache-Control on every response), then CORS
 * and client limits where they apply, then the routes. onError and notFound live only here, so every
 * failure on every route leaves as the same problem+json.
 */
/** The app's type for hono/client (src/client.ts: built without the Worker's runtime types). */
export type { AppType } from "./client";

export type Handler = (request: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;

/** The Worker's fetch: a memory hit by the hit lane (routes/hit-lane.ts), everything else by the app. */
export function createHandler(): Handler {
  const app = createApp();
  return (request, env, ctx) => laneAnswer(request, env, ctx) ?? app.fetch(request, env, ctx);
}

function laneAnswer(request: Request, env: Env, ctx: ExecutionContext): Response | undefined {
  try {
    return hitLane(request, env, ctx);
  } catch (err) {
    // Our bug, never seen: the app answers (and counts the hit again), and the log says so.
    logEvent("error", "hit_lane_failed", { cause: describeCause(err) });
    return undefined;
  }
}

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(observe);

  for (const path of ["/v1/*", "/oembed", "/healthz", "/openapi.json"]) app.use(path, corsForApi);
  // Cards identify their client themselves and charge only misses (routes/widgets.ts).
  for (const path of ["/v1/*", "/oembed"]) app.use(path, clientLimits);
  // Feeds are API reads: a poll is a request, a cold one spends the client's miss budget, and
  // web-based readers fetch them from other origins.
  app.use("/feeds/*", corsForApi, clientLimits);

  app.route("/v1", catalogRoutes());
  app.route("/", hookRoutes());
  app.route("/", cardRoutes());
  app.route("/", metaRoutes());

  app.notFound((c) => problemResponse(c, new ApiError("not_found", "No route matches this path.")));

  app.onError((err, c) => {
    const apiError = toApiError(err);
    const fields = {
      request_id: c.get("requestId"),
      path: new URL(c.req.url).pathname,
      code: apiError.code,
      status: apiError.status,
      cause: describeCause(apiError.cause ?? err),
    };
    if (apiError.status >= 500) logEvent(apiError.code === "internal" ? "error" : "warn", "request_failed", fields);
    return problemResponse(c, apiError);
  });

  return app;
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    const code = codeForStatus(err.status);
    return new ApiError(code, err.status >= 500 ? "The request failed." : "The request was not accepted.", {
      cause: err,
    });
  }
  // Anything else is our bug: the viewer gets a generic message, the log gets the detail.
  return new ApiError("internal", "An unexpected error occurred.", { cause: err });
}

// Messages only: stack traces stay out of the logs too, so nothing they capture leaks.
function describeCause(cause: unknown): string | undefined {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return cause === undefined ? undefined : String(cause);
}
