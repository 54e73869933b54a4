import * as z from "zod/mini";
import type { KeyCoordinator } from "./budget/coordinator";
import type { UpstreamBudget } from "./budget/keeper";
import { DEFAULT_UPSTREAM_BUDGET_PER_MINUTE } from "./budget/ledger";
import { type CachePolicy, defaultPolicy, parsePolicy } from "./cache/policy";
import { ApiError } from "./errors";
import { logEvent } from "./lib/log";
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

export const DEFAULT_API_BASE = "https://open.beatpass.ca/api/v1";
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 8000;
/** A fifth of BeatPass's 300/minute: refresh-ahead must never crowd out viewers' misses. */
export const DEFAULT_REFRESH_BUDGET_PER_MINUTE = 60;
/** Long enough for a keeper across the world (~150 ms) on a bad day; short enough for a viewer. */
export const DEFAULT_BUDGET_TIMEOUT_MS = 1000;
/** BeatPass's own domain. The documented examples only show placeholder hosts, so operators add real image hosts here. */
export const DEFAULT_IMAGE_HOSTS = "beatpass.ca,*.beatpass.ca";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

// Plain http is allowed only towards this machine (the local fake BeatPass);
// anywhere else the Bearer token would cross the network in clear text.
const apiBaseSchema = z
  .pipe(
    z.url(),
    z.transform((raw: string) => new URL(raw.endsWith("/") ? raw : `${raw}/`)),
  )
  .check(
    z.refine((u) => u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK_HOSTS.has(u.hostname)), {
      message: "must be https (http only for a loopback host)",
    }),
    z.refine((u) => !u.username && !u.password && !u.search && !u.hash, {
      message: "must not carry credentials, a query or a fragment",
    }),
  );

const optionalSecret = z.optional(
  z.pipe(
    z.string().check(z.trim()),
    z.transform((t: string) => (t === "" ? undefined : t)),
  ),
);

/** A comma (or whitespace) separated list, each item checked by `item`. */
const list = <T extends z.ZodMiniType<unknown, string>>(
  separator: RegExp,
  item: T,
  normalise: (s: string) => string = (s) => s,
) =>
  z.pipe(
    z.pipe(
      z.string(),
      z.transform((s: string) =>
        s
          .split(separator)
          .map((x) => normalise(x.trim()))
          .filter(Boolean),
      ),
    ),
    z.array(item),
  );

const bounded = (min: number, max: number, fallback: number) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max)), fallback);

const configSchema = z.object({
  BEATPASS_API_BASE: z._default(apiBaseSchema, new URL(`${DEFAULT_API_BASE}/`)),
  BEATPASS_TOKEN: optionalSecret,
  BEATPASS_TOKEN_NEXT: optionalSecret,
  BEATPASS_TOKEN_EXPIRES_AT: z.optional(
    z.pipe(
      z.union([z.iso.date(), z.iso.datetime({ offset: true })]),
      z.transform((s: string) => new Date(s)),
    ),
  ),
  UPSTREAM_TIMEOUT_MS: bounded(10, 30_000, DEFAULT_UPSTREAM_TIMEOUT_MS),
  REFRESH_BUDGET_PER_MINUTE: bounded(0, 300, DEFAULT_REFRESH_BUDGET_PER_MINUTE),
  // Above BeatPass's documented 300 only for a token BeatPass has granted more (and benchmarks).
  UPSTREAM_BUDGET_PER_MINUTE: bounded(1, 100_000, DEFAULT_UPSTREAM_BUDGET_PER_MINUTE),
  UPSTREAM_BUDGET_TIMEOUT_MS: bounded(10, 30_000, DEFAULT_BUDGET_TIMEOUT_MS),
  IMAGE_HOSTS: z._default(
    list(
      /,/,
      z.string().check(z.regex(/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/, "hosts are host, host:port or *.domain")),
      (h) => h.toLowerCase(),
    ).check(z.maxLength(20)),
    DEFAULT_IMAGE_HOSTS.split(","),
  ),
  // Each source is `*`, `'self'`, `'none'` or an http(s) origin (wildcard subdomain allowed).
  FRAME_ANCESTORS: z._default(
    z.pipe(
      list(
        /\s+/,
        z
          .string()
          .check(
            z.regex(/^(\*|'self'|'none'|https?:\/\/(\*\.)?[a-z0-9.-]+(:\d{1,5})?)$/i, "invalid frame-ancestors source"),
          ),
      ).check(z.minLength(1)),
      z.transform((sources: string[]) => sources.join(" ")),
    ),
    "*",
  ),
  ALLOWED_ORIGINS: z.optional(
    list(
      /,/,
      z.string().check(z.regex(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i, "origins are scheme://host[:port]")),
      (o) => o.toLowerCase(),
    ).check(z.minLength(1)),
  ),
  PURGE_WEBHOOK_SECRET: z.pipe(
    optionalSecret,
    z.optional(z.string().check(z.minLength(32, "must be at least 32 characters"))),
  ),
  CACHE_FAST_TIERS: z._default(
    z.pipe(
      list(/,/, z.enum(["memory", "cache_api", "none"])),
      z.transform((tiers: ("memory" | "cache_api" | "none")[]) => ({
        memory: tiers.includes("memory"),
        cacheApi: tiers.includes("cache_api"),
      })),
    ),
    { memory: true, cacheApi: true },
  ),
  REQUEST_LOG: z._default(z.enum(["all", "misses", "off"]), "misses"),
  // A share of cache hits logged when REQUEST_LOG=misses: "0.01" or "1%".
  REQUEST_LOG_SAMPLE: z._default(
    z
      .pipe(
        z.string().check(z.regex(/^\d+(\.\d+)?%?$/)),
        z.transform((s: string) => (s.endsWith("%") ? Number(s.slice(0, -1)) / 100 : Number(s))),
      )
      .check(z.refine((n) => n >= 0 && n <= 1)),
    0.01,
  ),
});

