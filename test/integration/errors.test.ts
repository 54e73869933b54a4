import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app";
import type { Env } from "../../src/env";
import { ApiError, PROBLEMS, type ProblemCode } from "../../src/errors";
import worker from "../../src/index";
import { DOCUMENTED_KEY_FAILURE_MS } from "../helpers/documented";
import { byTag, parse, text } from "../helpers/dom";
import { kvWithPut, storedKey } from "../helpers/kv";
import { call, checked, expectProblem, health, ORIGIN } from "../helpers/request";
import { type FakeFault, fake, upstreamPaths } from "../helpers/upstream";
import { logLines, offNetwork } from "../setup";

/** Cache entries, leaving out the proxy's own bookkeeping keys (v1:meta:*). */
async function dataKeys(): Promise<string[]> {
  const { keys } = await env.BEATPASS_CACHE.list();
  return keys.map((k) => k.name).filter((k) => !k.startsWith("v1:meta:"));
}

// Every upstream error body carries this marker; none of it may reach a viewer.
const LEAK = "UPSTREAM-SECRET-DETAIL /var/www/app/Http/Controllers/TrackController.php:88";

interface Row {
  outcome: string;
  fault: FakeFault;
  /** How many upstream attempts the fault must spoil (network errors are retried once). */
  times?: number;
  status: number;
  code: string;
  retryAfter?: string;
}

const ROWS: Row[] = [
  {
    outcome: "400",
    fault: { kind: "status", status: 400, body: { message: LEAK } },
    status: 502,
    code: "upstream_rejected",
    retryAfter: "30",
  },
  {
    outcome: "401",
    fault: { kind: "status", status: 401, body: { message: LEAK } },
    status: 503,
    code: "upstream_unauthorized",
    retryAfter: "300",
  },
  { outcome: "403", fault: { kind: "status", status: 403, body: { message: LEAK } }, status: 403, code: "forbidden" },
  { outcome: "404", fault: { kind: "status", status: 404, body: { message: LEAK } }, status: 404, code: "not_found" },
  { outcome: "410", fault: { kind: "status", status: 410, body: { message: LEAK } }, status: 410, code: "gone" },
  {
    outcome: "422",
    fault: { kind: "status", status: 422, body: { message: LEAK, errors: { query: [LEAK] } } },
    status: 502,
    code: "upstream_rejected",
    retryAfter: "30",
  },
  {
    outcome: "429 with Retry-After",
    fault: { kind: "status", status: 429, body: { message: LEAK, retry_after: 42 }, headers: { "Retry-After": "42" } },
    status: 503,
    code: "upstream_rate_limited",
    retryAfter: "42",
  },
  {
    outcome: "429 without Retry-After",
    fault: { kind: "status", status: 429, body: { message: LEAK } },
    status: 503,
    code: "upstream_rate_limited",
    retryAfter: "60",
  },
  {
    outcome: "500",
    fault: { kind: "status", status: 500, body: { message: LEAK } },
    status: 502,
    code: "upstream_error",
    retryAfter: "30",
  },
  {
    outcome: "502",
    fault: { kind: "status", status: 502, body: LEAK },
    status: 502,
    code: "upstream_error",
    retryAfter: "30",
  },
  {
    outcome: "503",
    fault: { kind: "status", status: 503, body: { message: LEAK }, headers: { "Retry-After": "120" } },
    status: 503,
    code: "upstream_unavailable",
    retryAfter: "120",
  },
  {
    outcome: "network failure",
    fault: { kind: "network" },
    times: 2,
    status: 502,
    code: "upstream_unreachable",
    retryAfter: "10",
  },
  { outcome: "redirect", fault: { kind: "redirect" }, status: 502, code: "upstream_redirect", retryAfter: "30" },
  {
    outcome: "invalid JSON",
    fault: { kind: "invalid_json" },
    status: 502,
    code: "upstream_invalid_json",
    retryAfter: "30",
  },
  {
    outcome: "schema mismatch",
    fault: { kind: "body", body: { status: "success", track: { id: "not-a-number", name: LEAK } } },
    status: 502,
    code: "upstream_schema_mismatch",
    retryAfter: "30",
  },
  {
    outcome: "missing wrapper key",
    fault: { kind: "body", body: { status: "success" } },
    status: 502,
    code: "upstream_schema_mismatch",
    retryAfter: "30",
  },
  {
    outcome: "oversized body",
    fault: { kind: "large", bytes: 3 * 1024 * 1024 },
    status: 502,
    code: "upstream_too_large",
    retryAfter: "30",
  },
];

