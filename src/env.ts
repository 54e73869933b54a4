import { z } from "zod";
import { type CachePolicy, parsePolicy } from "./cache/policy";
import { ApiError } from "./errors";
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
  /** Workers Rate Limiting bindings, one per client tier (wrangler.toml [[ratelimits]]). */
  RATE_LIMIT_ANON?: RateLimit;
  RATE_LIMIT_STANDARD?: RateLimit;
  RATE_LIMIT_PARTNER?: RateLimit;
}

export interface Config {
  apiBase: URL;
  token: string | undefined;
  tokenNext: string | undefined;
  tokenExpiresAt: Date | undefined;
  upstreamTimeoutMs: number;
  policy: CachePolicy;
  refreshBudgetPerMinute: number;
  imageHosts: string[];
  frameAncestors: string;
  /** undefined = any origin. */
  allowedOrigins: string[] | undefined;
  purgeSecret: string | undefined;
  fastTiers: { memory: boolean; cacheApi: boolean };
}

export type AppEnv = {
  Bindings: Env;
  Variables: { requestId: string; trace: Trace; client: Client };
};

export const DEFAULT_API_BASE = "https://open.beatpass.ca/api/v1";
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 8000;
/** A fifth of BeatPass's 300/minute: refresh-ahead must never crowd out viewers' misses. */
export const DEFAULT_REFRESH_BUDGET_PER_MINUTE = 60;
/** BeatPass's own domain. The documented examples only show placeholder hosts, so operators add real image hosts here. */
export const DEFAULT_IMAGE_HOSTS = "beatpass.ca,*.beatpass.ca";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

// Plain http is allowed only towards this machine (the local fake BeatPass);
// anywhere else the Bearer token would cross the network in clear text.
const apiBaseSchema = z
  .url()
  .transform((raw) => new URL(raw.endsWith("/") ? raw : `${raw}/`))
  .refine((u) => u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK_HOSTS.has(u.hostname)), {
    message: "must be https (http only for a loopback host)",
  })
  .refine((u) => !u.username && !u.password && !u.search && !u.hash, {
    message: "must not carry credentials, a query or a fragment",
  });

const optionalSecret = z
  .string()
  .trim()
  .transform((t) => (t === "" ? undefined : t))
  .optional();

const configSchema = z.object({
  BEATPASS_API_BASE: apiBaseSchema.default(new URL(`${DEFAULT_API_BASE}/`)),
  BEATPASS_TOKEN: optionalSecret,
  BEATPASS_TOKEN_NEXT: optionalSecret,
  BEATPASS_TOKEN_EXPIRES_AT: z.iso
    .date()
    .or(z.iso.datetime({ offset: true }))
    .transform((s) => new Date(s))
    .optional(),
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(10).max(30_000).default(DEFAULT_UPSTREAM_TIMEOUT_MS),
  REFRESH_BUDGET_PER_MINUTE: z.coerce.number().int().min(0).max(300).default(DEFAULT_REFRESH_BUDGET_PER_MINUTE),
  IMAGE_HOSTS: z
    .string()
    .default(DEFAULT_IMAGE_HOSTS)
    .transform((s) =>
      s
        .split(",")
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(
      z.array(z.string().regex(/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/, "hosts are host, host:port or *.domain")).max(20),
    ),
  // Each source is `*`, `'self'`, `'none'` or an http(s) origin (wildcard subdomain allowed).
  FRAME_ANCESTORS: z
    .string()
    .default("*")
    .transform((s) => s.trim().split(/\s+/))
    .pipe(
      z
        .array(
          z
            .string()
            .regex(/^(\*|'self'|'none'|https?:\/\/(\*\.)?[a-z0-9.-]+(:\d{1,5})?)$/i, "invalid frame-ancestors source"),
        )
        .min(1),
    )
    .transform((list) => list.join(" ")),
  ALLOWED_ORIGINS: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((o) => o.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i, "origins are scheme://host[:port]")).min(1))
    .optional(),
  PURGE_WEBHOOK_SECRET: optionalSecret.pipe(z.string().min(32, "must be at least 32 characters").optional()),
  CACHE_FAST_TIERS: z
    .string()
    .default("memory,cache_api")
    .transform((s) =>
      s
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(["memory", "cache_api", "none"])))
    .transform((list) => ({ memory: list.includes("memory"), cacheApi: list.includes("cache_api") })),
});

export type ConfigResult = { ok: true; config: Config } | { ok: false; issues: string[] };

// env is the same object for every request an isolate serves, so parse it once.
const parsed = new WeakMap<object, ConfigResult>();

/** Parses the Worker's vars and secrets into a typed Config, once per env object. */
export function loadConfig(env: Env): ConfigResult {
  const hit = parsed.get(env);
  if (hit) return hit;
  const out = parseConfig(env);
  parsed.set(env, out);
  return out;
}

function parseConfig(env: Env): ConfigResult {
  const result = configSchema.safeParse({
    BEATPASS_API_BASE: env.BEATPASS_API_BASE || undefined,
    BEATPASS_TOKEN: env.BEATPASS_TOKEN,
    BEATPASS_TOKEN_NEXT: env.BEATPASS_TOKEN_NEXT,
    BEATPASS_TOKEN_EXPIRES_AT: env.BEATPASS_TOKEN_EXPIRES_AT || undefined,
    UPSTREAM_TIMEOUT_MS: env.UPSTREAM_TIMEOUT_MS || undefined,
    REFRESH_BUDGET_PER_MINUTE: env.REFRESH_BUDGET_PER_MINUTE || undefined,
    IMAGE_HOSTS: env.IMAGE_HOSTS || undefined,
    FRAME_ANCESTORS: env.FRAME_ANCESTORS || undefined,
    ALLOWED_ORIGINS: env.ALLOWED_ORIGINS || undefined,
    PURGE_WEBHOOK_SECRET: env.PURGE_WEBHOOK_SECRET,
    CACHE_FAST_TIERS: env.CACHE_FAST_TIERS || undefined,
  });
  const policy = parsePolicy(env.CACHE_POLICY || undefined);
  const issues = [
    ...(result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`)),
    ...(policy.ok ? [] : [policy.issue]),
  ];
  if (!result.success || !policy.ok) return { ok: false, issues };
  const d = result.data;
  return {
    ok: true,
    config: {
      apiBase: d.BEATPASS_API_BASE,
      token: d.BEATPASS_TOKEN,
      tokenNext: d.BEATPASS_TOKEN_NEXT,
      tokenExpiresAt: d.BEATPASS_TOKEN_EXPIRES_AT,
      upstreamTimeoutMs: d.UPSTREAM_TIMEOUT_MS,
      policy: policy.policy,
      refreshBudgetPerMinute: d.REFRESH_BUDGET_PER_MINUTE,
      imageHosts: d.IMAGE_HOSTS,
      frameAncestors: d.FRAME_ANCESTORS,
      allowedOrigins: d.ALLOWED_ORIGINS,
      purgeSecret: d.PURGE_WEBHOOK_SECRET,
      fastTiers: d.CACHE_FAST_TIERS,
    },
  };
}

/** The parsed config, or a 503 config_error problem when the Worker's vars are unusable. */
export function requireConfig(env: Env): Config {
  const result = loadConfig(env);
  if (result.ok) return result.config;
  // The issues name the offending var; they go to the log, never to the viewer.
  throw new ApiError("config_error", "The proxy is misconfigured; its operator can see why in the logs.", {
    headers: { "Retry-After": "300" },
    cause: new Error(`invalid config: ${result.issues.join("; ")}`),
  });
}
