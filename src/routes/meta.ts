import { Hono } from "hono";
import { META_TAG } from "../cache/purge";
import { cacheStats } from "../cache/stats";
import { type AppEnv, type Env, loadConfig } from "../env";
import { ApiError, PROBLEMS, type ProblemCode } from "../errors";
import { readOnly } from "../http/methods";
import { addHeader, send } from "../http/send";
import { sha256, sha256Base64 } from "../lib/hash";
import { openApiFor } from "../openapi";
import { DOCS_CSS, docsPage } from "../render/docs";
import { PROBLEM_GUIDE, PROBLEM_PAGE_CSS, problemPage } from "../render/problem-page";
import { breakerStates, upstreamHealth } from "../upstream/guard";

/** The header that carries the OPERATOR_KEY (not Authorization: nothing here takes a Bearer token). */
export const OPERATOR_HEADER = "X-Operator-Key";

/** Days of token life left below which /healthz says "warn". */
export const TOKEN_WARN_DAYS = 14;
const DAY_MS = 86_400_000;

/** Service routes that never touch BeatPass: health, the OpenAPI document and docs, problem type pages. */
export function metaRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // Everyone learns whether the proxy is healthy (a monitor needs no secret for that); only
  // the operator's key shows why and the rest (upstream base, breakers, headroom, counters).
  app.get("/healthz", async (c) => {
    const report = healthReport(c.env, Date.now());
    const status = report.status === "error" ? 503 : 200;
    addHeader(c, "Vary", OPERATOR_HEADER);
    const headers = { "Cache-Control": "no-store", "Content-Type": "application/json" };
    if (await isOperator(c.env, c.req.header(OPERATOR_HEADER))) return send(c, JSON.stringify(report), status, headers);
    if (status === 503)
      throw new ApiError("unhealthy", "The proxy cannot serve data as configured; its operator's /healthz says why.");
    return send(c, JSON.stringify({ status: report.status }), 200, headers);
  });
  readOnly(app, "/healthz");

  app.get("/openapi.json", (c) => {
    c.header("Cache-Control", "public, max-age=300");
    c.header("Cache-Tag", META_TAG);
    return c.body(openApiFor(new URL(c.req.url).origin).text, 200, { "Content-Type": "application/json" });
  });
  readOnly(app, "/openapi.json");

  app.get("/docs", async (c) => {
    c.header("Cache-Control", "public, max-age=300");
    c.header("Cache-Tag", META_TAG);
    c.header(
      "Content-Security-Policy",
      `default-src 'none'; style-src 'sha256-${await sha256Base64(DOCS_CSS)}'; img-src data:; base-uri 'none'; form-action 'none'`,
    );
    return c.html(docsPage(openApiFor(new URL(c.req.url).origin).doc as Parameters<typeof docsPage>[0]));
  });
  readOnly(app, "/docs");

  // Problem `type` URIs resolve here, so a developer can look a code up.
  // A browser gets a page (what happened, why, what to do); anything else the same as JSON.
  app.get("/problems/:code", async (c) => {
    const code = c.req.param("code");
    if (!Object.hasOwn(PROBLEMS, code)) throw new ApiError("not_found", "There is no such problem type.");
    const p = PROBLEMS[code as ProblemCode];
    c.header("Cache-Control", "public, max-age=86400");
    c.header("Cache-Tag", META_TAG);
    c.header("Vary", "Accept");
    if (prefersHtml(c.req.header("Accept"))) {
      c.header(
        "Content-Security-Policy",
        `default-src 'none'; style-src 'sha256-${await sha256Base64(PROBLEM_PAGE_CSS)}'; base-uri 'none'; form-action 'none'`,
      );
      return c.html(problemPage(code as ProblemCode));
    }
    const guide = PROBLEM_GUIDE[code as ProblemCode];
    return c.json({ code, title: p.title, status: p.status, why: guide.why, todo: guide.todo });
  });
  readOnly(app, "/problems/:code");

  return app;
}

/**
 * Whether the OPERATOR_KEY was presented in X-Operator-Key. Digests of both are compared in
 * constant time: equal lengths whatever was sent, and no early exit to time.
 */
async function isOperator(env: Env, presented: string | undefined): Promise<boolean> {
  const key = env.OPERATOR_KEY?.trim();
  if (!key || !presented) return false;
  const [a, b] = await Promise.all([sha256(key), sha256(presented)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/**
 * What an operator needs at a glance, with a `status` ("ok", "warn", "error"; /healthz
 * answers 503 for "error"). Every config sentence names its var; a missing token is told
 * apart from a wrong var. It says whether a token exists, never anything derived from it.
 */
export function healthReport(env: Env, now: number) {
  const result = loadConfig(env);
  const tokenConfigured = Boolean(env.BEATPASS_TOKEN?.trim());
  if (!result.ok)
    return {
      status: "error",
      token_configured: tokenConfigured,
      upstream_base: null,
      problems: result.issues,
      warnings: result.warnings,
    };
  const { config } = result;
  const daysLeft = config.tokenExpiresAt ? Math.floor((config.tokenExpiresAt.getTime() - now) / DAY_MS) : null;
  const breakers = breakerStates(now);
  const warnings: string[] = [...result.warnings];
  if (daysLeft !== null && daysLeft < TOKEN_WARN_DAYS) warnings.push(`token expires in ${daysLeft} day(s)`);
  if (Object.values(breakers).some((b) => b !== "closed")) warnings.push("circuit breaker open");
  const rl = upstreamHealth.rateLimit;
  return {
    status: !config.token ? "error" : warnings.length > 0 ? "warn" : "ok",
    token_configured: Boolean(config.token),
    token_next_configured: Boolean(config.tokenNext),
    token_days_left: daysLeft,
    upstream_base: config.apiBase.href.replace(/\/$/, ""),
    warnings,
    breakers,
    last_upstream_error: upstreamHealth.lastError
      ? { code: upstreamHealth.lastError.code, at: new Date(upstreamHealth.lastError.at).toISOString() }
      : null,
    rate_limit: rl
      ? {
          limit: rl.limit ?? null,
          remaining: rl.remaining ?? null,
          reset_at: rl.resetAt ?? null,
          seen_at: new Date(rl.seenAt).toISOString(),
        }
      : null,
    cache: cacheStats,
  };
}

/** Whether an Accept header ranks text/html above JSON (a browser's does; fetch's default does not). */
function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = accept.indexOf("text/html");
  const json = accept.indexOf("json");
  return html >= 0 && (json < 0 || html < json);
}
