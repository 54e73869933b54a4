import { describe, expect, it } from "vitest";
import { DOCUMENTED_MAX_PER_PAGE } from "../helpers/documented";
import { call, expectProblem } from "../helpers/request";
import { fake, upstreamPaths } from "../helpers/upstream";

describe("invalid input gets 400 invalid_request and never reaches BeatPass", () => {
  it.each([
    ["/v1/tracks/abc", "path", "id"],
    ["/v1/tracks/0", "path", "id"],
    ["/v1/tracks/-4", "path", "id"],
    ["/v1/tracks/1e3", "path", "id"],
    ["/v1/tracks/0x10", "path", "id"],
    ["/v1/tracks/99999999999", "path", "id"],
    ["/v1/albums/1.5", "path", "id"],
    ["/v1/users/me", "path", "id"],
    ["/v1/tracks?page=0", "query", "page"],
    ["/v1/tracks?page=-1", "query", "page"],
    ["/v1/tracks?per_page=0", "query", "per_page"],
    ["/v1/tracks?per_page=ten", "query", "per_page"],
    ["/v1/artists/3/tracks?perPage=-2", "query", "perPage"],
    ["/v1/tracks/1?with=album,owner", "query", "with"],
    ["/v1/albums/1?with=similar", "query", "with"],
    ["/v1/artists/1?with=tracks", "query", "with"],
    ["/v1/search", "query", "query"],
    ["/v1/search?query=%20%20", "query", "query"],
    [`/v1/search?query=${"a".repeat(101)}`, "query", "query"],
    ["/v1/search?query=x&types=track,beat", "query", "types"],
    ["/v1/search?query=x&limit=0", "query", "limit"],
    [`/v1/tracks?query=${"z".repeat(101)}`, "query", "query"],
    ["/v1/tags/a$b/tracks", "path", "name"],
    ["/v1/tags/-dark/albums", "path", "name"],
  ])("GET %s -> 400 naming the %s parameter %s", async (path, location, name) => {
    const res = await call(path);
    const problem = expectProblem(res, 400, "invalid_request");
    expect(problem.errors).toEqual(expect.arrayContaining([expect.objectContaining({ location, name })]));
    expect(problem.detail).toContain(name);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(upstreamPaths()).toEqual([]);
  });

  it("lists every invalid parameter at once", async () => {
    const problem = expectProblem(await call("/v1/tracks?page=0&per_page=x"), 400, "invalid_request");
    expect(problem.errors?.map((e) => e.name).sort()).toEqual(["page", "per_page"]);
  });

  it("does not echo the rejected value back", async () => {
    const res = await call("/v1/tracks/%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    expectProblem(res, 400, "invalid_request");
    expect(res.text).not.toContain("<script>");
  });
});

describe("percent-encoded traversal never reaches another upstream path", () => {
  const invalid = [400, "invalid_request"] as const;
  it.each([
    ["/v1/tags/..%2f..%2fusers%2fme/tracks", invalid],
    ["/v1/tags/%2E%2E%2Fartists/albums", invalid],
    ["/v1/tags/dark%5c..%5cusers/tracks", invalid],
    ["/v1/tags/%252e%252e%252fusers/tracks", invalid],
    ["/v1/tags/dark%2ftracks%3fx=1/tracks", invalid],
    ["/v1/tracks/1%2f..%2f..%2fusers%2fme", invalid],
    // The URL parser makes this /v1/, which is no route.
    ["/v1/tracks/%2e%2e", [404, "not_found"]],
    ["/v1/artists/1%23/albums", invalid],
    ["/v1/users/1%3Fwith=email", invalid],
  ] as const)("GET %s is refused with no upstream request", async (path, [status, code]) => {
    expectProblem(await call(path), status, code);
    expect(upstreamPaths()).toEqual([]);
  });

  // WHATWG URL parsing resolves "..", and "%2e%2e" too, before the Worker sees the path;
  // whatever route the result names is then served through its own allowlisted template.
  it.each([
    ["/v1/tracks/../albums/1", "/albums/1"],
    ["/v1/tags/%2e%2e/tracks", "/tracks"],
    ["/v1/tags/x/%2E%2E/%2e%2e/users/3", "/users/3"],
  ])("a dot-segment path %s resolves to an allowlisted route only (%s)", async (path, upstream) => {
    const res = await call(path);
    expect(res.status).toBe(200);
    expect(upstreamPaths()).toEqual([upstream]);
  });

  it("an encoded space in a tag is passed as one encoded segment", async () => {
    await call("/v1/tags/lo%20fi/tracks");
    expect(fake.requests[0]?.path).toBe("/api/v1/tags/lo%20fi/tracks");
  });
});

describe("canonical parameters", () => {
  it(`clamps per_page to ${DOCUMENTED_MAX_PER_PAGE}`, async () => {
    const res = await call("/v1/tracks?per_page=500");
    expect(res.status).toBe(200);
    expect(fake.requests[0]?.query.per_page).toBe(String(DOCUMENTED_MAX_PER_PAGE));
    expect(res.json().pagination.per_page).toBe(DOCUMENTED_MAX_PER_PAGE);
  });

  it("accepts perPage on routes whose BeatPass name is per_page, and vice versa", async () => {
    await call("/v1/albums?perPage=4");
    await call("/v1/artists/3/albums?per_page=4");
    expect(fake.requests.map((r) => r.query)).toEqual([
      { page: "1", per_page: "4" },
      { page: "1", perPage: "4" },
    ]);
  });

  it("drops unknown query parameters instead of forwarding them", async () => {
    const res = await call("/v1/tracks/5?token=x&with=tags&callback=evil&include=private");
    expect(res.status).toBe(200);
    expect(fake.requests[0]?.query).toEqual({ with: "tags" });
  });

  it("sorts and deduplicates `with`", async () => {
    await call("/v1/tracks/5?with=tags,album,tags");
    expect(fake.requests[0]?.query).toEqual({ with: "album,tags" });
  });

  it("clamps the search limit and trims the query", async () => {
    await call("/v1/search?query=%20night%20&limit=500");
    expect(fake.requests[0]?.query).toEqual({ query: "night", limit: "20" });
  });
});
