import type { KeyCoordinator } from "./budget/coordinator";
import type { UpstreamBudget } from "./budget/keeper";
import type { CachePolicy } from "./cache/policy";
import type { Client, Trace } from "./lib/trace";

/** Bindings declared in wrangler.toml plus the secrets that `wrangler types` cannot see. */
export interface Env {
  BEATPASS_CACHE: KVNamespace;
  BEATPASS_API_BASE?: string;
  BEATPASS_TOKEN?: string;
  /** The token that replaces BEATPASS_TOKEN; tried once when BeatPass answers 401. */
  BEATPASS_TOKEN_NEXT?: string;
  /** ISO date the current token expires (BeatPass tokens last 90 days); /healthz counts down. */
  BEATPASS_TOKEN_EXPIRES_AT?: string;
  UPSTREAM_TIMEOUT_MS?: string;
  /** JSON overrides of the per-family cache windows; see src/cache/policy.ts. */
  CACHE_POLICY?: string | object;
  /** The budget keeper (a Durable Object): grants the quota leases every BeatPass request is spent from. */
  UPSTREAM_BUDGET?: DurableObjectNamespace<UpstreamBudget>;
  /** Per-location and per-key coordinators (Durable Objects): one load per key when several isolates want it. */
  COORDINATORS?: DurableObjectNamespace<KeyCoordinator>;
  /** BeatPass requests per minute the whole deployment may send (default 240 of BeatPass's 300). */
  UPSTREAM_BUDGET_PER_MINUTE?: string;
  /** How long an isolate waits for the budget keeper or a coordinator before going on without it (ms). */
  UPSTREAM_BUDGET_TIMEOUT_MS?: string;
  /** Upstream requests per minute the scheduled refresh may spend (of BeatPass's ~300). */
  REFRESH_BUDGET_PER_MINUTE?: string;
  /** Comma list of hosts widgets may show images from (`host`, `host:port`, `*.domain`). */
  IMAGE_HOSTS?: string;
  /** Space list for the widgets' CSP frame-ancestors; default `*` (embedding is the point). */
  FRAME_ANCESTORS?: string;
  /** Which fast tiers sit in front of KV: `memory,cache_api` (default), one of them, or `none`. */
  CACHE_FAST_TIERS?: string;
  /** Comma list of origins allowed by CORS on JSON routes; unset means any origin (`*`). */
  ALLOWED_ORIGINS?: string;
  /** HMAC secret of the purge webhook; without it /hooks/purge answers 503. */
  PURGE_WEBHOOK_SECRET?: string;
  /** Which requests get a log line: `misses` (default: all but fresh cache hits), `all` or `off`. */
  REQUEST_LOG?: string;
  /** With REQUEST_LOG=misses, the share of hits logged too: `0.01` (default) or `1%`. */
  REQUEST_LOG_SAMPLE?: string;
  /** Sent as X-Operator-Key, shows /healthz's details (upstream, breakers, headroom); unset: nobody. */
  OPERATOR_KEY?: string;
  /** Base of problem `type` URIs (default: the request's origin); see src/http/problem.ts. */
  PUBLIC_BASE_URL?: string;
  /** The PNG rasteriser, a second Worker (raster/); without it .png cards answer 503. */
  RASTER?: Fetcher;
  /** Workers Rate Limiting bindings, one per client tier (wrangler.toml [[ratelimits]]). */
  RATE_LIMIT_ANON?: RateLimit;
  RATE_LIMIT_STANDARD?: RateLimit;
  RATE_LIMIT_PARTNER?: RateLimit;
  /** Miss budgets per client tier: uncached requests a client may cause (src/clients/miss-budget.ts). */
  MISS_LIMIT_ANON?: RateLimit;
  MISS_LIMIT_STANDARD?: RateLimit;
  MISS_LIMIT_PARTNER?: RateLimit;
  /** Render budgets per client tier: SVG/PNG cards drawn afresh (src/clients/render-budget.ts). */
  RENDER_LIMIT_ANON?: RateLimit;
  RENDER_LIMIT_STANDARD?: RateLimit;
  RENDER_LIMIT_PARTNER?: RateLimit;
  /** X-Operator-Key tries per client address and minute (src/routes/meta.ts). */
  OPERATOR_GUESSES?: RateLimit;
}

export interface Config {
  apiBase: URL;
  token: string | undefined;
  tokenNext: string | undefined;
  tokenExpiresAt: Date | undefined;
  upstreamTimeoutMs: number;
  policy: CachePolicy;
  refreshBudgetPerMinute: number;
  budgetPerMinute: number;
  budgetTimeoutMs: number;
  imageHosts: string[];
  frameAncestors: string;
  /** undefined = any origin. */
  allowedOrigins: string[] | undefined;
  purgeSecret: string | undefined;
  fastTiers: { memory: boolean; cacheApi: boolean };
  requestLog: RequestLogMode;
  /** Share of cache hits logged when requestLog is "misses" (0..1). */
  requestLogSample: number;
}

export type RequestLogMode = "all" | "misses" | "off";

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    trace: Trace;
    client: Client;
    /** When the request arrived (ms), for Server-Timing and the log line. */
    startedAt: number;
    /** Headers every response to this request carries; see src/http/send.ts. */
    responseHeaders: Record<string, string>;
    /** The response `send` built, so `finish` knows it is complete. */
    sent: Response;
  };
};

// Reading the vars into a Config lives in config/: vars.ts parses each var, load.ts reports
// what is wrong and remembers the result. Re-exported here so a route imports one module.
export { type ConfigResult, loadConfig, requireConfig } from "./config/load";
export { DEFAULT_API_BASE } from "./config/vars";