/**
 * What the operator should know about the config, one sentence each, naming the var and
 * what it expects. `issues` stop data routes (503 config_error); `warnings` each disable or
 * default one feature and nothing else.
 */
export type ConfigResult =
  | { ok: true; config: Config; warnings: string[] }
  | { ok: false; issues: string[]; warnings: string[] };

// env is the same object for every request an isolate serves, so parse it once.
const parsed = new WeakMap<object, ConfigResult>();

/** Parses the Worker's vars and secrets into a typed Config, once per env object. */
export function loadConfig(env: Env): ConfigResult {
  const hit = parsed.get(env);
  if (hit) return hit;
  const out = parseConfig(env);
  parsed.set(env, out);
  // Once per isolate and env: the same sentences /healthz shows its operator.
  for (const message of [...(out.ok ? [] : out.issues), ...out.warnings])
    logEvent(out.ok ? "warn" : "error", "config_invalid", { message });
  return out;
}

type Shape = typeof configSchema.shape;
type Parsed = { [K in keyof Shape]: z.output<Shape[K]> };

/**
 * For each optional var: what it must look like, and what happens while it does not. A
 * fallback is the default, or the restrictive choice where the default would open
 * something the operator meant to close (origins, framing, image hosts).
 */
const SOFT: {
  [K in Exclude<keyof Shape, "BEATPASS_API_BASE">]: { expected: string; effect: string; fallback?: unknown };
} = {
  BEATPASS_TOKEN: { expected: "the BeatPass token", effect: "served anonymously" },
  BEATPASS_TOKEN_NEXT: { expected: "the next BeatPass token", effect: "no rotation" },
  BEATPASS_TOKEN_EXPIRES_AT: {
    expected: "a date such as 2027-03-01",
    effect: "the token's expiry is not tracked",
  },
  UPSTREAM_TIMEOUT_MS: {
    expected: "whole milliseconds from 10 to 30000",
    effect: `using ${DEFAULT_UPSTREAM_TIMEOUT_MS}`,
  },
  REFRESH_BUDGET_PER_MINUTE: {
    expected: "a whole number from 0 to 300",
    effect: `using ${DEFAULT_REFRESH_BUDGET_PER_MINUTE}`,
  },
  UPSTREAM_BUDGET_PER_MINUTE: {
    expected: "a whole number from 1 to 100000",
    effect: `using ${DEFAULT_UPSTREAM_BUDGET_PER_MINUTE}`,
  },
  UPSTREAM_BUDGET_TIMEOUT_MS: {
    expected: "whole milliseconds from 10 to 30000",
    effect: `using ${DEFAULT_BUDGET_TIMEOUT_MS}`,
  },
  IMAGE_HOSTS: {
    expected: "a comma list of host, host:port or *.domain (at most 20)",
    effect: "cards show no artwork",
    fallback: [],
  },
  FRAME_ANCESTORS: {
    expected: "space-separated *, 'self', 'none' or http(s) origins",
    effect: "cards may be framed only by this Worker's own pages",
    fallback: "'self'",
  },
  ALLOWED_ORIGINS: {
    expected: "a comma list of origins such as https://app.example",
    effect: "no browser origin may read the JSON API",
    fallback: [],
  },
  PURGE_WEBHOOK_SECRET: { expected: "at least 32 characters", effect: "the purge webhook is off" },
  CACHE_FAST_TIERS: {
    expected: "memory, cache_api, both (comma list) or none",
    effect: "using memory,cache_api",
  },
  REQUEST_LOG: { expected: "all, misses or off", effect: "using misses" },
  REQUEST_LOG_SAMPLE: { expected: "a share of hits from 0 to 1, or a percentage such as 1%", effect: "using 1%" },
};

