import { PROBLEMS, type ProblemCode } from "../errors";
import { esc } from "./escape";

/**
 * What /problems/<code> tells a person who followed a problem's `type` URI: what happened,
 * why, and what to do. Machines get the same facts as JSON (src/routes/meta.ts).
 */
export const PROBLEM_GUIDE: Record<ProblemCode, { why: string; todo: string }> = {
  invalid_request: {
    why: "A path, query or body parameter did not pass validation; `errors` names each one.",
    todo: "Fix the parameters listed in `errors` and send the request again.",
  },
  invalid_api_key: {
    why: "The X-Api-Key header holds a key that is unknown, revoked or expired.",
    todo: "Ask the operator for a valid key, or omit the header to use the anonymous tier.",
  },
  invalid_signature: {
    why: "The purge webhook's signature header is missing, malformed, too old, or does not match the body.",
    todo: "Sign `<timestamp>.<body>` with the shared secret (HMAC-SHA256) at the moment you send it.",
  },
  not_public: {
    why: "oEmbed: BeatPass says this item exists but is not public. oEmbed 1.0 answers a private resource with 401.",
    todo: "Link to the item's BeatPass page instead of embedding it; BeatPass decides who may see it.",
  },
  forbidden: {
    why: "BeatPass says this resource exists but is not public.",
    todo: "Nothing to retry: only its owner can make it public on BeatPass.",
  },
  not_found: {
    why: "The path does not exist here, or BeatPass has no resource with this id.",
    todo: "Check the id or the path; an id BeatPass does not know stays unknown.",
  },
  method_not_allowed: {
    why: "This path does not take this HTTP method.",
    todo: "Use one of the methods in the Allow header.",
  },
  signature_replayed: {
    why: "This exact purge signature was used before; each purge must be signed afresh.",
    todo: "Sign the purge again with the current time and send it.",
  },
  gone: {
    why: "BeatPass removed this resource.",
    todo: "Remove the link or embed: it will not come back.",
  },
  payload_too_large: {
    why: "The request body is larger than this endpoint accepts (8 KiB for the purge webhook).",
    todo: "Send fewer resources per purge, in several requests.",
  },
  rate_limited: {
    why: "Your client (address or API key) has used its requests for this minute.",
    todo: "Wait for Retry-After seconds; an API key with a higher tier allows more.",
  },
  client_miss_budget: {
    why: "Your client caused too many requests to BeatPass (uncached data) this minute, or more than its share while the budget is under pressure.",
    todo: "Wait for Retry-After seconds; cached data keeps being served to you meanwhile.",
  },
  render_budget: {
    why: "Your client (address or API key) had too many SVG or PNG cards drawn afresh in the last ten seconds: cards with options no one asked for recently (each accent or width is a new card) have to be drawn, and drawing a PNG costs far more than serving one already drawn.",
    todo: "Wait for Retry-After seconds; cards already drawn keep being served meanwhile. Keep card options fixed (one accent, the standard widths), or use an API key with a higher tier.",
  },
  raster_unavailable: {
    why: "PNG cards are drawn by a second Worker (the rasteriser) that this deployment does not have or that failed.",
    todo: "Use the SVG or HTML card meanwhile; the operator deploys raster/ (see docs/widgets.md).",
  },
  unhealthy: {
    why: "/healthz found the proxy unable to serve data as configured (a missing binding, an unusable BEATPASS_API_BASE or no token).",
    todo: "Operators: ask /healthz with the X-Operator-Key header (OPERATOR_KEY) to read which setting, then fix it and redeploy.",
  },
  internal: {
    why: "An unexpected error in this proxy; it has been logged with the request id.",
    todo: "Retry after Retry-After; if it persists, report the request id to the operator.",
  },
  unsupported_format: {
    why: "oEmbed was asked for a format this proxy does not produce (only json).",
    todo: "Ask for format=json. Retrying the same request gives the same answer.",
  },
  upstream_rejected: {
    why: "BeatPass refused a request this proxy had validated.",
    todo: "Retry after Retry-After; if it persists, BeatPass has changed and the operator should know.",
  },
  upstream_error: {
    why: "BeatPass failed to answer (a server error on its side).",
    todo: "Retry after Retry-After.",
  },
  upstream_unreachable: {
    why: "BeatPass could not be reached over the network.",
    todo: "Retry after Retry-After.",
  },
  upstream_redirect: {
    why: "BeatPass answered with a redirect, which this proxy never follows with its credentials.",
    todo: "Retry after Retry-After; if it persists, tell the operator.",
  },
  upstream_invalid_json: {
    why: "BeatPass's answer was not JSON (for example an error page from a network device in front of it).",
    todo: "Retry after Retry-After.",
  },
  upstream_schema_mismatch: {
    why: "BeatPass's answer did not have the expected shape, or was about another item than the one asked for.",
    todo: "Retry after Retry-After; a copy cached before is served meanwhile where one exists.",
  },
  upstream_too_large: {
    why: "BeatPass's answer was larger than this proxy accepts.",
    todo: "Ask for a smaller page (per_page), or retry later.",
  },
  config_error: {
    why: "The proxy's operator has not configured something it needs (the BeatPass token, a variable, the purge secret).",
    todo: "Retry after Retry-After; the operator can see which setting in the logs and /healthz.",
  },
  purge_unavailable: {
    why: "The purge could not be recorded just now.",
    todo: "Sign the purge afresh and send it again after Retry-After.",
  },
  upstream_unauthorized: {
    why: "BeatPass did not accept the proxy's credentials.",
    todo: "Retry after Retry-After; the operator must rotate the BeatPass token.",
  },
  upstream_rate_limited: {
    why: "BeatPass's rate limit for this proxy is used up; every request to it waits until it resets.",
    todo: "Retry after Retry-After; cached data is served meanwhile.",
  },
  upstream_unavailable: {
    why: "BeatPass is unavailable, or failing often enough that the proxy is giving it a rest.",
    todo: "Retry after Retry-After; cached data is served meanwhile.",
  },
  upstream_budget_exhausted: {
    why: "The proxy has spent this minute's BeatPass requests, and this data is not cached yet.",
    todo: "Retry after Retry-After.",
  },
  upstream_timeout: {
    why: "BeatPass did not answer in time.",
    todo: "Retry after Retry-After.",
  },
};

const CSS =
  "body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1f2937;background:#fff}" +
  "h1{font-size:1.5rem}code{background:#f3f4f6;padding:0 .25rem;border-radius:3px}dt{font-weight:600;margin-top:1rem}" +
  "@media (prefers-color-scheme:dark){body{color:#e5e7eb;background:#111827}code{background:#374151}}";
export const PROBLEM_PAGE_CSS = CSS;

/** The HTML page for `code`: self-contained, no script, styles allowed by hash. */
export function problemPage(code: ProblemCode): string {
  const p = PROBLEMS[code];
  const g = PROBLEM_GUIDE[code];
  const code$ = (s: string) => esc(s).replace(/`([^`]+)`/g, "<code>$1</code>");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(p.title)} (${p.status}): beatpass-edge</title><style>${CSS}</style></head><body><main><h1>${esc(p.title)}</h1><p>HTTP ${p.status}, problem code <code>${esc(code)}</code>.</p><dl><dt>Why</dt><dd>${code$(g.why)}</dd><dt>What to do</dt><dd>${code$(g.todo)}</dd></dl></main></body></html>`;
}
