import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createApp } from "../../src/app";
import { TIER_LIMITS } from "../../src/clients/tiers";
import { hmacHex, MAX_BODY_BYTES, SIGNATURE_HEADER } from "../../src/routes/hooks";
import { useClock } from "../helpers/clock";
import { CANARY_TOKEN } from "../helpers/constants";
import { byTag, parse, text } from "../helpers/dom";
import { createKey, randomKey } from "../helpers/keys";
import { call, expectProblem } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";
import { logLines } from "../setup";

const SECRET = "purge-secret-for-tests-0123456789abcdef";

describe("CORS", () => {
  it("lets any origin read JSON routes, without credentials", async () => {
    for (const origin of ["https://blog.example", "null"]) {
      const res = await call("/v1/genres", { headers: { Origin: origin } });
      expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
      expect(res.headers.get("Access-Control-Allow-Credentials")).toBeNull();
      expect(res.headers.get("Access-Control-Expose-Headers")).toContain("ETag");
    }
  });

  it("answers a preflight with GET/HEAD and only the headers it reads, without touching BeatPass", async () => {
    const res = await call("/v1/tracks/1", {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-api-key, x-evil",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Methods")).toBe("GET,HEAD");
    expect(res.headers.get("Access-Control-Allow-Headers")).toBe("X-Api-Key,If-None-Match");
    expect(res.headers.get("Access-Control-Max-Age")).toBe("86400");
    expect(upstreamPaths()).toEqual([]);
  });

  it("with ALLOWED_ORIGINS, answers listed origins only, with Vary: Origin, and never 'null'", async () => {
    const allow = { ALLOWED_ORIGINS: "https://a.example, https://B.example" };
    const ok = await call("/v1/genres", { headers: { Origin: "https://b.example" } }, allow);
    expect(ok.headers.get("Access-Control-Allow-Origin")).toBe("https://b.example");
    expect(ok.headers.get("Vary")).toContain("Origin");
    for (const origin of ["https://evil.example", "null", "https://a.example.evil.com"]) {
      const res = await call("/v1/genres", { headers: { Origin: origin } }, allow);
      expect(res.status).toBe(200);
      expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
      expect(res.headers.get("Vary")).toContain("Origin");
    }
    const pre = await call(
      "/v1/genres",
      { method: "OPTIONS", headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "GET" } },
      allow,
    );
    expect(pre.headers.get("Access-Control-Allow-Origin")).toBeNull();
    expectProblem(await call("/v1/genres", {}, { ALLOWED_ORIGINS: "*.example" }), 503, "config_error");
  });

  it("leaves widgets and webhooks out of CORS", async () => {
    const res = await call("/widget/track/1", { headers: { Origin: "https://blog.example" } });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});

describe("per-client rate limits", () => {
  async function nearMinuteStart() {
    // The limiter counts per wall-clock minute; don't let a test straddle one.
    const s = new Date().getSeconds();
    if (s > 50) await new Promise((r) => setTimeout(r, (61 - s) * 1000));
  }

  it("answers 429 with Retry-After and RateLimit headers past the anonymous limit; another client is unaffected", async () => {
    await nearMinuteStart();
    const a = { "CF-Connecting-IP": "203.0.113.10" };
    const { limit, periodSeconds } = TIER_LIMITS.anon;
    for (let i = 0; i < limit; i++) expect((await call("/v1/genres", { headers: a })).status).toBe(200);
    const limited = await call("/v1/genres", { headers: a });
    expectProblem(limited, 429, "rate_limited");
    expect(limited.headers.get("Retry-After")).toBe(String(periodSeconds));
    expect(limited.headers.get("RateLimit-Policy")).toBe(`"anon";q=${limit};w=${periodSeconds}`);
    expect(limited.headers.get("RateLimit")).toBe(`"anon";r=0;t=${periodSeconds}`);

    const b = await call("/v1/genres", { headers: { "CF-Connecting-IP": "203.0.113.11" } });
    expect(b.status).toBe(200);
    // The same IP with an API key counts against the key, not the IP.
    const keyed = await call("/v1/genres", { headers: { ...a, "X-Api-Key": await createKey() } });
    expect(keyed.status).toBe(200);
    expect(keyed.headers.get("RateLimit-Policy")).toBe(`"standard";q=${TIER_LIMITS.standard.limit};w=60`);
    expect(upstreamPaths()).toEqual(["/genres"]);
  }, 120_000); // may first wait up to 10 s for a new wall-clock minute, then makes 123 calls

  it("runs unlimited, and says so, where no binding is configured", async () => {
    const res = await call("/v1/genres", {}, { RATE_LIMIT_ANON: undefined });
    expect(res.status).toBe(200);
  });
});

describe("API keys", () => {
  it("a valid key is accepted and changes limits, never the data", async () => {
    const key = await createKey({ tier: "partner", name: "Acme" });
    const anon = await call("/v1/tracks/1");
    const keyed = await call("/v1/tracks/1", { headers: { "X-Api-Key": key } });
    expect(keyed.status).toBe(200);
    expect(keyed.text).toBe(anon.text);
    expect(keyed.headers.get("Cache-Status")).toContain("hit"); // one shared cache
    expect(keyed.headers.get("RateLimit-Policy")).toContain('"partner"');
  });

  it.each([
    ["a wrong key of the same length", async () => randomKey()],
    ["a wrong key of another length", async () => `bpe_${"x".repeat(20)}`],
    ["an empty key", async () => ""],
    ["a revoked key", () => createKey({ revoked_at: new Date().toISOString() })],
    ["an expired key", () => createKey({ expires_at: new Date(Date.now() - 1000).toISOString() })],
  ])("%s is a 401 invalid_api_key that does not say which", async (_label, make) => {
    const res = await call("/v1/tracks/1", { headers: { "X-Api-Key": await make() } });
    const problem = expectProblem(res, 401, "invalid_api_key");
    expect(problem.detail).toBe(
      "The X-Api-Key is not valid (unknown, revoked or expired). Omit it to use the anonymous tier.",
    );
    expect(upstreamPaths()).toEqual([]);
  });

  it("a record whose stored hash does not match its key is refused", async () => {
    const key = randomKey();
    await createKey({ hash: "0".repeat(64) }, key);
    expectProblem(await call("/v1/tracks/1", { headers: { "X-Api-Key": key } }), 401, "invalid_api_key");
  });
});

async function signed(body: string, opts: { t?: number; secret?: string; header?: string } = {}) {
  const t = opts.t ?? Math.floor(Date.now() / 1000);
  const sig = await hmacHex(opts.secret ?? SECRET, `${t}.${body}`);
  return {
    method: "POST",
    body,
    headers: { [SIGNATURE_HEADER]: opts.header ?? `t=${t},v1=${sig}`, "Content-Type": "application/json" },
  };
}
const purge = (init: RequestInit, override = {}) =>
  call("/hooks/purge", init, { PURGE_WEBHOOK_SECRET: SECRET, ...override });

describe("purge webhook", () => {
  it("a valid purge sends the next request for that track (and lists) upstream; an unrelated track stays cached", async () => {
    for (const p of ["/v1/tracks/5", "/v1/tracks/6", "/v1/tracks?page=1", "/widget/track/5"]) await call(p);
    const before = upstreamPaths().length;
    const res = await purge(await signed(JSON.stringify({ resources: ["track:5", "track:5"] })));
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ purged: ["track:5"], collections: true });

    for (const p of ["/v1/tracks/5", "/v1/tracks/6", "/v1/tracks?page=1", "/widget/track/5"]) await call(p);
    expect(upstreamPaths().slice(before).sort()).toEqual(["/tracks", "/tracks/5", "/tracks/5/wave"]);
  });

  it("reaches an isolate that did not receive it, through KV", async () => {
    await call("/v1/tracks/5");
    await purge(await signed(JSON.stringify({ resources: ["track:5"] })));
    const { resetPurges } = await import("../../src/cache/purge");
    resetPurges();
    await call("/v1/tracks/5");
    expect(upstreamPaths()).toEqual(["/tracks/5", "/tracks/5"]);
  });

  it("rejects a tampered body", async () => {
    const init = await signed(JSON.stringify({ resources: ["track:5"] }));
    expectProblem(await purge({ ...init, body: JSON.stringify({ resources: ["track:6"] }) }), 401, "invalid_signature");
  });

  it("rejects a timestamp older than 300 s, and one from the future", async () => {
    const body = JSON.stringify({ resources: ["track:5"] });
    // Frozen on a whole second: the Worker compares fractional time, so a real clock ticking
    // over between signing and checking would move the edges by up to a second.
    const now = Math.floor(Date.now() / 1000);
    useClock(now * 1000);
    expectProblem(await purge(await signed(body, { t: now - 301 })), 401, "invalid_signature");
    expectProblem(await purge(await signed(body, { t: now + 301 })), 401, "invalid_signature");
    expect((await purge(await signed(body, { t: now - 290 }))).status).toBe(200);
  });

  it("rejects a replay of a used signature", async () => {
    const init = await signed(JSON.stringify({ resources: ["track:5"] }));
    expect((await purge(init)).status).toBe(200);
    expectProblem(await purge(init), 409, "signature_replayed");
  });

  it.each([
    "",
    "t=1,v1=zz",
    `v1=${"a".repeat(64)}`,
    `t=abc,v1=${"a".repeat(64)}`,
    `t=1,v1=${"A".repeat(64)}`,
    `t=1, v1=${"a".repeat(64)}`,
  ])("rejects the malformed header %j with 401, never 500", async (header) => {
    const init = await signed(JSON.stringify({ resources: ["track:5"] }), { header });
    if (header === "") delete (init.headers as Record<string, string>)[SIGNATURE_HEADER];
    expectProblem(await purge(init), 401, "invalid_signature");
  });

  it("rejects a signature made with another secret", async () => {
    expectProblem(
      await purge(await signed(JSON.stringify({ resources: ["track:5"] }), { secret: "x".repeat(40) })),
      401,
      "invalid_signature",
    );
  });

  it(`refuses a body over ${MAX_BODY_BYTES} bytes with 413`, async () => {
    const body = JSON.stringify({ resources: ["track:5"], pad: "x".repeat(MAX_BODY_BYTES) });
    expectProblem(await purge(await signed(body)), 413, "payload_too_large");
  });

  it("validates the resources", async () => {
    for (const resources of [[], ["track:abc"], ["../users/me"], ["genre:1"], Array(101).fill("track:1")]) {
      expectProblem(await purge(await signed(JSON.stringify({ resources }))), 400, "invalid_request");
    }
  });

  it("is off without PURGE_WEBHOOK_SECRET, and POST-only", async () => {
    expectProblem(
      await purge(await signed(JSON.stringify({ resources: ["track:5"] })), { PURGE_WEBHOOK_SECRET: undefined }),
      503,
      "config_error",
    );
    const get = await call("/hooks/purge");
    expectProblem(get, 405, "method_not_allowed");
    expect(get.headers.get("Allow")).toBe("POST");
  });
});

