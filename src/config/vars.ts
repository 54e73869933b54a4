import * as z from "zod/mini";
import { DEFAULT_UPSTREAM_BUDGET_PER_MINUTE } from "../budget/ledger";

/**
 * Parsing the Worker's vars: each one's schema and default, as strings arrive from
 * wrangler.toml and secrets. What an invalid value means for the operator (an issue or a
 * warning, and the fallback) is config/load.ts's.
 */

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

export const configSchema = z.object({
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

type Shape = typeof configSchema.shape;
/** The name of a var the config schema parses. */
export type VarName = keyof Shape;
/** Every var, parsed. */
export type ParsedVars = { [K in VarName]: z.output<Shape[K]> };