describe("the upstream error table", () => {
  it.each(ROWS)("BeatPass $outcome -> $status $code", async (row) => {
    const times = row.times ?? 1;
    fake.addFault({ ...row.fault, path: "/tracks/7", times });
    const res = await call("/v1/tracks/7");
    const problem = expectProblem(res, row.status, row.code);
    expect(res.headers.get("Retry-After")).toBe(row.retryAfter ?? null);
    expect(res.text).not.toContain("UPSTREAM-SECRET");
    expect(res.text).not.toContain("Too Many Attempts");
    expect(problem.detail).not.toContain("elsewhere.example");
    expect(res.headers.get("Location")).toBeNull();
    const expectedCacheControl: Record<number, string> = { 404: "public, max-age=60", 410: "public, max-age=300" };
    expect(res.headers.get("Cache-Control")).toBe(expectedCacheControl[row.status] ?? "no-store");
    expect(res.headers.get("Cache-Status")).toBeNull();
    if ([403, 404, 410].includes(row.status)) {
      // BeatPass's answers are cached as answers: the repeat costs nothing upstream.
      expect(await dataKeys()).toEqual([storedKey("v1:track:id=7")]);
      expectProblem(await call("/v1/tracks/7"), row.status, row.code);
      expect(upstreamPaths()).toEqual(["/tracks/7"]);
      return;
    }
    // Failures are never cached...
    expect(await dataKeys()).toEqual([]);
    // ...but after a 429 nothing leaves before Retry-After, and a key that failed (5xx,
    // network) is not asked for again for a few seconds: step past either.
    const failing = row.fault.kind === "network" || (row.fault.kind === "status" && (row.fault.status ?? 0) >= 500);
    const wait =
      row.code === "upstream_rate_limited" ? Number(row.retryAfter) * 1000 : failing ? DOCUMENTED_KEY_FAILURE_MS : 0;
    if (wait) {
      expect((await call("/v1/tracks/7")).status, "asked again too soon").not.toBe(200);
      expect(upstreamPaths()).toHaveLength(times);
      vi.spyOn(Date, "now").mockReturnValue(Date.now() + wait + 1000);
    }
    const again = await call("/v1/tracks/7");
    expect(again.status).toBe(200);
    expect(upstreamPaths()).toEqual(Array(times + 1).fill("/tracks/7"));
  });

  it("retries a single network failure once, transparently", async () => {
    fake.addFault({ kind: "network", path: "/tracks/7", times: 1 });
    expect((await call("/v1/tracks/7")).status).toBe(200);
    expect(upstreamPaths()).toEqual(["/tracks/7", "/tracks/7"]);
  });

  it("does not retry a timeout or a 5xx", async () => {
    fake.addFault({ kind: "status", status: 500, path: "/tracks/7", times: 1 });
    expect((await call("/v1/tracks/7")).status).toBe(502);
    expect(upstreamPaths()).toEqual(["/tracks/7"]);
  });

  it("an upstream timeout -> 504 upstream_timeout with Retry-After", async () => {
    fake.addFault({ kind: "hang", path: "/tracks/7" });
    const res = await call("/v1/tracks/7", {}, { UPSTREAM_TIMEOUT_MS: "50" });
    expectProblem(res, 504, "upstream_timeout");
    expect(res.headers.get("Retry-After")).toBe("10");
  });

  it("headers that arrive after the timeout are a timeout", async () => {
    fake.addFault({ kind: "delay", ms: 200, path: "/tracks/7" });
    const res = await call("/v1/tracks/7", {}, { UPSTREAM_TIMEOUT_MS: "50" });
    expectProblem(res, 504, "upstream_timeout");
  });

  it("a body that trickles on past the timeout is a timeout too, not a network failure", async () => {
    fake.addFault({ kind: "trickle", every: 10, path: "/tracks/7" });
    const res = await call("/v1/tracks/7", {}, { UPSTREAM_TIMEOUT_MS: "100" });
    expectProblem(res, 504, "upstream_timeout");
    expect(upstreamPaths()).toEqual(["/tracks/7"]); // and it was not retried
  });

  it("a redirect is never followed, not even to BeatPass's own host", async () => {
    fake.addFault({ kind: "redirect", location: "https://fake-beatpass.test/api/v1/tracks/1", path: "/tracks/7" });
    expectProblem(await call("/v1/tracks/7"), 502, "upstream_redirect");
    expect(upstreamPaths()).toEqual(["/tracks/7"]);
  });

  it("a redirect to another host: the token goes nowhere (test/setup.ts records any attempt)", async () => {
    fake.addFault({ kind: "redirect", location: "https://collector.example/steal", path: "/tracks/7" });
    expectProblem(await call("/v1/tracks/7"), 502, "upstream_redirect");
    expect(offNetwork).toEqual([]);
  });

  it("lyrics BeatPass reports as null are a 404 not_found", async () => {
    const res = await call("/v1/tracks/2/lyrics");
    const problem = expectProblem(res, 404, "not_found");
    expect(problem.detail).toBe("BeatPass has no lyrics for track 2.");
  });

  it("a 404 from BeatPass names the resource", async () => {
    const problem = expectProblem(await call("/v1/albums/999"), 404, "not_found");
    expect(problem.detail).toBe("BeatPass has no album 999.");
  });

  it("the fake's own rate limiter: a real 429 from the per-minute budget maps to 503 with Retry-After", async () => {
    // Spend the budget directly against the fake, then ask through the proxy.
    for (let i = 0; i < 300; i++) await fake.fetch(new Request("https://fake-beatpass.test/api/v1/genres"));
    const res = await call("/v1/tracks/9");
    expectProblem(res, 503, "upstream_rate_limited");
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
  });
});