const openApiSchema = z.object({
  openapi: z.string().regex(/^3\.1\.\d+$/),
  info: z.object({ title: z.string().min(1), version: z.string().min(1) }),
  paths: z.record(
    z.string().regex(/^\//),
    z.partialRecord(
      z.enum(["get", "post", "put", "delete", "patch", "head", "options"]),
      z.object({
        operationId: z.string(),
        responses: z.record(z.string().regex(/^[1-5]\d\d$/), z.unknown()).refine((r) => Object.keys(r).length > 0),
        parameters: z
          .array(
            z.object({
              name: z.string(),
              in: z.enum(["path", "query", "header"]),
              required: z.boolean().optional(),
              schema: z.unknown(),
            }),
          )
          .optional(),
      }),
    ),
  ),
  components: z
    .object({ schemas: z.object({ Problem: z.object({ type: z.literal("object") }).passthrough() }).passthrough() })
    .passthrough(),
});

describe("OpenAPI", () => {
  it("is an OpenAPI 3.1 document with unique operation ids and declared path parameters", async () => {
    const doc = openApiSchema.parse((await call("/openapi.json")).json());
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    for (const [path, ops] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(ops)) {
        expect((op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name)).toEqual(names);
      }
    }
  });

  it("lists exactly the routes the app serves", async () => {
    const doc = openApiSchema.parse((await call("/openapi.json")).json());
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)),
    );
    const served = new Set(
      createApp()
        .routes.filter((r) => r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it("documents the problem catalogue and the API key", async () => {
    const doc = (await call("/openapi.json")).json();
    expect(doc.components.schemas.ProblemCode.enum).toContain("rate_limited");
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: "apiKey", in: "header", name: "X-Api-Key" });
  });

  it("/docs shows every path", async () => {
    const res = await call("/docs");
    const doc = (await call("/openapi.json")).json();
    const shown = byTag(parse(res.text), "code").map((c) => text(c));
    for (const path of Object.keys(doc.paths)) expect(shown).toContain(path);
  });
});

