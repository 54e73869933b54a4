import { describe, expect, it } from "vitest";
import { catalogDocs } from "../../src/routes/catalog";
import { paginationSchema } from "../../src/schemas/entities";
import { CANARY_TOKEN } from "../helpers/constants";
import { call } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";

interface HappyCase {
  path: string;
  upstream: string;
  upstreamQuery?: Record<string, string>;
  list: boolean;
  check: (data: unknown) => void;
}

const pick = (d: unknown) => d as any;

const CASES: HappyCase[] = [
  {
    path: "/v1/tracks?per_page=5&query=midnight",
    upstream: "/tracks",
    upstreamQuery: { page: "1", per_page: "5", query: "midnight" },
    list: true,
    check: (d) => expect(pick(d)[0].name).toBe("Midnight Run"),
  },
  {
    path: "/v1/tracks/1",
    upstream: "/tracks/1",
    list: false,
    check: (d) => {
      expect(pick(d)).toMatchObject({ id: 1, name: "Midnight Run", currency: "USD" });
      expect(pick(d).bpm).toBeTypeOf("number");
      expect(pick(d).price).toBeTypeOf("number");
      expect(pick(d).artists[0]).toMatchObject({ id: expect.any(Number), name: expect.any(String) });
    },
  },
  {
    path: "/v1/tracks/3/lyrics",
    upstream: "/tracks/3/lyrics",
    list: false,
    check: (d) => expect(pick(d).text).toContain("Verse for 3"),
  },
  {
    path: "/v1/tracks/3/wave",
    upstream: "/tracks/3/wave",
    list: false,
    check: (d) => expect(pick(d).peaks).toHaveLength(80),
  },
  {
    path: "/v1/albums?page=2&per_page=3",
    upstream: "/albums",
    upstreamQuery: { page: "2", per_page: "3" },
    list: true,
    check: (d) => expect(pick(d)).toHaveLength(3),
  },
  {
    path: "/v1/albums/1?with=genres",
    upstream: "/albums/1",
    upstreamQuery: { with: "genres" },
    list: false,
    check: (d) => {
      expect(pick(d).name).toBe("Night Drive Pack");
      expect(pick(d).genres.length).toBeGreaterThan(0);
      expect(pick(d).tracks.length).toBeGreaterThan(0);
    },
  },
  {
    path: "/v1/artists",
    upstream: "/artists",
    upstreamQuery: { page: "1", per_page: "20" },
    list: true,
    check: (d) => expect(pick(d)).toHaveLength(13),
  },
  {
    path: "/v1/artists/3?with=albums,topTracks",
    upstream: "/artists/3",
    upstreamQuery: { with: "albums,topTracks" },
    list: false,
    check: (d) => {
      expect(pick(d).name).toBe("Lumen Loops");
      expect(Array.isArray(pick(d).albums)).toBe(true);
      expect(pick(d).top_tracks.length).toBeGreaterThan(0);
    },
  },
  {
    path: "/v1/artists/8/tracks?perPage=2",
    upstream: "/artists/8/tracks",
    upstreamQuery: { page: "1", perPage: "2" },
    list: true,
    check: (d) => expect(pick(d)).toHaveLength(2),
  },
  {
    path: "/v1/artists/3/albums",
    upstream: "/artists/3/albums",
    upstreamQuery: { page: "1", perPage: "20" },
    list: true,
    check: (d) => expect(pick(d).every((a: { artists: { id: number }[] }) => a.artists[0]?.id === 3)).toBe(true),
  },
  {
    path: "/v1/playlists/1",
    upstream: "/playlists/1",
    list: false,
    check: (d) => {
      expect(pick(d).name).toBe("Late Night Trap");
      expect(pick(d).tracks).toHaveLength(8);
      expect(pick(d).totalDuration).toBeGreaterThan(0);
    },
  },
  {
    path: "/v1/playlists/2/tracks?per_page=4&page=2",
    upstream: "/playlists/2/tracks",
    upstreamQuery: { page: "2", perPage: "4" },
    list: true,
    check: (d) => expect(pick(d)).toHaveLength(4),
  },
  {
    path: "/v1/genres",
    upstream: "/genres",
    list: true,
    check: (d) => expect(pick(d).map((g: { name: string }) => g.name)).toContain("lo-fi"),
  },
  {
    path: "/v1/tags/dark/tracks",
    upstream: "/tags/dark/tracks",
    upstreamQuery: { page: "1", perPage: "20" },
    list: true,
    check: (d) => expect(pick(d).length).toBeGreaterThan(0),
  },
  {
    path: "/v1/tags/mellow/albums",
    upstream: "/tags/mellow/albums",
    upstreamQuery: { page: "1", perPage: "20" },
    list: true,
    check: (d) => expect(pick(d).length).toBeGreaterThan(0),
  },
  {
    path: "/v1/search?query=night&types=track,album&limit=2",
    upstream: "/search",
    upstreamQuery: { query: "night", types: "album,track", limit: "2" },
    list: false,
    check: (d) => {
      expect(pick(d).query).toBe("night");
      expect(pick(d).albums[0].name).toBe("Night Drive Pack");
      expect(pick(d).artists).toEqual([]);
    },
  },
  {
    path: "/v1/users/2",
    upstream: "/users/2",
    list: false,
    check: (d) => expect(pick(d)).toEqual({ id: 2, display_name: "JayRhymes", avatar: expect.any(String) }),
  },
];

