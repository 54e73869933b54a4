import { DEFAULT_UPSTREAM_BUDGET_PER_MINUTE } from "../budget/ledger";
import { defaultPolicy, parsePolicy } from "../cache/policy";
import type { Config, Env } from "../env";
import { ApiError } from "../errors";
import { logEvent } from "../lib/log";
import {
  configSchema,
  DEFAULT_API_BASE,
  DEFAULT_BUDGET_TIMEOUT_MS,
  DEFAULT_REFRESH_BUDGET_PER_MINUTE,
  DEFAULT_UPSTREAM_TIMEOUT_MS,
  type ParsedVars,
  type VarName,
} from "./vars";

/**
 * Loading the config: each var parsed on its own (config/vars.ts), an invalid one reported
 * in words an operator can act on, as an issue (no data served) or a warning (a fallback);
 * remembered once per env object. requireConfig turns issues into one 503 problem.
 */

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

/**
 * For each optional var: what it must look like, and what happens while it does not. A
 * fallback is the default, or the restrictive choice where the default would open
 * something the operator meant to close (origins, framing, image hosts).
 */
const SOFT: {
  [K in Exclude<VarName, "BEATPASS_API_BASE">]: { expected: string; effect: string; fallback?: unknown };
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
  const raw: Record<VarName, unknown> = {
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
  const d = {} as Record<VarName, unknown>;
  for (const name of Object.keys(raw) as VarName[]) {
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
  const p = d as ParsedVars;
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
