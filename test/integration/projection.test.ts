import { describe, expect, it } from "vitest";
import albumsGet from "../fixtures/upstream/albums.get.json";
import artistsGet from "../fixtures/upstream/artists.get.json";
import artistsTracks from "../fixtures/upstream/artists.tracks.json";
import genresList from "../fixtures/upstream/genres.list.json";
import playlistsGet from "../fixtures/upstream/playlists.get.json";
import searchGet from "../fixtures/upstream/search.get.json";
import tracksGet from "../fixtures/upstream/tracks.get.json";
import tracksList from "../fixtures/upstream/tracks.list.json";
import usersGet from "../fixtures/upstream/users.get.json";
import { call } from "../helpers/request";
import { fake } from "../helpers/upstream";

// Fields the fake (like BeatPass with a token) sends that describe the token's own account
// or BeatPass internals. None may leave the proxy, at any depth.
const PRIVATE_FIELDS = ["is_liked", "purchased", "user_id", "file_path", "owner_id", "stripe_account_id", "email"];

function allKeys(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) allKeys(v, out);
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      allKeys(v, out);
    }
  }
  return out;
}

describe("public-schema projection", () => {
  it.each([
    "/v1/tracks/14?with=album,genres,tags",
    "/v1/tracks?per_page=50",
    "/v1/albums/2",
    "/v1/artists/1?with=albums,topTracks,similar,genres",
    "/v1/playlists/3",
    "/v1/users/4",
    "/v1/search?query=a&limit=20",
    "/v1/tags/dark/tracks",
  ])("%s carries no account-private or internal field", async (path) => {
    const upstreamKeys = new Set<string>();
    const res = await call(path);
    expect(res.status).toBe(200);
    const keys = allKeys(res.json());
    for (const f of PRIVATE_FIELDS) expect(keys.has(f), f).toBe(false);
    // The fake did send some of them: the projection, not the fake, removed them.
    const raw = await fake.fetch(
      new Request(
        `https://fake-beatpass.test/api/v1${fake.requests[0]!.path.slice(7)}?${new URLSearchParams(fake.requests[0]!.query)}`,
        { headers: { Authorization: fake.requests[0]!.headers.authorization! } },
      ),
    );
    allKeys(await raw.json(), upstreamKeys);
    expect(PRIVATE_FIELDS.some((f) => upstreamKeys.has(f))).toBe(true);
  });

  it("drops fields BeatPass adds later and keeps the documented ones", async () => {
    const track = {
      ...tracksGet.track,
      loader: "trackPage",
      new_internal_flag: true,
      artists: [{ ...tracksGet.track.artists[0], payout_email: "x@y" }],
    };
    fake.addFault({ kind: "body", body: { status: "success", track, loader: "x" }, path: "/tracks/3629" });
    const res = await call("/v1/tracks/3629");
    const data = res.json().data;
    expect(data).not.toHaveProperty("loader");
    expect(data).not.toHaveProperty("new_internal_flag");
    expect(data.artists[0]).not.toHaveProperty("payout_email");
    expect(data).toMatchObject({ id: 3629, name: "ZOOM", bpm: 140, key: "F#", price: 29.99, licensing_type: "both" });
  });

  it("normalises undocumented formats: numeric strings and 0/1 flags", async () => {
    const track = {
      ...tracksGet.track,
      price: "24.50",
      bpm: "92",
      plays: "1200",
      artists: [{ id: "412", name: "Nova Keys", verified: 1 }],
    };
    fake.addFault({ kind: "body", body: { status: "success", track }, path: "/tracks/3629" });
    const data = (await call("/v1/tracks/3629")).json().data;
    expect(data).toMatchObject({ price: 24.5, bpm: 92, plays: 1200 });
    expect(data.artists[0]).toEqual({ id: 412, name: "Nova Keys", verified: true });
  });
});

describe("BeatPass's documented example payloads (test/fixtures/upstream) parse", () => {
  it.each([
    ["/v1/tracks/3629", "/tracks/3629", tracksGet, (d: any) => expect(d.album.tracks).toHaveLength(2)],
    ["/v1/tracks", "/tracks", tracksList, (d: any) => expect(d.map((t: any) => t.id)).toEqual([3755, 3702, 3630])],
    ["/v1/albums/88", "/albums/88", albumsGet, (d: any) => expect(d.genres).toHaveLength(2)],
    ["/v1/artists/412", "/artists/412", artistsGet, (d: any) => expect(d.albums[0].name).toBe("Night Drive Pack")],
    ["/v1/artists/412/tracks", "/artists/412/tracks", artistsTracks, (d: any) => expect(d.length).toBeGreaterThan(0)],
    ["/v1/playlists/5021", "/playlists/5021", playlistsGet, (d: any) => expect(d.tracks).toHaveLength(3)],
    ["/v1/genres", "/genres", genresList, (d: any) => expect(d).toHaveLength(5)],
    ["/v1/search?query=zoom", "/search", searchGet, (d: any) => expect(d.tracks[0].name).toBe("ZOOM")],
    ["/v1/users/20455", "/users/20455", usersGet, (d: any) => expect(d.display_name).toBe("mira.writes")],
  ] as const)("%s", async (path, upstream, body, check) => {
    fake.addFault({ kind: "body", body, path: upstream });
    const res = await call(path);
    expect(res.status).toBe(200);
    check(res.json().data);
  });

  it("reads the 2026 draft envelope: a bare list next to a top-level pagination", async () => {
    const body = {
      status: "success",
      tracks: tracksList.tracks.data,
      pagination: { current_page: 2, per_page: 3, total: 264, last_page: 88 },
    };
    fake.addFault({ kind: "body", body, path: "/tracks" });
    const res = await call("/v1/tracks?page=2&per_page=3");
    expect(res.json().pagination).toEqual({ page: 2, per_page: 3, total: 264, last_page: 88 });
    expect(res.json().data).toHaveLength(3);
  });

  it("reports the page BeatPass actually returned, not the one asked for", async () => {
    // Past the last page, BeatPass (Laravel) answers with what it has and says which page it is.
    const clamped = { ...tracksList.tracks, current_page: 9, per_page: 3, last_page: 9 };
    fake.addFault({ kind: "body", body: { status: "success", tracks: clamped }, path: "/tracks" });
    expect((await call("/v1/tracks?page=500&per_page=3")).json().pagination).toMatchObject({ page: 9, last_page: 9 });
  });

  it("reads search groups BeatPass sends as null, a single object or a paginator", async () => {
    const track = tracksList.tracks.data[0]!;
    const results = { tracks: { data: [track] }, albums: null, artists: [], playlists: undefined, users: null };
    fake.addFault({ kind: "body", body: { status: "success", query: "x", results }, path: "/search" });
    const res = await call("/v1/search?query=x");
    expect(res.status).toBe(200);
    const data = res.json().data;
    expect(data.tracks.map((t: { id: number }) => t.id)).toEqual([track.id]);
    expect([data.albums, data.artists, data.playlists, data.users]).toEqual([[], [], [], []]);
  });

  it("reads 'simple' pagination without total and last_page", async () => {
    const { total: _t, last_page: _l, ...simple } = tracksList.tracks;
    fake.addFault({ kind: "body", body: { status: "success", tracks: simple }, path: "/tracks" });
    expect((await call("/v1/tracks")).json().pagination).toEqual({ page: 1, per_page: 3 });
  });
});
