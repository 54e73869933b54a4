import { Hono } from "hono";
import { admissionHealth } from "../budget/admission";
import { BUDGET_OBJECT_NAME } from "../budget/keeper";
import { within } from "../budget/stubs";
import { META_TAG } from "../cache/purge";
import { cacheStats } from "../cache/stats";
import { ipLimitKey } from "../clients/ip";
import { type AppEnv, type Env, loadConfig } from "../env";
import { ApiError, PROBLEMS, type ProblemCode } from "../errors";
import { readOnly } from "../http/methods";
import { addHeader, send } from "../http/send";
import { sha256, sha256Base64 } from "../lib/hash";
import { upstreamHealth } from "../upstream/health";

/** The header that carries the OPERATOR_KEY (not Authorization: nothing here takes a Bearer token). */
export const OPERATOR_HEADER = "X-Operator-Key";

/** Days of token life left below which /healthz says "warn". */
export const TOKEN_WARN_DAYS = 14;
const DAY_MS = 86_400_000;

/** Service routes that never touch BeatPass: health, the OpenAPI document and docs, problem type pages. */
export function metaRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // Everyone learns whether the proxy is healthy (a monitor needs no secret for that); only
  // the operator's key shows why and the rest (upstream base, breakers, headroom, counters,
  // and the keeper's deployment-wide view of the budget).
  app.get("/healthz", async (c) => {
    const now = Date.now();
    const report = healthReport(c.env, now);
    const status = report.status === "error" ? 503 : 200;
    addHeader(c, "Vary", OPERATOR_HEADER);
    const headers = { "Cache-Control": "no-store", "Content-Type": "application/json" };
    const presented = c.req.header(OPERATOR_HEADER);
    if (presented !== undefined) {
      await limitGuesses(c.env, c.req.header("CF-Connecting-IP"));
      if (await isOperator(c.env, presented)) {
        const deployment = await keeperView(c.env);
        const full = "budget" in report ? { ...report, budget: { ...report.budget, deployment } } : report;
        return send(c, JSON.stringify(full), status, headers);
      }
    }
    if (status === 503)
      throw new ApiError("unhealthy", "The proxy cannot serve data as configured; its operator's /healthz says why.");
    return send(c, JSON.stringify({ status: report.status }), 200, headers);
  });
  readOnly(app, "/healthz");

  // The document, the docs page and the problem pages are imported by the first request that
  // shows them: no other route parses or builds them (src/index.ts).
  app.get("/openapi.json", async (c) => {
    const { openApiFor } = await import("../openapi");
    c.header("Cache-Control", "public, max-age=300");
    c.header("Cache-Tag", META_TAG);
    return c.body(openApiFor(new URL(c.req.url).origin).text, 200, { "Content-Type": "application/json" });
  });
  readOnly(app, "/openapi.json");

  // The renderer and the document it shows are static assets; this page only points at them.
  app.get("/docs", async (c) => {
    const { docsCsp, docsPage } = await import("../render/docs-page");
    c.header("Cache-Control", "public, max-age=300");
    c.header("Cache-Tag", META_TAG);
    c.header("Content-Security-Policy", docsCsp(new URL(c.req.url).origin));
    return c.html(docsPage());
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
    const { PROBLEM_GUIDE, PROBLEM_PAGE_CSS, problemPage } = await import("../render/problem-page");
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
 * Every X-Operator-Key presented counts against its client's OPERATOR_GUESSES limit
 * (wrangler.toml: a few a minute), right or wrong, so the key cannot be guessed at speed:
 * past it, 429 whatever the key, until the minute is over.
 */
async function limitGuesses(env: Env, ip: string | undefined): Promise<void> {
  const limiter = env.OPERATOR_GUESSES;
  if (!limiter) return;
  const { success } = await limiter.limit({ key: ipLimitKey(ip) });
  if (!success)
    throw new ApiError("rate_limited", "Too many operator keys tried from this address; wait a minute.", {
      headers: { "Retry-After": "60" },
    });
}

/** The keeper's view of the whole deployment's budget, or null when it cannot be asked now. */
async function keeperView(env: Env): Promise<unknown> {
  const config = loadConfig(env);
  const ns = env.UPSTREAM_BUDGET;
  if (!config.ok || !ns) return null;
  try {
    const stub = ns.get(ns.idFromName(BUDGET_OBJECT_NAME));
    return await within(stub.status(config.config.budgetPerMinute), config.config.budgetTimeoutMs);
  } catch {
    return null;
  }
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
  const { breakers, viewers_refused_recently, ...lease } = admissionHealth(now);
  const warnings: string[] = [...result.warnings];
  if (daysLeft !== null && daysLeft < TOKEN_WARN_DAYS) warnings.push(`token expires in ${daysLeft} day(s)`);
  if (Object.values(breakers).some((b) => b !== "closed")) warnings.push("circuit breaker open");
  if (viewers_refused_recently) warnings.push("viewers' uncached requests refused for budget in the last minute");
  const rl = upstreamHealth.rateLimit;
  return {
    status: !config.token ? "error" : viewers_refused_recently ? "degraded" : warnings.length > 0 ? "warn" : "ok",
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
    budget: { isolate: lease } as { isolate: typeof lease; deployment?: unknown },
  };
}

/** Whether an Accept header ranks text/html above JSON (a browser's does; fetch's default does not). */
function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = accept.indexOf("text/html");
  const json = accept.indexOf("json");
  return html >= 0 && (json < 0 || html < json);
}