describe("our own bugs", () => {
  it("an unexpected exception is a 500 internal: generic to the viewer, its message (no stack) to the log", async () => {
    const exploding = {
      limit: () => {
        throw new Error("rate limiter exploded: internal-detail-7f3a");
      },
    };
    const res = await call("/v1/genres", {}, { RATE_LIMIT_ANON: exploding as unknown as RateLimit });
    const problem = expectProblem(res, 500, "internal");
    expect(problem.detail).toBe("An unexpected error occurred.");
    expect(res.text).not.toContain("internal-detail-7f3a");
    const failed = logLines.map((l) => JSON.parse(l)).find((l) => l.event === "request_failed");
    expect(failed).toMatchObject({ level: "error", code: "internal", status: 500 });
    expect(failed.cause).toBe("Error: rate limiter exploded: internal-detail-7f3a");
    expect(upstreamPaths()).toEqual([]);
  });
});

// docs/api.md, "Errors": a config_error asks clients to come back in 300 s (only the
// operator can cure it, so asking sooner only adds load).
const CONFIG_ERROR_RETRY_AFTER = "300";

describe("configuration problems", () => {
  it("a missing BEATPASS_TOKEN gives 503 config_error with Retry-After, and no upstream request", async () => {
    const res = await call("/v1/tracks/1", {}, { BEATPASS_TOKEN: undefined });
    const problem = expectProblem(res, 503, "config_error");
    expect(problem.detail).toMatch(/no BeatPass token/);
    expect(res.headers.get("Retry-After")).toBe(CONFIG_ERROR_RETRY_AFTER);
    expect(upstreamPaths()).toEqual([]);
  });

  it("an empty BEATPASS_TOKEN counts as missing", async () => {
    const res = await call("/v1/tracks/1", {}, { BEATPASS_TOKEN: "  " });
    expectProblem(res, 503, "config_error");
    expect(res.headers.get("Retry-After")).toBe(CONFIG_ERROR_RETRY_AFTER);
    expect(upstreamPaths()).toEqual([]);
  });

  it.each([
    "http://beatpass.example/api/v1",
    "http://10.0.0.8/api/v1",
    "not a url",
    "https://user:pw@open.beatpass.ca/api/v1",
  ])("an unsafe BEATPASS_API_BASE (%s) gives 503 config_error and no request", async (base) => {
    const res = await call("/v1/tracks/1", {}, { BEATPASS_API_BASE: base });
    expectProblem(res, 503, "config_error");
    expect(res.headers.get("Retry-After")).toBe(CONFIG_ERROR_RETRY_AFTER);
    expect(res.text).not.toContain("pw@");
    expect(upstreamPaths()).toEqual([]);
  });

  it("an unsafe BEATPASS_API_BASE is named in the 503, without its value", async () => {
    const res = await call("/v1/tracks/1", {}, { BEATPASS_API_BASE: "https://user:pw@open.beatpass.ca/api/v1" });
    expect(expectProblem(res, 503, "config_error").detail).toContain("BEATPASS_API_BASE");
    expect(res.text).not.toContain("pw@");
  });

  it("a missing KV binding is named, in the 503 and in /healthz, instead of a TypeError per request", async () => {
    const res = await call("/v1/tracks/1", {}, { BEATPASS_CACHE: undefined });
    expect(expectProblem(res, 503, "config_error").detail).toContain("BEATPASS_CACHE");
    expect(res.headers.get("Retry-After")).toBe(CONFIG_ERROR_RETRY_AFTER);
    expect(upstreamPaths()).toEqual([]);
    const h = await health({ BEATPASS_CACHE: undefined });
    expect(h.status).toBe(503);
    expect(h.json().status).toBe("error");
    expect(h.json().problems.join(" ")).toMatch(/BEATPASS_CACHE: the KV namespace binding is missing/);
    expect(logLines.join("\n")).not.toContain("TypeError");
  });
});