function parseConfig(env: Env): ConfigResult {
  const raw: Record<keyof Shape, unknown> = {
    BEATPASS_API_BASE: env.BEATPASS_API_BASE || undefined,
    BEATPASS_TOKEN: env.BEATPASS_TOKEN,
    BEATPASS_TOKEN_NEXT: env.BEATPASS_TOKEN_NEXT,
    BEATPASS_TOKEN_EXPIRES_AT: env.BEATPASS_TOKEN_EXPIRES_AT || undefined,
    UPSTREAM_TIMEOUT_MS: env.UPSTREAM_TIMEOUT_MS || undefined,
    REFRESH_BUDGET_PER_MINUTE: env.REFRESH_BUDGET_PER_MINUTE || undefined,
    UPSTREAM_BUDGET_PER_MINUTE: env.UPSTREAM_BUDGET_PER_MINUTE || undefined,
    UPSTREAM_BUDGET_TIMEOUT_MS: env.UPSTREAM_BUDGET_TIMEOUT_MS || undefined,
    IMAGE_HOSTS: env.IMAGE_HOSTS || undefined,
    FRAME_ANCESTORS: env.FRAME_ANCESTORS || undefined,
    ALLOWED_ORIGINS: env.ALLOWED_ORIGINS || undefined,
    PURGE_WEBHOOK_SECRET: env.PURGE_WEBHOOK_SECRET,
    CACHE_FAST_TIERS: env.CACHE_FAST_TIERS || undefined,
    REQUEST_LOG: env.REQUEST_LOG || undefined,
    REQUEST_LOG_SAMPLE: env.REQUEST_LOG_SAMPLE || undefined,
  };
  const issues: string[] = [];
  const warnings: string[] = [];
  const d = {} as Record<keyof Shape, unknown>;
  for (const name of Object.keys(raw) as (keyof Shape)[]) {
    const result = configSchema.shape[name].safeParse(raw[name]);
    if (result.success) {
      d[name] = result.data;
      continue;
    }
    if (name === "BEATPASS_API_BASE") {
      issues.push(
        `BEATPASS_API_BASE is invalid: expected an https URL such as ${DEFAULT_API_BASE} (http only for a loopback host), without credentials, query or fragment; no data can be served until it is fixed.`,
      );
      continue;
    }
    const soft = SOFT[name];
    // Values are not repeated: a URL may carry credentials, a secret is a secret.
    warnings.push(`${name} is invalid: expected ${soft.expected}; ${soft.effect}.`);
    d[name] = "fallback" in soft ? soft.fallback : configSchema.shape[name].parse(undefined);
  }
  const policy = parsePolicy(env.CACHE_POLICY || undefined);
  if (!policy.ok) warnings.push(`${policy.issue}; using the default cache windows.`);
  // Bindings, by name: a missing one is a deployment mistake worth a clear sentence, not a TypeError.
  if (!env.BEATPASS_CACHE)
    issues.push(
      'BEATPASS_CACHE: the KV namespace binding is missing (wrangler.toml [[kv_namespaces]] binding = "BEATPASS_CACHE"); no data can be served until it is bound.',
    );
  if (!env.UPSTREAM_BUDGET)
    issues.push(
      "UPSTREAM_BUDGET: the budget keeper's Durable Object binding is missing (wrangler.toml [[durable_objects.bindings]]); every BeatPass request is spent from its leases, so no uncached data can be served until it is bound.",
    );
  if (!env.COORDINATORS)
    warnings.push(
      "COORDINATORS: the coordinators' Durable Object binding is missing (wrangler.toml [[durable_objects.bindings]]); isolates load a key each on their own (the budget still holds).",
    );
  if (issues.length) return { ok: false, issues, warnings };
  const p = d as Parsed;
  return {
    ok: true,
    warnings,
    config: {
      apiBase: p.BEATPASS_API_BASE,
      token: p.BEATPASS_TOKEN,
      tokenNext: p.BEATPASS_TOKEN_NEXT,
      tokenExpiresAt: p.BEATPASS_TOKEN_EXPIRES_AT,
      upstreamTimeoutMs: p.UPSTREAM_TIMEOUT_MS,
      policy: policy.ok ? policy.policy : defaultPolicy(),
      refreshBudgetPerMinute: p.REFRESH_BUDGET_PER_MINUTE,
      budgetPerMinute: p.UPSTREAM_BUDGET_PER_MINUTE,
      budgetTimeoutMs: p.UPSTREAM_BUDGET_TIMEOUT_MS,
      imageHosts: p.IMAGE_HOSTS,
      frameAncestors: p.FRAME_ANCESTORS,
      allowedOrigins: p.ALLOWED_ORIGINS,
      purgeSecret: p.PURGE_WEBHOOK_SECRET,
      fastTiers: p.CACHE_FAST_TIERS,
      requestLog: p.REQUEST_LOG,
      requestLogSample: p.REQUEST_LOG_SAMPLE,
    },
  };
}

/** The parsed config, or a 503 config_error problem naming what is wrong (never a value). */
export function requireConfig(env: Env): Config {
  const result = loadConfig(env);
  if (result.ok) return result.config;
  const names = result.issues.map((i) => i.split(/[ :]/)[0]).join(" and ");
  throw new ApiError(
    "config_error",
    `The proxy is misconfigured (${names}); its operator can see how in /healthz and the logs.`,
    {
      headers: { "Retry-After": "300" },
      cause: new Error(`invalid config: ${result.issues.join(" ")}`),
    },
  );
}
