import { describe, expect, it } from "vitest";
import { ARTISTS, TRACKS } from "../../fake/catalog.mjs";
import { useClock } from "../helpers/clock";
import { CANARY_TOKEN, FAKE_API_BASE } from "../helpers/constants";
import { DOCUMENTED_POLICY } from "../helpers/documented";
import { call, expectProblem } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";

/**
 * What BeatPass answers is data only when it is the data asked for, in the shape expected:
 * anything else is 502 and never stored, so a bad answer cannot replace a good copy.
 */

const S = 1000;
// BeatPass's own body for a track, as the fake catalogue holds it (docs/beatpass-api/REFERENCE.md §4.1).
const trackBody = (id: number) => ({ status: "success", track: TRACKS.find((t) => t.id === id) });

describe("only a 200 with a JSON body is data", () => {
  it("the same valid body is served with 200 and refused with 206 or 299", async () => {
    fake.addFault({ kind: "body", body: trackBody(7), path: "/tracks/7", times: 1 });
    expect((await call("/v1/tracks/7")).json().data.id).toBe(7);
    for (const [id, status] of [
      [8, 206],
      [9, 299],
    ] as const) {
      fake.addFault({ kind: "status", status, body: trackBody(id), path: `/tracks/${id}`, times: 1 });
      expectProblem(await call(`/v1/tracks/${id}`), 502, "upstream_schema_mismatch");
    }
  });

  it("a valid JSON body labelled text/html (a CDN's or portal's page) is refused", async () => {
    fake.addFault({ kind: "body", body: trackBody(7), contentType: "text/html", path: "/tracks/7", times: 1 });
    expectProblem(await call("/v1/tracks/7"), 502, "upstream_invalid_json");
    // ... and application/json with parameters, or a +json type, is data.
    fake.addFault({
      kind: "body",
      body: trackBody(8),
      contentType: "application/vnd.beatpass+json; charset=utf-8",
      path: "/tracks/8",
      times: 1,
    });
    expect((await call("/v1/tracks/8")).status).toBe(200);
  });
});

describe("the item answered is the item asked for", () => {
  it("a track, album or artist whose id differs from the requested one is 502, and nothing is stored", async () => {
    fake.addFault({ kind: "body", body: trackBody(8), path: "/tracks/7", times: 1 });
    expectProblem(await call("/v1/tracks/7"), 502, "upstream_schema_mismatch");
    // The next request asks again (the refusal was not cached as track 7) and gets track 7.
    const res = await call("/v1/tracks/7");
    expect(res.status).toBe(200);
    expect(res.json().data.id).toBe(7);
    fake.addFault({ kind: "body", body: { status: "success", artist: ARTISTS[1] }, path: "/artists/1", times: 1 });
    expectProblem(await call("/v1/artists/1"), 502, "upstream_schema_mismatch");
  });

  it.each([
    ["an album", "albums"],
    ["a playlist", "playlists"],
    ["a user", "users"],
  ])("%s: BeatPass's own valid answer for id 2, given for id 1, is 502, and id 1 is then served", async (_, route) => {
    // A genuine answer (the fake's, with the token), so only its id is wrong.
    const other = await fake.fetch(
      new Request(`${FAKE_API_BASE}/${route}/2`, { headers: { Authorization: `Bearer ${CANARY_TOKEN}` } }),
    );
    expect(other.status).toBe(200);
    fake.addFault({ kind: "body", body: await other.json(), path: `/${route}/1`, times: 1 });
    expectProblem(await call(`/v1/${route}/1`), 502, "upstream_schema_mismatch");
    const res = await call(`/v1/${route}/1`);
    expect(res.status).toBe(200);
    expect(res.json().data.id).toBe(1);
  });
});

describe("search answers without their results object", () => {
  for (const [what, body] of [
    ["missing", { status: "success", query: "night" }],
    ["an array", { status: "success", results: [] }],
    ["a string", { status: "success", results: "none" }],
  ] as const) {
    it(`results ${what} is 502, not an empty result`, async () => {
      fake.addFault({ kind: "body", body, path: "/search", times: 1 });
      expectProblem(await call("/v1/search?query=night"), 502, "upstream_schema_mismatch");
    });
  }

  it("a malformed answer to a refresh leaves the good copy in place", async () => {
    const clock = useClock();
    const good = await call("/v1/search?query=night");
    expect(good.status).toBe(200);
    expect(good.json().data.tracks.length).toBeGreaterThan(0);
    clock.advance(DOCUMENTED_POLICY.search.soft * S + S);
    fake.addFault({ kind: "body", body: { status: "success" }, path: "/search", times: 1 });
    const stale = await call("/v1/search?query=night"); // served stale, refreshed in the background
    expect(stale.text).toBe(good.text);
    expect(upstreamPaths().filter((p) => p.startsWith("/search"))).toHaveLength(2);
    // Past the hard window the copy is served only if a load fails: the refresh stored nothing.
    clock.advance(DOCUMENTED_POLICY.search.hard * S);
    fake.addFault({ kind: "body", body: { status: "success" }, path: "/search", times: 1 });
    const after = await call("/v1/search?query=night");
    expect(after.status).toBe(200);
    expect(after.text).toBe(good.text);
    expect(after.headers.get("Cache-Status")).toContain("stale-if-error");
  });
});

describe("what BeatPass's strings may carry", () => {
  const hostile = {
    ...ARTISTS[2],
    name: "Safe\u202Egnp.exe\u2066 Name\u2069",
    website: "javascript:alert(document.cookie)",
    profile_images: [
      { id: 1, url: "data:text/html;base64,PHNjcmlwdD4=" },
      { id: 2, url: "HTTPS://images.example.com/ok.jpg" },
    ],
    links: [
      { id: 3, url: "vbscript:msgbox", title: "Bad" },
      { id: 4, url: "https://www.instagram.com/ok", title: "Good" },
    ],
  };

  it("URL fields keep only http: and https: links (others become null)", async () => {
    fake.addFault({ kind: "body", body: { status: "success", artist: hostile }, path: "/artists/3", times: 1 });
    const artist = (await call("/v1/artists/3")).json().data;
    expect(artist.website).toBeNull();
    expect(artist.profile_images.map((i: { url: unknown }) => i.url)).toEqual([
      null,
      "HTTPS://images.example.com/ok.jpg",
    ]);
    expect(artist.links.map((l: { url: unknown }) => l.url)).toEqual([null, "https://www.instagram.com/ok"]);
  });

  it("names lose bidirectional override and isolate characters", async () => {
    fake.addFault({ kind: "body", body: { status: "success", artist: hostile }, path: "/artists/3", times: 1 });
    const res = await call("/v1/artists/3");
    expect(res.json().data.name).toBe("Safegnp.exe Name");
    expect(res.text).not.toMatch(/[\u202A-\u202E\u2066-\u2069]|\\u202[a-e]|\\u206[6-9]/i);
  });
});