describe("every /v1 read route against the fake BeatPass", () => {
  it.each(CASES)("GET $path returns BeatPass data in our envelope", async (c) => {
    const res = await call(c.path);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("Cache-Status")).toBe("beatpass-edge; fwd=miss; stored");
    expect(res.headers.get("Cache-Control")).toMatch(
      /^public, max-age=\d+, stale-while-revalidate=\d+, stale-if-error=\d+$/,
    );
    expect(res.headers.get("ETag")).toMatch(/^"[0-9a-f]{32}"$/);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(c.list ? ["data", "pagination"] : ["data"]);
    if (c.list) {
      expect(Array.isArray(body.data)).toBe(true);
      paginationSchema().parse(body.pagination);
    }
    c.check(body.data);
    // The body matches what /openapi.json documents for this route.
    const route = new URL(c.path, "https://x").pathname.replace(/^\/v1/, "");
    const doc = catalogDocs().find((d) => new RegExp(`^${d.path.replace(/:\w+/g, "[^/]+")}$`).test(route));
    expect(doc?.response.safeParse(body).error).toBeUndefined();

    expect(upstreamPaths()).toEqual([c.upstream]);
    const sent = fake.requests[0]!;
    expect(sent.method).toBe("GET");
    expect(sent.query).toEqual(c.upstreamQuery ?? {});
    expect(sent.headers.authorization).toBe(`Bearer ${CANARY_TOKEN}`);
    expect(sent.headers.accept).toBe("application/json");
  });

  it("answers HEAD like GET, without a body", async () => {
    const res = await call("/v1/tracks/2", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.text).toBe("");
    expect(res.headers.get("Cache-Status")).toContain("beatpass-edge");
  });

  it("reports pagination from BeatPass's paginator", async () => {
    const res = await call("/v1/tracks?page=3&per_page=7");
    expect(res.json().pagination).toEqual({ page: 3, per_page: 7, total: 61, last_page: 9 });
    expect(res.json().data[0].id).toBe(15);
  });

  it("forwards no client header upstream: only Authorization, Accept and our User-Agent", async () => {
    await call("/v1/tracks/4", {
      headers: {
        Cookie: "session=abc",
        "X-Forwarded-For": "203.0.113.9",
        Authorization: "Bearer someone-elses-token",
        "X-Custom": "1",
        "User-Agent": "curl/8",
      },
    });
    const sent = fake.requests[0]!;
    expect(Object.keys(sent.headers).sort()).toEqual(["accept", "authorization", "user-agent"]);
    expect(sent.headers.authorization).toBe(`Bearer ${CANARY_TOKEN}`);
    expect(sent.headers["user-agent"]).toMatch(/^beatpass-edge\//);
  });
});
