import { Hono } from "hono";
import { type AppEnv, loadConfig } from "../env";
import { ApiError, PROBLEMS, type ProblemCode } from "../errors";
import { readOnly } from "../http/methods";
import { CATALOG_PATHS } from "./catalog";

/** Service routes that never touch BeatPass: index, health and the problem type pages. */
export function metaRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/", (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json({
      name: "beatpass-edge",
      description: "BeatPass catalog data without the BeatPass token.",
      routes: CATALOG_PATHS.map((p) => `/v1${p}`),
      health: "/healthz",
    });
  });
  readOnly(app, "/");

  app.get("/healthz", (c) => {
    const result = loadConfig(c.env);
    c.header("Cache-Control", "no-store");
    // Always 200 with a `status` field: a monitor reads the body, and non-2xx answers are
    // reserved for problem+json.
    if (!result.ok) {
      return c.json({ status: "error", token_configured: false, upstream_base: null, problems: result.issues });
    }
    // Says whether a token exists, never anything derived from its value.
    return c.json({
      status: result.config.token ? "ok" : "error",
      token_configured: Boolean(result.config.token),
      upstream_base: result.config.apiBase.href.replace(/\/$/, ""),
    });
  });
  readOnly(app, "/healthz");

  // Problem `type` URIs resolve here, so a developer can look a code up.
  app.get("/problems/:code", (c) => {
    const code = c.req.param("code");
    if (!Object.hasOwn(PROBLEMS, code)) throw new ApiError("not_found", "There is no such problem type.");
    const p = PROBLEMS[code as ProblemCode];
    c.header("Cache-Control", "public, max-age=86400");
    return c.json({ code, title: p.title, status: p.status });
  });
  readOnly(app, "/problems/:code");

  return app;
}
