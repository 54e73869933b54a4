import type { LoadRefused } from "../cache/engine";
import { ApiError, type ProblemCode } from "../errors";
import type { UpstreamError } from "../upstream/client";

/**
 * The one table from "what BeatPass did" to "what the viewer gets". The viewer learns the
 * class of failure and a retry hint; BeatPass's own message never reaches them.
 *
 * | upstream outcome            | status | code                     |
 * |-----------------------------|--------|--------------------------|
 * | 404                         | 404    | not_found                |
 * | 410                         | 410    | gone                     |
 * | 403                         | 403    | forbidden                |
 * | 400, 422, other 4xx         | 502    | upstream_rejected        |
 * | 401                         | 503    | upstream_unauthorized    |
 * | 429 (+Retry-After)          | 503    | upstream_rate_limited    |
 * | 503 (+Retry-After)          | 503    | upstream_unavailable     |
 * | other 5xx                   | 502    | upstream_error           |
 * | timeout                     | 504    | upstream_timeout         |
 * | network failure             | 502    | upstream_unreachable     |
 * | 3xx redirect                | 502    | upstream_redirect        |
 * | body not JSON               | 502    | upstream_invalid_json    |
 * | JSON not in expected shape  | 502    | upstream_schema_mismatch |
 * | body over the size cap      | 502    | upstream_too_large       |
 * | no BEATPASS_TOKEN           | 503    | config_error             |
 * | our 429 pause still running | 503    | upstream_rate_limited    |
 * | our circuit breaker open    | 503    | upstream_unavailable     |
 *
 * 400/422 become 502, not 400: input is validated before any request leaves, so BeatPass
 * refusing it means our contract with BeatPass broke, not that the caller erred.
 * 429 becomes 503: the caller did nothing wrong; the shared upstream budget ran out.
 * Every 5xx answer carries Retry-After, so clients back off instead of hammering: BeatPass's
 * own value where it gave one, else a time set here where the cause suggests one, else
 * problemResponse's one default (DEFAULT_RETRY_AFTER_SECONDS in errors.ts).
 */

interface Mapped {
  code: ProblemCode;
  detail: string;
  /** Seconds for Retry-After, where the cause suggests a time; undefined takes the default. */
  retryAfter?: number;
}

/** Turns an UpstreamError into the ApiError the viewer sees; `subject` names the resource ("track 7"). */
export function problemForUpstream(err: UpstreamError, subject: string): ApiError {
  const m = mapUpstream(err, subject);
  const headers = m.retryAfter === undefined ? undefined : { "Retry-After": String(m.retryAfter) };
  return new ApiError(m.code, m.detail, { headers, cause: err });
}

function mapUpstream(err: UpstreamError, subject: string): Mapped {
  switch (err.kind) {
    case "no_token":
      return { code: "config_error", detail: "The proxy has no BeatPass token configured.", retryAfter: 300 };
    case "timeout":
      return { code: "upstream_timeout", detail: "BeatPass did not answer in time.", retryAfter: 10 };
    case "network":
      return { code: "upstream_unreachable", detail: "BeatPass could not be reached.", retryAfter: 10 };
    case "redirect":
      return {
        code: "upstream_redirect",
        detail: "BeatPass answered with a redirect, which the proxy does not follow.",
      };
    case "invalid_json":
      return {
        code: "upstream_invalid_json",
        detail: "BeatPass sent a response that is not valid JSON.",
      };
    case "schema":
      return { code: "upstream_schema_mismatch", detail: "BeatPass sent data in an unexpected shape." };
    case "too_large":
      return {
        code: "upstream_too_large",
        detail: "BeatPass sent a response larger than the proxy accepts.",
      };
    case "rate_limited":
      return {
        code: "upstream_rate_limited",
        detail: "The proxy's BeatPass rate limit is used up.",
        retryAfter: err.retryAfterSeconds,
      };
    case "circuit_open":
      return {
        code: "upstream_unavailable",
        detail: "BeatPass is failing; the proxy is giving it a moment before asking again.",
        retryAfter: err.retryAfterSeconds,
      };
    case "status":
      return mapStatus(err.status ?? 0, err.retryAfterSeconds, subject);
  }
}

/**
 * A load the budget did not let happen (src/budget/): nobody queues, so the viewer is told
 * when to come back. (Stale copies were served before it came to this.)
 */
export function problemForRefusal(err: LoadRefused): ApiError {
  const m = mapRefusal(err);
  return new ApiError(m.code, m.detail, {
    headers: { "Retry-After": String(Math.max(1, m.retryAfter ?? err.retryAfterSeconds)) },
    cause: err,
  });
}

function mapRefusal(err: LoadRefused): Mapped {
  switch (err.reason) {
    case "paused":
      return { code: "upstream_rate_limited", detail: "The proxy's BeatPass rate limit is used up." };
    case "budget":
    case "unavailable":
      return {
        code: "upstream_budget_exhausted",
        detail: "The proxy has spent its BeatPass request budget for now; this data is not cached yet.",
      };
    case "client":
      return {
        code: "client_miss_budget",
        detail:
          "The proxy's BeatPass budget is under pressure and this client has caused its share of uncached requests. Cached data is still served; retry uncached requests after Retry-After.",
      };
    case "shared_failure":
      return { code: "upstream_error", detail: "BeatPass failed to answer a request for the same data." };
    case "shared_timeout":
    case "skipped":
      return { code: "upstream_timeout", detail: "BeatPass did not answer in time.", retryAfter: 10 };
  }
}

function mapStatus(status: number, retryAfter: number | undefined, subject: string): Mapped {
  switch (status) {
    case 404:
      return { code: "not_found", detail: `BeatPass has no ${subject}.` };
    case 410:
      return { code: "gone", detail: `The ${subject} was removed from BeatPass.` };
    case 403:
      return { code: "forbidden", detail: `The ${subject} is not publicly available on BeatPass.` };
    case 401:
      return {
        code: "upstream_unauthorized",
        detail: "BeatPass did not accept the proxy's credentials.",
        retryAfter: 300,
      };
    case 429:
      return {
        code: "upstream_rate_limited",
        detail: "The proxy's BeatPass rate limit is used up.",
        retryAfter,
      };
    case 503:
      return {
        code: "upstream_unavailable",
        detail: "BeatPass is temporarily unavailable.",
        retryAfter,
      };
  }
  if (status >= 500) return { code: "upstream_error", detail: `BeatPass failed with status ${status}.` };
  return { code: "upstream_rejected", detail: `BeatPass rejected the request with status ${status}.` };
}