describe("request logs", () => {
  it("write one JSON line per request with no secret, key or client IP", async () => {
    const key = await createKey();
    await call("/v1/tracks/1", { headers: { "X-Api-Key": key, "CF-Connecting-IP": "198.51.100.77" } });
    await call("/v1/tracks/1");
    await purge(await signed(JSON.stringify({ resources: ["track:1"] })));
    fake.addFault({ kind: "status", status: 500, path: "/tracks/2" });
    await call("/v1/tracks/2");
    const parsed = logLines.map((l) => JSON.parse(l));
    const requests = parsed.filter((l) => l.event === "request");
    expect(requests).toHaveLength(4);
    expect(requests[0]).toMatchObject({
      method: "GET",
      route: "/v1/tracks/:id",
      status: 200,
      cache: "miss",
      upstream_status: 200,
      client_tier: "standard",
      key_id: key ? expect.any(String) : null,
    });
    expect(requests[1]).toMatchObject({
      cache: "hit",
      tier: "memory",
      upstream_status: null,
      client_tier: "anon",
      key_id: null,
    });
    expect(requests[3]).toMatchObject({ status: 502, upstream_status: 500 });
    for (const line of logLines) {
      for (const secret of [CANARY_TOKEN, key, SECRET, "198.51.100.77"]) expect(line).not.toContain(secret);
    }
  });

  it("REQUEST_LOG=misses leaves out fresh hits only; off leaves out every request line but not failures", async () => {
    const misses = { REQUEST_LOG: "misses" };
    await call("/v1/tracks/4", {}, misses);
    await call("/v1/tracks/4", {}, misses);
    await call("/v1/tracks/abc", {}, misses);
    const logged = () => logLines.map((l) => JSON.parse(l)).filter((l) => l.event === "request");
    expect(logged().map((l) => [l.cache, l.status])).toEqual([
      ["miss", 200],
      [null, 400],
    ]);

    logLines.length = 0;
    const off = { REQUEST_LOG: "off" };
    await call("/v1/tracks/5", {}, off);
    fake.addFault({ kind: "status", status: 500, path: "/tracks/6" });
    expectProblem(await call("/v1/tracks/6", {}, off), 502, "upstream_error");
    expect(logged()).toEqual([]);
    expect(logLines.map((l) => JSON.parse(l).event)).toContain("request_failed");
  });

  it("send Server-Timing with the cache and upstream phases", async () => {
    const miss = await call("/v1/tracks/3");
    expect(miss.headers.get("Server-Timing")).toMatch(/^total;dur=\d+, cache;dur=\d+;desc="miss", upstream;dur=\d+$/);
    const hit = await call("/v1/tracks/3");
    expect(hit.headers.get("Server-Timing")).toMatch(/^total;dur=\d+, cache;dur=\d+;desc="hit memory"$/);
  });
});