/**
 * An optional var that is wrong turns off or defaults its own feature and nothing else: the
 * data keeps flowing, /healthz says "warn" with one sentence naming the var and what it
 * expects, and the log says it once.
 */
describe("configuration that fails soft", () => {
  const sentence = async (env: Partial<Env>, name: string) => {
    const h = await health(env);
    expect(h.status).toBe(200);
    expect(h.json().status).toBe("warn");
    const said = (h.json().warnings as string[]).find((w) => w.startsWith(`${name} `));
    expect(said, JSON.stringify(h.json().warnings)).toMatch(new RegExp(`^${name} is invalid: expected .+; .+\\.$`));
    return said as string;
  };

  it.each([
    ["UPSTREAM_TIMEOUT_MS", "60000", "using 8000"],
    ["UPSTREAM_TIMEOUT_MS", "abc", "using 8000"],
    ["REFRESH_BUDGET_PER_MINUTE", "-1", "using 60"],
    ["UPSTREAM_BUDGET_PER_MINUTE", "lots", "using 240"],
    ["REQUEST_LOG", "verbose", "using misses"],
    ["REQUEST_LOG_SAMPLE", "150%", "using 1%"],
    ["CACHE_FAST_TIERS", "ram", "using memory,cache_api"],
    ["BEATPASS_TOKEN_EXPIRES_AT", "next spring", "not tracked"],
  ])("%s=%s: data is served, and /healthz names it (%s)", async (name, value, effect) => {
    const env = { [name]: value };
    for (let i = 0; i < 2; i++) expect((await call("/v1/tracks/1", {}, env)).status).toBe(200);
    expect(await sentence(env, name)).toContain(effect);
    // Said in the log when the config is read (once per isolate and env, not per request).
    expect(logLines.some((l) => l.includes('"config_invalid"') && l.includes(`${name} is invalid`))).toBe(true);
  });

  it.each([
    ['{"entity":{"soft":600,"hard":300}}', "hard below soft"],
    ['{"nope":{"soft":1}}', "unknown family"],
    ["{not json", "not JSON"],
  ])("CACHE_POLICY %s (%s): served with the default windows", async (policy) => {
    const res = await call("/v1/tracks/1", {}, { CACHE_POLICY: policy });
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toContain("max-age=300");
    const h = (await health({ CACHE_POLICY: policy })).json();
    expect(h.status).toBe("warn");
    expect(h.warnings.join(" ")).toMatch(/CACHE_POLICY.*using the default cache windows/);
  });

  it("a short PURGE_WEBHOOK_SECRET turns off the purge webhook only, without repeating the secret", async () => {
    const env = { PURGE_WEBHOOK_SECRET: "short-secret-xyz" };
    expect((await call("/v1/tracks/1", {}, env)).status).toBe(200);
    const purge = await call("/hooks/purge", { method: "POST", body: "{}" }, env);
    expect(expectProblem(purge, 503, "config_error").detail).toContain("PURGE_WEBHOOK_SECRET");
    expect(purge.headers.get("Retry-After")).toBe(CONFIG_ERROR_RETRY_AFTER);
    const said = await sentence(env, "PURGE_WEBHOOK_SECRET");
    expect(said).toContain("the purge webhook is off");
    expect(said).not.toContain("short-secret-xyz");
  });

  it("bad ALLOWED_ORIGINS lets no origin in (not every origin)", async () => {
    const env = { ALLOWED_ORIGINS: "app.example" };
    const res = await call("/v1/tracks/1", { headers: { Origin: "https://evil.example" } }, env);
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
    await sentence(env, "ALLOWED_ORIGINS");
  });

  it("bad FRAME_ANCESTORS keeps cards framable by this Worker's own pages only", async () => {
    const env = { FRAME_ANCESTORS: "javascript:alert(1)" };
    const res = await call("/widget/track/1", {}, env);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'self'");
    await sentence(env, "FRAME_ANCESTORS");
  });

  it("bad IMAGE_HOSTS draws cards without artwork", async () => {
    const env = { IMAGE_HOSTS: "not a host!" };
    const res = await call("/widget/track/1", {}, env);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain("<img");
    await sentence(env, "IMAGE_HOSTS");
  });

  it("a missing budget keeper binding is named and stops uncached data (every request is spent from its leases)", async () => {
    const env = { UPSTREAM_BUDGET: undefined };
    const res = await call("/v1/tracks/1", {}, env);
    expectProblem(res, 503, "config_error");
    expect(res.headers.get("Retry-After")).toBe("300");
    const h = (await health(env)).json();
    expect(h.status).toBe("error");
    expect(h.problems.join(" ")).toMatch(/UPSTREAM_BUDGET: the budget keeper's Durable Object binding is missing/);
    expect(upstreamPaths()).toEqual([]);
  });

  it("a missing coordinators binding is a warning: every isolate loads on its own, within the budget", async () => {
    const env = { COORDINATORS: undefined };
    expect((await call("/v1/tracks/1", {}, env)).status).toBe(200);
    const h = (await health(env)).json();
    expect(h.status).toBe("warn");
    expect(h.warnings.join(" ")).toMatch(/COORDINATORS: the coordinators' Durable Object binding is missing/);
  });
});

describe("healthz", () => {
  it("tells everyone the status, and only the operator the rest", async () => {
    const anyone = await call("/healthz");
    expect([anyone.status, anyone.json()]).toEqual([200, { status: "ok" }]);
    const wrong = await call("/healthz", { headers: { "X-Operator-Key": "not-the-key" } });
    expect(wrong.json()).toEqual({ status: "ok" });
    const operator = await health();
    expect(operator.json()).toMatchObject({ status: "ok", upstream_base: "https://fake-beatpass.test/api/v1" });
    expect(operator.headers.get("Vary")).toContain("X-Operator-Key");
    // Without an OPERATOR_KEY nobody sees the details, whatever they send.
    expect((await health({ OPERATOR_KEY: undefined })).json()).toEqual({ status: "ok" });
  });

  it("answers 503 when the proxy cannot serve data: a problem for everyone, the report for the operator", async () => {
    const env = { BEATPASS_TOKEN: undefined };
    expectProblem(await call("/healthz", {}, env), 503, "unhealthy");
    const res = await health(env);
    expect(res.status).toBe(503);
    expect(res.json()).toMatchObject({ status: "error", token_configured: false });
  });

  it("a wrong var is not reported as a missing token", async () => {
    const res = await health({ BEATPASS_API_BASE: "http://leaky.example/api" });
    expect(res.status).toBe(503);
    expect(res.json()).toMatchObject({ status: "error", token_configured: true, upstream_base: null });
    expect(res.json().problems.join(" ")).toContain("BEATPASS_API_BASE");
    expect(res.text).not.toContain("leaky.example");
  });

  // docs/operators.md, "Health": the operator's report counts KV writes and failed ones;
  // docs/caching.md: a KV failure "never changes what the viewer gets".
  it("counts KV writes that failed, where the operator reads them, while the data is still served", async () => {
    const refusing = kvWithPut(() => Promise.reject(new Error("KV PUT failed: 429 Too Many Requests")));
    expect((await health()).json().cache.kv_write_failures).toBe(0);
    for (const id of [1, 2]) {
      const res = await call(`/v1/tracks/${id}`, {}, { BEATPASS_CACHE: refusing });
      expect(res.status).toBe(200);
      expect(res.json().data.id).toBe(id);
    }
    expect(await env.BEATPASS_CACHE.get(storedKey("v1:track:id=1"))).toBeNull();
    const report = (await health()).json();
    expect(report.cache, JSON.stringify(report.cache)).toMatchObject({ kv_writes: 2, kv_write_failures: 2 });
    expect(logLines.filter((l) => l.includes('"kv_write_failed"'))).toHaveLength(2);
    // The copies this isolate holds keep answering; BeatPass is not asked again.
    const again = await call("/v1/tracks/1", {}, { BEATPASS_CACHE: refusing });
    expect(again.status).toBe(200);
    expect(again.json().data.id).toBe(1);
    expect(upstreamPaths()).toEqual(["/tracks/1", "/tracks/2"]);
    expect((await health()).json().cache.kv_write_failures).toBe(2);
  });

  it("counts memory hits", async () => {
    const before = (await health()).json().cache.hits.memory;
    for (let i = 0; i < 3; i++) expect((await call("/v1/tracks/1")).status).toBe(200);
    expect((await health()).json().cache.hits.memory).toBeGreaterThanOrEqual(before + 2);
  });
});

describe("problem types", () => {
  it("with PUBLIC_BASE_URL, every hostname gives the same type URI", async () => {
    const base = { PUBLIC_BASE_URL: "https://api.example.com/edge/" };
    for (const host of [ORIGIN, "https://other-name.example"]) {
      const ctx = createExecutionContext();
      const req = new Request(`${host}/v1/tracks/abc`, { headers: { "CF-Connecting-IP": "192.0.2.200" } });
      const res = await worker.fetch(req, { ...env, ...base }, ctx);
      await waitOnExecutionContext(ctx);
      expect((await res.json<{ type: string }>()).type).toBe("https://api.example.com/edge/problems/invalid_request");
    }
    // Without it, the type follows the hostname asked.
    expect((await call("/v1/tracks/abc")).json().type).toBe(`${ORIGIN}/problems/invalid_request`);
  });

  it("an unusable PUBLIC_BASE_URL falls back to the request's origin (and the rest keeps working)", async () => {
    for (const bad of ["javascript:alert(1)", "not a url", "https://x.example/?q=1"]) {
      const res = await call("/v1/tracks/abc", {}, { PUBLIC_BASE_URL: bad });
      expectProblem(res, 400, "invalid_request");
    }
    expect((await call("/v1/tracks/1", {}, { PUBLIC_BASE_URL: "not a url" })).status).toBe(200);
  });

  it("/problems/<code> is a page for a browser: what happened, why, what to do, no script", async () => {
    const res = await call("/problems/upstream_budget_exhausted", {
      headers: { Accept: "text/html,application/xhtml+xml,*/*;q=0.8" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(res.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    const doc = parse(res.text);
    // The page's heading is the title the code's problem+json carries.
    const { title } = (
      await call("/problems/upstream_budget_exhausted", { headers: { Accept: "application/json" } })
    ).json();
    expect(title.length).toBeGreaterThan(5);
    expect(byTag(doc, "h1").map(text)).toEqual([title]);
    expect(byTag(doc, "dt").map(text)).toEqual(["Why", "What to do"]);
    expect(byTag(doc, "script")).toEqual([]);
  });

  it("/problems/<code> is JSON for everyone else, with the same why and what to do", async () => {
    const res = await call("/problems/not_found", { headers: { Accept: "application/json" } });
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    const body = res.json();
    expect(body).toMatchObject({ code: "not_found", status: 404, title: "Not found" });
    expect(body.why.length).toBeGreaterThan(10);
    expect(body.todo.length).toBeGreaterThan(10);
    expect(res.headers.get("Vary")).toContain("Accept");
  });
});

/**
 * docs/api.md, "Errors": every problem code and its status, written out (RFC 9110: 4xx for
 * what the caller can fix, 5xx for what this Worker or BeatPass failed at).
 */
const DOCUMENTED_STATUS: Record<string, number> = {
  invalid_request: 400,
  invalid_api_key: 401,
  invalid_signature: 401,
  not_public: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  signature_replayed: 409,
  gone: 410,
  payload_too_large: 413,
  rate_limited: 429,
  client_miss_budget: 429,
  render_budget: 429,
  internal: 500,
  unsupported_format: 501,
  upstream_rejected: 502,
  upstream_error: 502,
  upstream_unreachable: 502,
  upstream_redirect: 502,
  upstream_invalid_json: 502,
  upstream_schema_mismatch: 502,
  upstream_too_large: 502,
  config_error: 503,
  purge_unavailable: 503,
  raster_unavailable: 503,
  unhealthy: 503,
  upstream_budget_exhausted: 503,
  upstream_unauthorized: 503,
  upstream_rate_limited: 503,
  upstream_unavailable: 503,
  upstream_timeout: 504,
};
// docs/api.md, "Errors": a 5xx whose cause names no better time says 30 s; 501 says nothing.
const DEFAULT_RETRY_AFTER = "30";
const NOT_RETRYABLE = "unsupported_format";

describe("the documented problem catalogue", () => {
  // Every code thrown as it is, through the app's own error handling. A 429 always comes
  // with its limiter's own Retry-After, so the test gives it one.
  const app = createApp();
  app.get("/__throw/:code", (c) => {
    const code = c.req.param("code") as ProblemCode;
    const headers = DOCUMENTED_STATUS[code] === 429 ? { "Retry-After": "7" } : undefined;
    throw new ApiError(code, "thrown by the test", { headers });
  });

  it("the Worker has no problem code docs/api.md does not list, and docs/api.md none the Worker lacks", () => {
    expect(Object.keys(PROBLEMS).sort()).toEqual(Object.keys(DOCUMENTED_STATUS).sort());
  });

  it.each(Object.entries(DOCUMENTED_STATUS))(
    "%s answers %i, with Retry-After on a 5xx a retry can cure",
    async (code, status) => {
      const ctx = createExecutionContext();
      const res = await app.fetch(new Request(`${ORIGIN}/__throw/${code}`), env, ctx);
      await waitOnExecutionContext(ctx);
      const called = checked(res, await res.text());
      expectProblem(called, status, code);
      if (status >= 500)
        expect(called.headers.get("Retry-After")).toBe(code === NOT_RETRYABLE ? null : DEFAULT_RETRY_AFTER);
    },
  );
});
