import { admit, pauseHere, settle } from "../budget/admission";
import type { Config } from "../env";
import { logEvent } from "../lib/log";
import { readCapped } from "../lib/read-capped";
import type { Trace } from "../lib/trace";
import { type RateLimitInfo, recordRateLimit } from "./health";

export type { RateLimitInfo };

/** Largest upstream body we read; anything bigger is refused before it is buffered whole. */
export const MAX_UPSTREAM_BYTES = 2 * 1024 * 1024;
const MAX_RETRY_AFTER_SECONDS = 3600;
/**
 * How long a 429 without Retry-After pauses us (and is what viewers are told): BeatPass's
 * limits are per minute (docs/beatpass-api/REFERENCE.md, "Rate limits"), so a minute is
 * the longest a spent window can last.
 */
const RATE_LIMIT_PAUSE_SECONDS = 60;
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

// The BEATPASS_TOKEN_NEXT value that has worked in this isolate: from then on it leads, for
// good. A 401 alone proves nothing about a token (BeatPass may refuse one resource to any
// token), so it never demotes a token that has worked; only a success moves the lead.
let provenNext: string | undefined;
const NETWORK_RETRY_MIN_BUDGET_MS = 250;

/**
 * GETs one allowlisted BeatPass path with the token and returns the parsed JSON.
 * The 429 pause, the key's recent failures and the family's breaker are consulted first. Redirects are errors (never followed
 * with the token), bodies are size-capped, the whole exchange shares one deadline, a
 * network error is retried once (jittered) if the deadline allows, and a 401 is retried
 * once with BEATPASS_TOKEN_NEXT when one is configured.
 */
export async function upstreamGet(
  up: UpstreamContext,
  segments: readonly string[],
  query: UpstreamQuery = {},
): Promise<UpstreamResponse> {
  const url = buildUpstreamUrl(up.config.apiBase, segments, query);
  const path = `/${segments.join("/")}`;
  const tokens = tokenOrder(up.config);
  if (tokens.length === 0) throw new UpstreamError("no_token", path);

  const key = `${url.pathname}${url.search}`;
  const admission = admit(up.family, Date.now());
  if (!admission.ok) {
    throw new UpstreamError(admission.reason, path, { retryAfterSeconds: admission.retryAfterSeconds });
  }
  const started = Date.now();
  try {
    const result = await withTokens(up, url, path, tokens);
    settle(up.family, key, "ok", Date.now());
    if (up.trace) up.trace.upstreamStatus = 200;
    return result;
  } catch (err) {
    await settleFailure(up, key, err);
    if (up.trace && err instanceof UpstreamError) up.trace.upstreamStatus = err.status;
    throw err;
  } finally {
    if (up.trace) up.trace.upstreamMs = (up.trace.upstreamMs ?? 0) + (Date.now() - started);
  }
}

function tokenOrder(config: Config): string[] {
  const all = [config.token, config.tokenNext].filter((t): t is string => Boolean(t));
  return config.tokenNext && provenNext === config.tokenNext ? all.reverse() : all;
}

async function withTokens(up: UpstreamContext, url: URL, path: string, tokens: string[]): Promise<UpstreamResponse> {
  const deadline = Date.now() + up.timeoutMs;
  for (let i = 0; ; i++) {
    const token = tokens[i] as string;
    try {
      const result = await fetchOnce(url, path, token, deadline);
      if (token === up.config.tokenNext) provenNext = token;
      return result;
    } catch (err) {
      const next = tokens[i + 1];
      if (!(err instanceof UpstreamError) || err.status !== 401 || !next) throw err;
      // Which token failed, never its value.
      const which = token === up.config.token ? "BEATPASS_TOKEN" : "BEATPASS_TOKEN_NEXT";
      logEvent("warn", "token_rejected", {
        token: which,
        retrying_with: which === "BEATPASS_TOKEN" ? "BEATPASS_TOKEN_NEXT" : "BEATPASS_TOKEN",
      });
    }
  }
}

/**
 * Records a failed request; a 429 pauses this isolate at once and is told to the keeper and
 * this location's coordinator before the viewer is answered (onRateLimited), so that no other
 * isolate starts a request meanwhile.
 */
async function settleFailure(up: UpstreamContext, key: string, err: unknown): Promise<void> {
  const now = Date.now();
  if (!(err instanceof UpstreamError)) {
    settle(up.family, key, "neutral", now, "internal");
    return;
  }
  const code = err.kind === "status" ? `status_${err.status}` : err.kind;
  settle(up.family, key, isUpstreamFailure(err) ? "failure" : "neutral", now, code);
  if (err.kind === "status" && err.status === 429) {
    const retryAfter = err.retryAfterSeconds ?? RATE_LIMIT_PAUSE_SECONDS;
    if (pauseHere(now + retryAfter * 1000)) await up.onRateLimited?.(retryAfter);
  }
}

/** Signs that BeatPass itself is failing (5xx, timeout, network): what opens the breaker. */
export function isUpstreamFailure(err: unknown): boolean {
  if (!(err instanceof UpstreamError)) return false;
  return err.kind === "timeout" || err.kind === "network" || (err.kind === "status" && (err.status ?? 0) >= 500);
}

async function fetchOnce(url: URL, path: string, token: string, deadline: number): Promise<UpstreamResponse> {
  try {
    return await attempt(url, path, token, deadline);
  } catch (err) {
    const budget = deadline - Date.now();
    if (!(err instanceof UpstreamError) || err.kind !== "network" || budget < NETWORK_RETRY_MIN_BUDGET_MS) throw err;
    // One retry for connection failures only: the request never reached BeatPass's app,
    // so it costs no budget there. Jitter keeps many isolates from retrying in lockstep.
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    return attempt(url, path, token, deadline);
  }
}

async function attempt(url: URL, path: string, token: string, deadline: number): Promise<UpstreamResponse> {
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

/** Forgets which tokens were refused (tests). */
export function resetTokenState(): void {
  provenNext = undefined;
}

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
