import { z } from "zod";
import { ApiError } from "./errors";

/** Bindings declared in wrangler.toml plus the secret that `wrangler types` cannot see. */
export interface Env {
  BEATPASS_CACHE: KVNamespace;
  BEATPASS_API_BASE?: string;
  BEATPASS_TOKEN?: string;
  UPSTREAM_TIMEOUT_MS?: string;
}

export interface Config {
  apiBase: URL;
  token: string | undefined;
  upstreamTimeoutMs: number;
}

export type AppEnv = {
  Bindings: Env;
  Variables: { requestId: string; config: Config };
};

export const DEFAULT_API_BASE = "https://open.beatpass.ca/api/v1";
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 8000;

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

const configSchema = z.object({
  BEATPASS_API_BASE: apiBaseSchema.default(new URL(`${DEFAULT_API_BASE}/`)),
  BEATPASS_TOKEN: z
    .string()
    .trim()
    .transform((t) => (t === "" ? undefined : t))
    .optional(),
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(10).max(30_000).default(DEFAULT_UPSTREAM_TIMEOUT_MS),
});

export type ConfigResult = { ok: true; config: Config } | { ok: false; issues: string[] };

// env is the same object for every request an isolate serves, so parse it once.
const parsed = new WeakMap<object, ConfigResult>();

/** Parses the Worker's vars and secrets into a typed Config, once per env object. */
export function loadConfig(env: Env): ConfigResult {
  const hit = parsed.get(env);
  if (hit) return hit;
  const result = configSchema.safeParse({
    BEATPASS_API_BASE: env.BEATPASS_API_BASE || undefined,
    BEATPASS_TOKEN: env.BEATPASS_TOKEN,
    UPSTREAM_TIMEOUT_MS: env.UPSTREAM_TIMEOUT_MS || undefined,
  });
  const out: ConfigResult = result.success
    ? {
        ok: true,
        config: {
          apiBase: result.data.BEATPASS_API_BASE,
          token: result.data.BEATPASS_TOKEN,
          upstreamTimeoutMs: result.data.UPSTREAM_TIMEOUT_MS,
        },
      }
    : { ok: false, issues: result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`) };
  parsed.set(env, out);
  return out;
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
