import { describe, expect, it, vi } from "vitest";
import * as z from "zod/mini";
import { cacheKey, canonicalParams } from "../../src/cache/keys";
import { problemForUpstream } from "../../src/http/upstream-problem";
import { buildUpstreamUrl, parseRetryAfter, UpstreamError, type UpstreamFailure } from "../../src/upstream/client";
import { arrayOf, page } from "../../src/upstream/envelope";

const BASE = new URL("https://open.beatpass.ca/api/v1/");

describe("buildUpstreamUrl", () => {
  it("encodes every segment and keeps the API base", () => {
    expect(buildUpstreamUrl(BASE, ["tags", "lo fi/../x", "tracks"]).href).toBe(
      "https://open.beatpass.ca/api/v1/tags/lo%20fi%2F..%2Fx/tracks",
    );
  });

  it.each([[".."], ["."], [""], ["tags", ".."]])("refuses dot or empty segments %j", (...segments) => {
    expect(() => buildUpstreamUrl(BASE, segments)).toThrow();
  });

  it("sorts the query and drops undefined values", () => {
    expect(buildUpstreamUrl(BASE, ["tracks"], { per_page: 5, query: undefined, page: 1 }).search).toBe(
      "?page=1&per_page=5",
    );
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates, clamped to 1..3600", () => {
    expect(parseRetryAfter("42")).toBe(42);
    expect(parseRetryAfter("0")).toBe(1);
    expect(parseRetryAfter("999999")).toBe(3600);
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 2)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(120);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe("cache keys", () => {
  it("are canonical: sorted, undefined dropped, values encoded", () => {
    expect(canonicalParams({ b: 2, a: "x y", c: undefined })).toBe("a=x%20y&b=2");
  });

  it("fall back to a SHA-256 of the params past KV's key size", async () => {
    const key = await cacheKey("search", { query: "🎵".repeat(100), limit: 3 });
    expect(key).toMatch(/^v1:search:sha256=[0-9a-f]{64}$/);
    expect(new TextEncoder().encode(key).byteLength).toBeLessThanOrEqual(512);
    expect(await cacheKey("search", { limit: 3, query: "🎵".repeat(100) })).toBe(key);
  });
});

describe("problemForUpstream", () => {
  // The README's error table, row by row: every one of them a 5xx. A cause that suggests its
  // own wait carries it here; the others get problemResponse's documented 30 s default on the
  // way out (errors.test.ts checks every response's header).
  const kinds: [UpstreamFailure, number, string, string | undefined][] = [
    ["no_token", 503, "config_error", "300"],
    ["timeout", 504, "upstream_timeout", "10"],
    ["network", 502, "upstream_unreachable", "10"],
    ["redirect", 502, "upstream_redirect", undefined],
    ["invalid_json", 502, "upstream_invalid_json", undefined],
    ["too_large", 502, "upstream_too_large", undefined],
    ["schema", 502, "upstream_schema_mismatch", undefined],
  ];
  it.each(kinds)("maps %s to %i %s (Retry-After %s, else the default)", (kind, status, code, retryAfter) => {
    const e = problemForUpstream(new UpstreamError(kind, "/tracks/1"), "track 1");
    expect([e.status, e.code]).toEqual([status, code]);
    expect(e.headers["Retry-After"]).toBe(retryAfter);
  });

  it.each([
    [400, "upstream_rejected"],
    [401, "upstream_unauthorized"],
    [403, "forbidden"],
    [404, "not_found"],
    [405, "upstream_rejected"],
    [409, "upstream_rejected"],
    [410, "gone"],
    [422, "upstream_rejected"],
    [429, "upstream_rate_limited"],
    [500, "upstream_error"],
    [503, "upstream_unavailable"],
    [504, "upstream_error"],
  ])("maps upstream status %i to %s", (status, code) => {
    expect(problemForUpstream(new UpstreamError("status", "/x", { status }), "x").code).toBe(code);
  });

  it("carries the upstream Retry-After on 429", () => {
    const e = problemForUpstream(new UpstreamError("status", "/x", { status: 429, retryAfterSeconds: 17 }), "x");
    expect(e.headers["Retry-After"]).toBe("17");
  });
});

describe("list pages (upstream/envelope.ts)", () => {
  const genre = z.object({ id: z.number(), name: z.string() });
  const requested = { page: 1, perPage: 20 };

  it("reads items under the entity's key with the paginator's numbers, and refuses a bad item", () => {
    const body = { genres: { data: [{ id: 1, name: "Trap" }], current_page: 2, per_page: 1, total: 5 } };
    expect(page(body, "genres", genre, "/genres", requested)).toEqual({
      data: [{ id: 1, name: "Trap" }],
      pagination: { page: 2, per_page: 1, total: 5 },
    });
    const bad = { genres: { data: [{ id: "one", name: "Trap" }] } };
    expect(() => page(bad, "genres", genre, "/genres", requested)).toThrow(UpstreamError);
  });

  it("builds each item schema's array once, not once per list", () => {
    const other = z.object({ id: z.number() });
    expect(arrayOf(genre)).toBe(arrayOf(genre));
    expect(arrayOf(other)).not.toBe(arrayOf(genre));
    expect(arrayOf(genre).safeParse([{ id: 1, name: "Trap" }]).success).toBe(true);
    expect(arrayOf(genre).safeParse([{ id: 1 }]).success).toBe(false);
  });

  it("parses every list with that one array schema", () => {
    const item = z.object({ id: z.number() });
    const parse = vi.spyOn(arrayOf(item), "safeParse");
    for (const id of [1, 2]) page({ items: [{ id }] }, "items", item, "/items", requested);
    expect(parse).toHaveBeenCalledTimes(2);
  });
});
