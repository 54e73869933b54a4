import { T } from "./files.mjs";

const CLIENT = "src/upstream/client.ts";
const BREAKER = "src/budget/breaker.ts";
const ENVELOPE = "src/upstream/envelope.ts";
const IMAGES = "src/upstream/images.ts";
const CATALOG = "src/upstream/catalog.ts";
const ENTITIES = "src/schemas/entities.ts";
const GET = "src/upstream/get.ts";
const ISOLATE_LEASE = "src/budget/isolate-lease.ts";
const GUARD = "src/budget/guard.ts";

/** The only code that talks to BeatPass: the token, its budget and what BeatPass may say. */
export const UPSTREAM = [
  // ---- what counts as data ----
  {
    id: "trust-any-2xx",
    file: CLIENT,
    from: `if (res.status !== 200) {`,
    to: `if (res.status < 200) {`,
    tests: [T.upstreamTrust],
    why: "A 206 or 299 from a proxy in front of BeatPass would be stored as the resource for hours.",
  },
  {
    id: "trust-content-type-unchecked",
    file: CLIENT,
    from: `if (!JSON_TYPE.test(res.headers.get("Content-Type") ?? "")) {`,
    to: `if (false) {`,
    tests: [T.upstreamTrust],
    why: "A CDN's or captive portal's page that happens to parse would be taken for BeatPass data.",
  },
  {
    id: "trust-plus-json-refused",
    file: CLIENT,
    from: "const JSON_TYPE = /^application\\/(?:[\\w.-]+\\+)?json\\s*(?:;|$)/i;",
    to: "const JSON_TYPE = /^application\\/json$/i;",
    tests: [T.upstreamTrust],
    why: "BeatPass answering application/json; charset=utf-8 (or a +json type) would be refused as not JSON.",
  },
  {
    id: "trust-id-unchecked",
    file: ENVELOPE,
    from: `if (expectedId !== undefined && got !== expectedId) {`,
    to: `if (false) {`,
    tests: [T.upstreamTrust],
    why: "Another item's data would be stored and served under the id asked for.",
  },
  {
    id: "trust-search-results-unchecked",
    file: CATALOG,
    from: `if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {`,
    to: `if (false) {`,
    tests: [T.upstreamTrust],
    why: "A broken search answer would be stored as 'nothing found' and replace good results on refresh.",
  },
  {
    id: "trust-url-any-scheme",
    file: ENTITIES,
    from: `z.transform((v): string | null => (WEB_URL.test(v) ? v : null)),`,
    to: `z.transform((v): string | null => v),`,
    tests: [T.upstreamTrust],
    why: "javascript: and data: links from BeatPass would reach every API consumer that renders links.",
  },
  {
    id: "trust-bidi-kept",
    file: ENTITIES,
    from: `z.transform((v) => v.replace(BIDI_CONTROLS, "")),`,
    to: `z.transform((v) => v),`,
    tests: [T.upstreamTrust],
    why: "A name could display as another (right-to-left override) in every card and consumer.",
  },
  {
    id: "client-redirect-follow",
    file: CLIENT,
    from: `redirect: "manual",`,
    to: `redirect: "follow",`,
    tests: [T.errors],
    why: "The Bearer token would follow a redirect to whatever host BeatPass (or an attacker in its place) names.",
  },
  {
    id: "client-redirect-as-status",
    file: CLIENT,
    from: `if (res.status >= 300 && res.status < 400) {`,
    to: `if (res.status >= 300 && res.status < 300) {`,
    tests: [T.errors],
    why: "A redirect would be reported as BeatPass rejecting the request, hiding what happened.",
  },
  {
    id: "client-error-body-kept",
    file: CLIENT,
    from: `    await discard(res);
    const retryAfter = parseRetryAfter(res.headers.get("Retry-After"));
    throw new UpstreamError("status", path, {`,
    to: `    const retryAfter = parseRetryAfter(res.headers.get("Retry-After"));
    throw new UpstreamError("status", path, {
      message: await res.text(),`,
    tests: [T.token, T.errors],
    why: "BeatPass's error body (which may echo the token) would travel in the error into logs.",
  },
  {
    id: "client-no-size-cap",
    file: CLIENT,
    from: `const bytes = await readCapped(res, MAX_UPSTREAM_BYTES);`,
    to: `const bytes = new Uint8Array(await res.arrayBuffer());`,
    tests: [T.errors],
    why: "An endless or huge upstream body would be buffered whole, towards the isolate's memory limit.",
  },
  {
    id: "client-retries-5xx",
    file: GET,
    from: `err.kind !== "network" ||`,
    to: `(err.kind !== "network" && err.kind !== "status") ||`,
    tests: [T.errors],
    why: "Every 5xx would be asked twice, spending BeatPass budget while it is failing.",
  },
  {
    id: "client-timeout-as-network",
    file: CLIENT,
    from: `throw new UpstreamError(signal.aborted ? "timeout" : "network", path, { cause });
  }
  const rateLimit`,
    to: `throw new UpstreamError("network", path, { cause });
  }
  const rateLimit`,
    tests: [T.errors],
    why: "A timeout would be reported as unreachable (502, and retried) instead of 504.",
  },
  {
    id: "client-slow-body-not-timeout",
    file: CLIENT,
    from: `if (cause instanceof UpstreamError) throw cause;
    throw new UpstreamError(signal.aborted ? "timeout" : "network", path, { cause });`,
    to: `if (cause instanceof UpstreamError) throw cause;
    throw new UpstreamError("network", path, { cause });`,
    tests: [T.errors],
    why: "A body that trickles past the deadline would be reported as a network failure, not a timeout.",
  },
  {
    id: "client-no-deadline",
    file: CLIENT,
    from: `      redirect: "manual",
      signal,`,
    to: `      redirect: "manual",`,
    tests: [T.errors],
    why: "A hanging BeatPass would hold every viewer's request open with no timeout.",
  },
  {
    id: "client-retry-after-unclamped",
    file: CLIENT,
    from: `return Math.min(Math.max(seconds, 1), MAX_RETRY_AFTER_SECONDS);`,
    to: `return Math.max(seconds, 1);`,
    tests: [T.unitUpstream, T.errors],
    why: "A hostile or broken Retry-After could park a whole route family for days.",
  },
  {
    id: "client-keeps-leading-with-rejected-token",
    file: GET,
    from: `return config.tokenNext && provenNext === config.tokenNext ? all.reverse() : all;`,
    to: `return all;`,
    tests: [T.resilience, T.token],
    why: "After a rotation every request would first spend a call on the dead token.",
  },
  {
    id: "client-401-flips-lead-back",
    file: GET,
    from: `if (token === up.config.tokenNext) provenNext = token;`,
    to: `provenNext = token === up.config.tokenNext ? token : undefined;`,
    tests: [T.resilience],
    why: "One resource BeatPass refuses to the new token would hand the lead back to the old one, which dies at rotation.",
  },
  {
    id: "client-next-token-on-403",
    file: GET,
    from: `err.status !== 401 || !next`,
    to: `err.status !== 403 || !next`,
    tests: [T.resilience, T.token],
    why: "A 401 would not fall back to BEATPASS_TOKEN_NEXT, so a rotation would take the proxy down.",
  },
  {
    id: "client-429-gate-on-503",
    file: GET,
    from: `if (err.kind === "status" && err.status === 429) {`,
    to: `if (err.kind === "status" && err.status === 503) {`,
    tests: [T.errors, T.resilience],
    why: "A 429 would not close the gate: everyone keeps hitting BeatPass while it asks us to stop.",
  },
  {
    id: "client-breaker-counts-4xx",
    file: CLIENT,
    from: `(err.kind === "status" && (err.status ?? 0) >= 500)`,
    to: `(err.kind === "status" && (err.status ?? 0) >= 400)`,
    tests: [T.resilience, T.budget],
    why: "Asking five times for a missing id would open the breaker for every viewer of the family.",
  },
  {
    id: "client-dot-segments",
    file: CLIENT,
    from: `if (s === "" || s === "." || s === "..") throw new Error("invalid upstream path segment");`,
    to: `if (s === "") throw new Error("invalid upstream path segment");`,
    tests: [T.unitUpstream, T.validation],
    why: "A '..' segment would walk the token to another BeatPass endpoint than the allowlisted one.",
  },
  {
    id: "client-escape-check-removed",
    file: CLIENT,
    from: `if (url.origin !== apiBase.origin || !url.pathname.startsWith(apiBase.pathname)) {`,
    to: `if (false) {`,
    tests: [T.unitUpstream],
    why: "Defence in depth against a path leaving the API base.",
    equivalent:
      "unreachable: every segment is percent-encoded (no '/', ':' or '?') and dot segments are refused just above, so no input can leave the base",
  },
  {
    id: "guard-threshold-tenfold",
    file: BREAKER,
    from: `export const BREAKER_THRESHOLD = 5;`,
    to: `export const BREAKER_THRESHOLD = 50;`,
    tests: [T.resilience],
    why: "The breaker would let 50 failures in a row through to a failing BeatPass.",
  },
  {
    id: "guard-threshold-off-by-one",
    file: BREAKER,
    from: `s.failing.size >= BREAKER_THRESHOLD`,
    to: `s.failing.size > BREAKER_THRESHOLD`,
    tests: [T.resilience, T.budget],
    why: "The breaker would open one failure later than documented.",
  },
  {
    id: "guard-concurrent-probes",
    file: BREAKER,
    // openUntil() and pass() both refuse while a probe is out; the probe flag is what both read.
    from: `s.probing = true;
  return { ok: true, probe: true };`,
    to: `return { ok: true, probe: true };`,
    tests: [T.resilience],
    why: "A half-open breaker would let every concurrent request through as a 'probe'.",
  },
  {
    id: "guard-no-cooldown",
    file: BREAKER,
    from: `s.openUntil = now + BREAKER_COOLDOWN_MS;
    logEvent("warn", "breaker_open", { family, failing_keys: s.failing.size });`,
    to: `s.openUntil = now;
    logEvent("warn", "breaker_open", { family, failing_keys: s.failing.size });`,
    tests: [T.resilience],
    why: "An open breaker would probe on the very next request instead of resting BeatPass.",
  },
  {
    id: "guard-failed-probe-no-cooldown",
    file: BREAKER,
    from: `s.openUntil = now + BREAKER_COOLDOWN_MS;
    logEvent("warn", "breaker_open", { family, failing_keys: s.failing.size, probe: true });`,
    to: `s.openUntil = now;
    logEvent("warn", "breaker_open", { family, failing_keys: s.failing.size, probe: true });`,
    tests: [T.resilience],
    why: "After a failed probe the breaker would let the next probe go at once: a failing BeatPass asked once per request instead of once per cool-down.",
  },
  {
    id: "guard-success-does-not-close",
    file: BREAKER,
    from: `s.failing.clear();
    s.openUntil = 0;`,
    to: `s.failing.clear();`,
    tests: [T.resilience],
    why: "Once open, the breaker would stay half-open forever, one probe at a time.",
  },
  // Retired with the KV-shared 429 gate (the budget keeper holds the pause now, src/budget/):
  // guard-ignores-shared-gate (same intent: client-429-not-shared, keeper-pause-not-kept,
  // window-pause-ignored) and guard-gate-recheck-rare (the keeper is asked on every miss;
  // nothing is re-read on a timer).
  {
    id: "guard-block-never-set",
    file: ISOLATE_LEASE,
    from: `if (until <= pausedUntil) return false;`,
    to: `if (until >= pausedUntil) return false;`,
    tests: [T.errors, T.resilience],
    why: "A 429 would close no gate at all.",
  },
  {
    id: "guard-retry-after-fixed",
    file: GUARD,
    from: `reason: "rate_limited", retryAfterSeconds: seconds(pausedUntil - now) };`,
    to: `reason: "rate_limited", retryAfterSeconds: 60 };`,
    tests: [T.resilience, T.errors],
    why: "Viewers would be told to wait a minute whatever BeatPass asked for.",
  },
  {
    id: "guard-breaker-counts-repeats",
    file: BREAKER,
    from: `s.failing.set(key, now);`,
    to: `s.failing.set(\`\${key}@\${now}\`, now);`,
    tests: [T.resilience, T.budget],
    why: "The breaker would count failures instead of distinct failing keys: one client repeating a broken id or two would stall the whole family for everyone.",
  },
  {
    id: "guard-breaker-window-ignored",
    file: BREAKER,
    from: `for (const [k, at] of s.failing) if (now - at > BREAKER_WINDOW_MS) s.failing.delete(k);`,
    to: ``,
    tests: [T.resilience, T.budget],
    why: "Failures spread over hours would add up until the breaker opens on a healthy BeatPass.",
  },
  {
    id: "guard-pause-local-ignored",
    file: GUARD,
    from: `if (now < pausedUntil) return { ok: false, reason: "rate_limited", retryAfterSeconds: seconds(pausedUntil - now) };`,
    to: ``,
    tests: [T.unitBudget, T.resilience, T.budget, T.errors],
    why: "This isolate would not honour its own 429: with the keeper and coordinators unreachable, its lease would keep asking BeatPass during the pause.",
  },
  {
    id: "client-429-not-shared",
    file: GET,
    from: `if (pauseHere(now + retryAfter * 1000)) await up.onRateLimited?.(retryAfter);`,
    to: `pauseHere(now + retryAfter * 1000);`,
    tests: [T.resilience, T.keeper],
    why: "A 429 seen by one isolate would reach neither the keeper nor the coordinators: every other isolate keeps asking BeatPass while it asks us to stop.",
  },
  {
    id: "envelope-schema-error-logs-body",
    file: ENVELOPE,
    from: `.map((i) => \`\${i.path.join(".") || "(root)"}: \${i.code}\`)`,
    to: `.map((i) => \`\${i.path.join(".") || "(root)"}: \${i.code} \${JSON.stringify(value)}\`)`,
    tests: [T.token, T.errors],
    why: "An unexpected upstream payload (which may echo the token) would be copied into the log.",
  },
  {
    id: "envelope-array-per-list",
    file: ENVELOPE,
    from: `  const data = parseOrThrow(arrayOf(schema), items, path);`,
    to: `  const data = parseOrThrow(z.array(schema), items, path);`,
    tests: [T.unitUpstream],
    why: "Every list BeatPass sends would build its array schema again.",
  },
  {
    id: "envelope-array-not-kept",
    file: ENVELOPE,
    from: `    arrays.set(item, array);`,
    to: ``,
    tests: [T.unitUpstream],
    why: "arrayOf would build a new array schema on every call.",
  },
  {
    id: "envelope-page-ignores-upstream",
    file: ENVELOPE,
    from: `page: (m.success && m.data.current_page) || requested.page,`,
    to: `page: requested.page,`,
    tests: [T.projection, T.unitUpstream],
    why: "Pagination would report the page asked for, not the page BeatPass returned.",
  },
  {
    id: "envelope-paginator-under-key-ignored",
    file: ENVELOPE,
    from: `const candidates = [body[key], body.pagination];`,
    to: `const candidates = [body.pagination];`,
    tests: [T.unitUpstream, T.projection],
    why: "The Laravel paginator under the entity's key (BeatPass's most common envelope) would not be read.",
  },
  {
    id: "envelope-null-group",
    file: ENVELOPE,
    from: `if (value === null || value === undefined) return [];`,
    to: `if (value === undefined) return [];`,
    tests: [T.projection, T.unitUpstream],
    why: "A search group BeatPass sends as null would fail the whole search.",
  },
  {
    id: "images-follow-redirect",
    file: IMAGES,
    from: `redirect: "manual",`,
    to: `redirect: "follow",`,
    tests: [T.widgets],
    why: "Artwork from an allowlisted host could redirect the Worker's fetch to any host.",
  },
  {
    id: "images-no-type-check",
    file: IMAGES,
    from: `if (!res.ok || !IMAGE_TYPES.has(type)) {`,
    to: `if (!res.ok) {`,
    tests: [T.widgets],
    why: "Any content (HTML, SVG with script) would be inlined into SVG cards as 'artwork'.",
  },
  {
    id: "totalof-ignores-paginator",
    file: ENVELOPE,
    from: `return total !== undefined && total >= items.length ? total : items.length;`,
    to: `return items.length;`,
    tests: [T.widgets, T.unitUpstream],
    why: "A playlist of 23 whose first page holds 20 would be '20 tracks' in JSON and on its card, with no link to the rest.",
  },
  {
    id: "totalof-believes-small-total",
    file: ENVELOPE,
    from: `return total !== undefined && total >= items.length ? total : items.length;`,
    to: `return total ?? items.length;`,
    tests: [T.widgets, T.unitUpstream],
    why: "A paginator claiming fewer items than it carries would make cards say '1 track' over a list of two.",
  },
];
