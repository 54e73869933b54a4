import { admit, settle } from "../budget/guard";
import { pauseHere } from "../budget/isolate-lease";
import type { Config } from "../env";
import { logEvent } from "../lib/log";
import {
  attemptGet,
  buildUpstreamUrl,
  isUpstreamFailure,
  RATE_LIMIT_PAUSE_SECONDS,
  type UpstreamContext,
  UpstreamError,
  type UpstreamQuery,
  type UpstreamResponse,
} from "./client";

/**
 * One read from BeatPass as the catalog asks for it (client.ts makes the HTTP attempts):
 * admission first, then the tokens in order, a network error retried once, and what the
 * breaker, /healthz and the 429 pause learn from how it ended.
 */

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

async function fetchOnce(url: URL, path: string, token: string, deadline: number): Promise<UpstreamResponse> {
  try {
    return await attemptGet(url, path, token, deadline);
  } catch (err) {
    const budget = deadline - Date.now();
    if (!(err instanceof UpstreamError) || err.kind !== "network" || budget < NETWORK_RETRY_MIN_BUDGET_MS) throw err;
    // One retry for connection failures only: the request never reached BeatPass's app,
    // so it costs no budget there. Jitter keeps many isolates from retrying in lockstep.
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    return attemptGet(url, path, token, deadline);
  }
}

/** Forgets which tokens were refused (tests). */
export function resetTokenState(): void {
  provenNext = undefined;
}