describe("headers every response carries", () => {
  it("keeps a plain caller X-Request-Id and replaces one that is long or odd", async () => {
    const kept = await call("/v1/nope", { headers: { "X-Request-Id": "trace-42_a=" } });
    expect(kept.headers.get("X-Request-Id")).toBe("trace-42_a=");
    expect(expectProblem(kept, 404, "not_found").request_id).toBe("trace-42_a=");
    for (const presented of ["x".repeat(65), "a b", "<script>", "a/b"]) {
      const res = await call("/v1/tracks/1", { headers: { "X-Request-Id": presented } });
      expect(res.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it.each([
    ["/v1/tracks/1", "a cached JSON answer"],
    ["/v1/tracks/abc", "a problem"],
    ["/healthz", "a route answering with c.json"],
    ["/openapi.json", "a route answering with c.json"],
  ])("%s (%s): request id, nosniff, CORS and Server-Timing, each once", async (path) => {
    const res = await call(path);
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(res.headers.get("Server-Timing")).toMatch(/^total;dur=\d+/);
    // A header written twice would show up joined with a comma.
    expect(res.headers.get("X-Request-Id")).not.toContain(",");
    expect(res.headers.get("Access-Control-Allow-Origin")).not.toContain(",");
  });

  it("with an allowlist, Vary: Origin once, whichever way the response was built", async () => {
    const allowlist = { ALLOWED_ORIGINS: "https://a.example" };
    for (const path of ["/v1/tracks/1", "/healthz"]) {
      const res = await call(path, { headers: { Origin: "https://a.example" } }, allowlist);
      expect(res.headers.get("Vary")).toBe("Origin");
      expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://a.example");
    }
  });
});

it("the app still uses the real env in these tests", () => {
  expect(env.BEATPASS_TOKEN).toBe(CANARY_TOKEN);
});
