import type { Config } from "../env";
import { readCapped } from "../lib/read-capped";
import type { Trace } from "../lib/trace";
import { type RateLimitInfo, recordRateLimit } from "./health";

/**
 * Talking HTTP to BeatPass: the URL (every segment encoded), one attempt at a GET with its
 * token and deadline, what counts as data, and UpstreamError for everything else. The policy
 * around an attempt (admission, which token, a retry, what the breaker learns) is get.ts's.
 */

export type { RateLimitInfo };

/** Largest upstream body we read; anything bigger is refused before it is buffered whole. */
export const MAX_UPSTREAM_BYTES = 2 * 1024 * 1024;
const MAX_RETRY_AFTER_SECONDS = 3600;
/**
 * How long a 429 without Retry-After pauses us (and is what viewers are told): BeatPass's
 * limits are per minute (docs/beatpass-api/REFERENCE.md, "Rate limits"), so a minute is
 * the longest a spent window can last.
 */
export const RATE_LIMIT_PAUSE_SECONDS = 60;
const USER_AGENT = "beatpass-edge/0.1 (+Cloudflare Worker)";

export type UpstreamFailure =
  | "no_token"
  | "timeout"
  | "network"
  | "redirect"
  | "status"
  | "invalid_json"
  | "too_large"
  | "schema"
  | "rate_limited"
  | "circuit_open";

/** What went wrong talking to BeatPass. Carries the path, never the token or the upstream body. */
export class UpstreamError extends Error {
  readonly kind: UpstreamFailure;
  readonly path: string;
  readonly status: number | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    kind: UpstreamFailure,
    path: string,
    options: { status?: number; retryAfterSeconds?: number; cause?: unknown; message?: string } = {},
  ) {
    super(options.message ?? `upstream ${kind} on ${path}${options.status ? ` (${options.status})` : ""}`, {
      cause: options.cause,
    });
    this.name = "UpstreamError";
    this.kind = kind;
    this.path = path;
    this.status = options.status;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export interface UpstreamResponse {
  body: unknown;
  rateLimit: RateLimitInfo;
}

export type UpstreamQuery = Record<string, string | number | undefined>;

/** Builds the upstream URL from path segments; each segment is encoded and dot segments are refused. */
export function buildUpstreamUrl(apiBase: URL, segments: readonly string[], query: UpstreamQuery = {}): URL {
  const encoded = segments.map((s) => {
    // encodeURIComponent leaves "." alone, and URL resolution would collapse "..": refuse both.
    if (s === "" || s === "." || s === "..") throw new Error("invalid upstream path segment");
    return encodeURIComponent(s);
  });
  const url = new URL(encoded.join("/"), apiBase);
  if (url.origin !== apiBase.origin || !url.pathname.startsWith(apiBase.pathname)) {
    throw new Error("upstream path escaped the API base");
  }
  for (const [k, v] of Object.entries(query).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  return url;
}

/** Everything one upstream call needs besides the path: config, family, budget, deadline. */
export interface UpstreamContext {
  config: Config;
  /** The route family, for the breaker. */
  family: string;
  timeoutMs: number;
  /** Tells every other isolate about a 429 (the budget keeper). */
  onRateLimited?(retryAfterSeconds: number): Promise<void> | void;
  /** Where to note the upstream status and time for the request log. */
  trace?: Trace;
}

/** Signs that BeatPass itself is failing (5xx, timeout, network): what opens the breaker. */
export function isUpstreamFailure(err: unknown): boolean {
  if (!(err instanceof UpstreamError)) return false;
  return err.kind === "timeout" || err.kind === "network" || (err.kind === "status" && (err.status ?? 0) >= 500);
}

/**
 * One GET of `url` with `token`, no retry: the request never follows a redirect, and only a
 * 200 with a JSON body within MAX_UPSTREAM_BYTES, read before `deadline`, is data; anything
 * else is an UpstreamError that says which (get.ts decides what to retry).
 */
export async function attemptGet(url: URL, path: string, token: string, deadline: number): Promise<UpstreamResponse> {
  const signal = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
  let res: Response;
  try {
    res = await fetch(url, {
      method: "GET",
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json", "User-Agent": USER_AGENT },
      redirect: "manual",
      signal,
    });
  } catch (cause) {
    throw new UpstreamError(signal.aborted ? "timeout" : "network", path, { cause });
  }
  const rateLimit = readRateLimit(res.headers);
  recordRateLimit(rateLimit, Date.now());

  if (res.status >= 300 && res.status < 400) {
    await discard(res);
    throw new UpstreamError("redirect", path, { status: res.status });
  }
  if (!res.ok) {
    // The body is never read: nothing BeatPass says in an error may reach a viewer.
    await discard(res);
    const retryAfter = parseRetryAfter(res.headers.get("Retry-After"));
    throw new UpstreamError("status", path, {
      status: res.status,
      retryAfterSeconds: retryAfter ?? (res.status === 429 ? RATE_LIMIT_PAUSE_SECONDS : undefined),
    });
  }

  // Only a 200 with a JSON body is data: a 204, 206 or 299 (a proxy's partial or empty
  // answer) or an HTML page with status 200 (a captive portal, a CDN's error page) is not.
  if (res.status !== 200) {
    await discard(res);
    throw new UpstreamError("schema", path, {
      status: res.status,
      message: `upstream answered ${res.status} on ${path}`,
    });
  }
  if (!JSON_TYPE.test(res.headers.get("Content-Type") ?? "")) {
    await discard(res);
    throw new UpstreamError("invalid_json", path, {
      status: res.status,
      message: `upstream content type is not JSON on ${path}`,
    });
  }

  let text: string;
  try {
    const bytes = await readCapped(res, MAX_UPSTREAM_BYTES);
    if (!bytes) throw new UpstreamError("too_large", path, { status: res.status });
    text = new TextDecoder().decode(bytes);
  } catch (cause) {
    if (cause instanceof UpstreamError) throw cause;
    throw new UpstreamError(signal.aborted ? "timeout" : "network", path, { cause });
  }
  try {
    return { body: JSON.parse(text), rateLimit };
  } catch (cause) {
    throw new UpstreamError("invalid_json", path, { status: res.status, cause });
  }
}

/** application/json, or any +json type (RFC 6839), with parameters. */
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // Cancelling an already-failed stream can throw; there is nothing left to clean up.
  }
}

/** Retry-After as seconds (delta or HTTP date), clamped so a hostile value cannot park us for days. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  let seconds: number;
  if (/^\d+$/.test(trimmed)) seconds = Number(trimmed);
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    seconds = Math.ceil((at - now) / 1000);
  }
  return Math.min(Math.max(seconds, 1), MAX_RETRY_AFTER_SECONDS);
}

function readRateLimit(headers: Headers): RateLimitInfo {
  const num = (name: string) => {
    const v = headers.get(name);
    return v !== null && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
  };
  return {
    limit: num("X-RateLimit-Limit"),
    remaining: num("X-RateLimit-Remaining"),
    resetAt: num("X-RateLimit-Reset"),
  };
}
